// A tiny DOM builder. Text is always set as text (never parsed as HTML), so user data is safe.
//
//   h("button", { type: "button", i18n: "auth.sign_in", onclick: go })
//
// Translation props: i18n → data-i18n (text), i18nVars → data-i18n-vars (JSON), and
// i18nPlaceholder / i18nAriaLabel / i18nTitle … → data-i18n-placeholder / data-i18n-aria-label …
// (translated by i18n.translateDom).

const SVG_NS = "http://www.w3.org/2000/svg";

function kebab(name) {
  return name.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`);
}

function setProp(element, name, value) {
  if (value === undefined || value === null || value === false) return;
  if (name === "i18n") {
    element.setAttribute("data-i18n", value);
  } else if (name === "i18nVars") {
    element.setAttribute("data-i18n-vars", JSON.stringify(value));
  } else if (name.startsWith("i18n")) {
    element.setAttribute(`data-i18n-${kebab(name.slice(4)).replace(/^-/, "")}`, value);
  } else if (name.startsWith("on") && typeof value === "function") {
    element.addEventListener(name.slice(2).toLowerCase(), value);
  } else if (name === "class") {
    element.className = value;
  } else if (name === "text") {
    element.textContent = value;
  } else {
    element.setAttribute(name, value === true ? "" : String(value));
  }
}

export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) setProp(element, name, value);
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
}

// Decorative icons (24×24, stroked), hidden from assistive technology.
const ICONS = {
  roulette: ["M3 7a2 2 0 0 1 2-2h9a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z", "M16 10l5-3v10l-5-3"],
  messenger: ["M4 5h16v11H9l-5 4z", "M8 9h8", "M8 12h5"],
  user: ["M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8z", "M4 21a8 8 0 0 1 16 0"],
  globe: ["M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z", "M3 12h18", "M12 3c3 3.5 3 14.5 0 18", "M12 3c-3 3.5-3 14.5 0 18"],
};

export function icon(name, className = "icon") {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", className);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  for (const d of ICONS[name] ?? []) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

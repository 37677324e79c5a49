// The messenger's decorative icons (24×24, stroked like ../dom.js's), hidden from assistive
// technology: the buttons they sit in carry the label.

const SVG_NS = "http://www.w3.org/2000/svg";

const PATHS = {
  plus: ["M12 5v14", "M5 12h14"],
  search: ["M11 4a7 7 0 1 0 0 14 7 7 0 0 0 0-14z", "M20 20l-4-4"],
  info: ["M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z", "M12 11v6", "M12 7.5v.5"],
  more: ["M12 5v.5", "M12 12v.5", "M12 19v.5"],
  dots: ["M5 12h.5", "M12 12h.5", "M19 12h.5"],
  back: ["M15 5l-7 7 7 7"],
  close: ["M6 6l12 12", "M18 6L6 18"],
  pin: ["M9 4h6", "M10 4v6l-3 4h10l-3-4V4", "M12 14v6"],
  down: ["M12 5v14", "M6 13l6 6 6-6"],
  chat: ["M4 5h16v11H9l-5 4z", "M8 9h8", "M8 12h5"],
  eye: ["M2 12s3.5-6 10-6 10 6 10 6-3.5 6-10 6S2 12 2 12z", "M12 9.5a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5z"],
  muted: ["M6 16V11a6 6 0 0 1 9.5-4.9", "M18 11v5l2 2H8", "M10 20a2 2 0 0 0 4 0", "M4 4l16 16"],
  send: ["M4 12l16-8-6 16-2-7z", "M12 13l8-9"],
};

export function svgIcon(name, className = "icon") {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", className);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  for (const d of PATHS[name] ?? []) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

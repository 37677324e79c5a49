// Modal dialogs (native <dialog>: focus is trapped, Esc closes) and a small popup menu for
// message actions (arrow keys move, Esc closes and gives focus back).

import { h } from "../dom.js";
import { translateDom } from "../i18n.js";
import { svgIcon } from "./icons.js";

/**
 * Show a modal with heading `title` (i18n key) and `body` nodes; returns { dialog, close }.
 * `onClose` runs once when it closes (Esc, the close button, or close()).
 */
export function openModal({ title, titleVars, body, className = "", onClose = () => {}, focusField = true }) {
  const headingId = `m-modal-${Math.random().toString(36).slice(2)}`;
  const dialog = h(
    "dialog",
    { class: `m-modal ${className}`.trim(), "aria-labelledby": headingId },
    h(
      "div",
      { class: "m-modal-head" },
      h("h2", { id: headingId, tabindex: "-1", i18n: title, i18nVars: titleVars }),
      h("button", {
        type: "button",
        class: "button ghost icon-button",
        i18nAriaLabel: "messenger.close",
        onclick: () => close(),
      }, svgIcon("close")),
    ),
    h("div", { class: "m-modal-body" }, body),
  );
  let closed = false;
  const previous = document.activeElement;
  function close() {
    if (closed) return;
    closed = true;
    if (dialog.open) dialog.close();
    dialog.remove();
    onClose();
    if (previous instanceof HTMLElement && previous.isConnected) previous.focus();
  }
  dialog.addEventListener("close", close);
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) close(); // a click on the backdrop
  });
  translateDom(dialog);
  document.body.append(dialog);
  dialog.showModal();
  const first = focusField ? dialog.querySelector("[autofocus], input, textarea, select") : null;
  (first ?? dialog.querySelector("h2")).focus();
  return { dialog, close };
}

let openMenu = null;

export function closeMenu() {
  openMenu?.close();
}

/**
 * A popup menu next to `anchor`. `items`: nodes (buttons get role=menuitem); a button's click runs
 * its handler and closes the menu.
 */
export function showMenu(anchor, items, { label } = {}) {
  closeMenu();
  const menu = h("div", { class: "m-menu", role: "menu", i18nAriaLabel: label }, items);
  const buttons = () => [...menu.querySelectorAll("button:not([disabled])")];
  for (const button of menu.querySelectorAll("button")) {
    if (!button.getAttribute("role")) button.setAttribute("role", "menuitem");
    button.setAttribute("tabindex", "-1");
    button.addEventListener("click", () => queueMicrotask(close));
  }
  function onKey(event) {
    const list = buttons();
    const index = list.indexOf(document.activeElement);
    const horizontal = document.activeElement?.closest(".m-menu-reactions");
    const rtl = document.documentElement.dir === "rtl";
    let next = null;
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close();
      return;
    }
    if (event.key === "ArrowDown") next = index + 1;
    else if (event.key === "ArrowUp") next = index - 1;
    else if (horizontal && event.key === "ArrowRight") next = index + (rtl ? -1 : 1);
    else if (horizontal && event.key === "ArrowLeft") next = index + (rtl ? 1 : -1);
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = list.length - 1;
    else if (event.key === "Tab") {
      close();
      return;
    }
    if (next !== null) {
      event.preventDefault();
      list[(next + list.length) % list.length]?.focus();
    }
  }
  function onOutside(event) {
    if (!menu.contains(event.target) && event.target !== anchor) close();
  }
  function close() {
    if (openMenu !== handle) return;
    openMenu = null;
    menu.remove();
    document.removeEventListener("pointerdown", onOutside, true);
    window.removeEventListener("resize", close);
    anchor.setAttribute("aria-expanded", "false");
    if (menu.contains(document.activeElement) || document.activeElement === document.body) anchor.focus();
  }
  const handle = { close };
  openMenu = handle;
  menu.addEventListener("keydown", onKey);
  translateDom(menu);
  (anchor.closest("dialog") ?? document.body).append(menu);
  // Place it under the anchor, aligned to the anchor's inline end, inside the viewport.
  const rect = anchor.getBoundingClientRect();
  const width = menu.offsetWidth;
  const height = menu.offsetHeight;
  const rtl = document.documentElement.dir === "rtl";
  let x = rtl ? rect.left : rect.right - width;
  x = Math.max(8, Math.min(x, window.innerWidth - width - 8));
  let y = rect.bottom + 4;
  if (y + height > window.innerHeight - 8) y = Math.max(8, rect.top - height - 4);
  // Screen coordinates are physical: the menu is placed from the anchor's rectangle.
  menu.style.left = `${x}px`;
  menu.style.top = `${y}px`;
  anchor.setAttribute("aria-expanded", "true");
  document.addEventListener("pointerdown", onOutside, true);
  window.addEventListener("resize", close);
  buttons()[0]?.focus();
  return handle;
}

/** A section of a modal that opens and closes (its heading is the summary). */
export function disclosure(titleKey, children, { open = false, hidden = false, testId = null } = {}) {
  return h(
    "details",
    { class: "m-info-section", open, hidden, "data-testid": testId },
    h("summary", {}, h("h3", { i18n: titleKey })),
    h("div", { class: "m-info-content" }, children),
  );
}

// The rules and the age confirmation, asked once before the first Start and remembered on this
// device. A modal <dialog>: Escape or Cancel closes it without starting.

import { h } from "../dom.js";
import { translateDom } from "../i18n.js";

const STORAGE_KEY = "palaver.roulette.terms";
const TERMS_VERSION = "1"; // bump when the rules change: everyone confirms again
const RULES = ["roulette.terms.rule_age", "roulette.terms.rule_respect", "roulette.terms.rule_nudity", "roulette.terms.rule_report"];

export function termsAccepted() {
  try {
    return localStorage.getItem(STORAGE_KEY) === TERMS_VERSION;
  } catch {
    return false;
  }
}

function remember() {
  try {
    localStorage.setItem(STORAGE_KEY, TERMS_VERSION);
  } catch {
    // Without storage we ask again next time.
  }
}

/** Ask for confirmation; resolves true once accepted (and remembered), false if dismissed. */
export function confirmTerms(host) {
  if (termsAccepted()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const box = h("input", { type: "checkbox", id: "roulette-terms-confirm", name: "confirm", required: true });
    const alert = h("p", { class: "alert", role: "alert", hidden: true, i18n: "roulette.terms.must_confirm" });
    const form = h(
      "form",
      { method: "dialog", class: "stack", novalidate: true },
      h("h2", { id: "roulette-terms-title", i18n: "roulette.terms.title" }),
      h("p", { i18n: "roulette.terms.intro" }),
      h("ul", { class: "rules" }, RULES.map((key) => h("li", { i18n: key }))),
      h("div", { class: "check" }, box, h("label", { for: "roulette-terms-confirm", i18n: "roulette.terms.confirm" })),
      alert,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "submit", value: "accept", class: "button primary", i18n: "roulette.terms.accept" }),
        h("button", { type: "submit", value: "cancel", class: "button ghost", formnovalidate: true, i18n: "roulette.terms.cancel" }),
      ),
    );
    const dialog = h("dialog", { class: "terms-dialog", "aria-labelledby": "roulette-terms-title" }, form);
    form.addEventListener("submit", (event) => {
      if (event.submitter?.value === "accept" && !box.checked) {
        event.preventDefault();
        alert.hidden = false;
        box.focus();
      }
    });
    dialog.addEventListener("close", () => {
      const accepted = dialog.returnValue === "accept" && box.checked;
      if (accepted) remember();
      dialog.remove();
      resolve(accepted);
    });
    translateDom(dialog);
    host.append(dialog);
    dialog.showModal();
  });
}

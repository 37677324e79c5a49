// The Report dialog: why (one of the server's reasons) and an optional note. A modal <dialog>:
// Escape or Cancel closes it without reporting.

import { h } from "../dom.js";
import { translateDom } from "../i18n.js";

export const REPORT_REASONS = ["nudity", "harassment", "spam", "underage", "other"];
export const MAX_NOTE_CHARS = 500; // the server's limit

/** Ask why; resolves { reason, note } to send, or null when cancelled. */
export function askReport(host) {
  return new Promise((resolve) => {
    const radios = REPORT_REASONS.map((reason, index) =>
      h(
        "div",
        { class: "check" },
        h("input", {
          type: "radio",
          id: `roulette-report-${reason}`,
          name: "reason",
          value: reason,
          required: index === 0,
        }),
        h("label", { for: `roulette-report-${reason}`, i18n: `roulette.report.reason.${reason}` }),
      ),
    );
    const note = h("textarea", {
      id: "roulette-report-note",
      name: "note",
      rows: 3,
      maxlength: MAX_NOTE_CHARS,
      dir: "auto",
      "aria-describedby": "roulette-report-note-hint",
    });
    const alert = h("p", { class: "alert", role: "alert", hidden: true, i18n: "roulette.report.choose_reason" });
    const form = h(
      "form",
      { method: "dialog", class: "stack", novalidate: true },
      h("h2", { id: "roulette-report-title", i18n: "roulette.report.title" }),
      h("p", { class: "hint", i18n: "roulette.report.intro" }),
      h("fieldset", { class: "checks" }, h("legend", { i18n: "roulette.report.reason_label" }), radios),
      h(
        "div",
        { class: "field" },
        h("label", { for: "roulette-report-note", i18n: "roulette.report.note" }),
        note,
        h("p", { class: "hint", id: "roulette-report-note-hint", i18n: "roulette.report.note_hint", i18nVars: { max: MAX_NOTE_CHARS } }),
      ),
      alert,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "submit", value: "send", class: "button danger", i18n: "roulette.report.send" }),
        h("button", { type: "submit", value: "cancel", class: "button ghost", formnovalidate: true, i18n: "roulette.report.cancel" }),
      ),
    );
    const dialog = h("dialog", { class: "terms-dialog report-dialog", "aria-labelledby": "roulette-report-title" }, form);
    const chosen = () => form.querySelector("input[name=reason]:checked")?.value ?? null;
    form.addEventListener("submit", (event) => {
      if (event.submitter?.value === "send" && !chosen()) {
        event.preventDefault();
        alert.hidden = false;
        radios[0].querySelector("input").focus();
      }
    });
    dialog.addEventListener("close", () => {
      const reason = chosen();
      const result = dialog.returnValue === "send" && reason ? { reason, note: note.value.trim() } : null;
      dialog.remove();
      resolve(result);
    });
    translateDom(dialog);
    host.append(dialog);
    dialog.showModal();
  });
}

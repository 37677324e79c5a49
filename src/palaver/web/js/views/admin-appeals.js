// Moderation console, Appeals tab: what the banned person wrote, their ban, and a decision —
// Accept (lifts the ban) or Reject — with a note they will read.

import * as api from "../api.js";
import { h } from "../dom.js";
import { act, banFacts, person, queue, time } from "./admin-common.js";

export function appealsTab({ message, signal }) {
  function item(appeal, refresh) {
    const li = h("li", { class: "mod-item", "data-testid": "appeal-item", "data-id": appeal.id, "data-state": appeal.state });
    const noteId = `appeal-note-${appeal.id}`;
    const note = h("textarea", { id: noteId, name: "note", rows: 2, maxlength: 500, dir: "auto" });
    const decide = (decision, done) =>
      act(li, message, () => api.admin.decideAppeal(appeal.id, { decision, note: note.value.trim() }), { done, refresh });
    const accept = h("button", { type: "button", class: "button small primary", i18n: "admin.action.accept", onclick: () => decide("accept", "admin.done.accepted") });
    const reject = h("button", { type: "button", class: "button small danger", i18n: "admin.action.reject", onclick: () => decide("reject", "admin.done.rejected") });
    // Element.append would write a null as the text "null": leave the absent parts out.
    li.append(
      ...[
        h("p", { class: "mod-item-title" }, person(appeal.user), " · ", time(appeal.created_at), " · ",
          h("span", { i18n: `admin.appeal_state.${appeal.state}` })),
        h("blockquote", { class: "appeal-text" }, h("bdi", { dir: "auto", text: appeal.text })),
        appeal.ban ? banFacts(appeal.ban) : null,
        appeal.state === "open"
          ? h("div", { class: "stack" },
              h("div", { class: "field" }, h("label", { for: noteId, i18n: "admin.appeal.note" }), note),
              h("div", { class: "actions" }, accept, reject))
          : appeal.decision_note
            ? h("p", {}, h("span", { i18n: "banned.appeal.decision_note" }), " ", h("bdi", { dir: "auto", text: appeal.decision_note }))
            : null,
      ].filter(Boolean),
    );
    return li;
  }
  return queue({
    name: "appeals",
    states: ["open", "all"],
    load: async (options) => (await api.admin.appeals(options)).appeals ?? [],
    item,
    empty: "admin.empty.appeals",
    message,
    signal,
  }).node;
}

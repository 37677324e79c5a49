// Moderation console, Bans tab: active bans and those held for review, each with the person and
// the ban's facts; Unban (with an optional note), and a new end: -1 h / +1 h / +1 day from the
// current end, a chosen date and time, or (admins only) indefinitely.

import * as api from "../api.js";
import { h } from "../dom.js";
import { act, askDialog, banFacts, dialogField, person, queue } from "./admin-common.js";

const HOUR = 3600;
const PRESETS = [
  ["minus_1h", -HOUR],
  ["plus_1h", HOUR],
  ["plus_1d", 24 * HOUR],
];

/** A datetime-local value (the browser's time zone) for unix `seconds`. */
function localInput(seconds) {
  const date = new Date(seconds * 1000);
  date.setMinutes(date.getMinutes() - date.getTimezoneOffset());
  return date.toISOString().slice(0, 16);
}

export function bansTab({ host, isAdmin, message, signal }) {
  function item(ban, refresh) {
    const li = h("li", { class: "mod-item", "data-testid": "ban-item", "data-id": ban.id, "data-user-id": ban.user?.id, "data-state": ban.state });
    const live = ban.state === "active" || ban.state === "review";
    const unban = h("button", { type: "button", class: "button small primary", i18n: "admin.action.unban" });
    unban.addEventListener("click", async () => {
      const values = await askDialog(host, {
        title: "admin.unban.dialog_title",
        content: [
          h("p", {}, h("span", { i18n: "admin.ban.who" }), " ", person(ban.user)),
          dialogField("admin.unban.note", h("textarea", { name: "note", rows: 2, maxlength: 500, dir: "auto" })),
        ],
        submit: "admin.action.unban",
      });
      if (!values) return;
      await act(li, message, () => api.admin.unban(ban.id, values.note.trim()), { done: "admin.done.unbanned", refresh });
    });

    const adjust = (endsAt) => act(li, message, () => api.admin.adjust(ban.id, endsAt), { done: "admin.done.adjusted", refresh });
    const base = () => (ban.ends_at === null ? Date.now() / 1000 : Number(ban.ends_at));
    const presets = PRESETS.map(([name, delta]) =>
      h("button", { type: "button", class: "button small", i18n: `admin.adjust.${name}`, onclick: () => adjust(Math.round(base() + delta)) }));
    const endInput = h("input", { type: "datetime-local", name: "ends_at", value: ban.ends_at === null ? "" : localInput(Number(ban.ends_at)) });
    const endId = `ban-end-${ban.id}`;
    endInput.id = endId;
    const setEnd = h("button", { type: "button", class: "button small", i18n: "admin.adjust.set" });
    setEnd.addEventListener("click", () => {
      const when = new Date(endInput.value).getTime();
      if (!Number.isFinite(when)) {
        endInput.setAttribute("aria-invalid", "true");
        endInput.focus();
        return;
      }
      endInput.removeAttribute("aria-invalid");
      adjust(Math.round(when / 1000));
    });
    const forever = isAdmin && ban.ends_at !== null
      ? h("button", { type: "button", class: "button small danger", i18n: "admin.adjust.indefinite", onclick: () => adjust(null) })
      : null;

    // Element.append would write a null as the text "null": leave the absent parts out.
    li.append(
      ...[
        h("p", { class: "mod-item-title" }, person(ban.user)),
        banFacts(ban),
        ban.appeal ? h("p", { class: "hint", i18n: `admin.ban_appeal.${ban.appeal.state}` }) : null,
        live
          ? h("div", { class: "mod-adjust" },
              h("div", { class: "actions" }, unban, ...presets, forever),
              h("div", { class: "actions" },
                h("label", { for: endId, i18n: "admin.adjust.new_end" }), endInput, setEnd))
          : null,
      ].filter(Boolean),
    );
    return li;
  }
  return queue({
    name: "bans",
    states: ["active", "review", "all"],
    load: async (options) => (await api.admin.bans(options)).bans ?? [],
    item,
    empty: "admin.empty.bans",
    message,
    signal,
  }).node;
}

// Moderation console, Audit log tab (admins only): every moderator action and automatic ban —
// when, who (or the system), what, on whom, and the details as recorded.

import * as api from "../api.js";
import { h } from "../dom.js";
import { person, queue, time } from "./admin-common.js";

export function auditTab({ message, signal }) {
  function item(entry) {
    const details = entry.details && Object.keys(entry.details).length ? JSON.stringify(entry.details) : "";
    return h(
      "li",
      { class: "mod-item mod-audit", "data-testid": "audit-item", "data-id": entry.id, "data-action": entry.action },
      h("p", { class: "mod-item-title" }, time(entry.created_at), " · ", person(entry.actor), " · ",
        h("code", { class: "mod-action", text: entry.action })),
      entry.target_user_id
        ? h("p", { class: "meta" }, h("span", { i18n: "admin.audit.target_user" }), " ", h("span", { text: `#${entry.target_user_id}` }))
        : null,
      details ? h("pre", { class: "mod-details", dir: "ltr", text: details }) : null,
    );
  }
  return queue({
    name: "audit",
    states: ["all"],
    load: async ({ before, signal: aborted }) => (await api.admin.audit({ before, signal: aborted })).entries ?? [],
    item,
    empty: "admin.empty.audit",
    message,
    signal,
  }).node;
}

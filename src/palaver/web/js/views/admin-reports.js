// Moderation console, Reports tab: the queue of reports (open by default) — who reported whom,
// why, the note and when — with Dismiss and Ban (the reported person, for a chosen time).

import * as api from "../api.js";
import { h } from "../dom.js";
import { act, askBan, facts, person, queue, time } from "./admin-common.js";

export function reportsTab({ host, isAdmin, message, signal }) {
  function item(report, refresh) {
    const li = h("li", { class: "mod-item", "data-testid": "report-item", "data-id": report.id, "data-state": report.state });
    const dismiss = h("button", { type: "button", class: "button small", i18n: "admin.action.dismiss" });
    const ban = h("button", { type: "button", class: "button small danger", i18n: "admin.action.ban_user" });
    dismiss.addEventListener("click", () =>
      act(li, message, () => api.admin.dismissReport(report.id), { done: "admin.done.dismissed", refresh }));
    ban.addEventListener("click", async () => {
      const choice = await askBan(host, { user: report.reported, isAdmin, reasonText: report.note ?? "" });
      if (!choice) return;
      await act(li, message, () => api.admin.ban({ userId: report.reported.id, ...choice }), { done: "admin.done.banned", refresh });
    });
    // Element.append would write a null as the text "null": leave the absent parts out.
    li.append(
      ...[
        facts([
          ["admin.report.reported", person(report.reported)],
          ["admin.report.reporter", person(report.reporter)],
          ["admin.report.reason", h("span", { i18n: `roulette.report.reason.${report.reason}` })],
          report.note ? ["admin.report.note", h("bdi", { dir: "auto", text: report.note })] : null,
          ["admin.report.time", time(report.created_at)],
          ["admin.report.state", h("span", { i18n: `admin.item_state.${report.state}` })],
        ]),
        report.state === "open" ? h("div", { class: "actions" }, dismiss, ban) : null,
      ].filter(Boolean),
    );
    return li;
  }
  return queue({
    name: "reports",
    states: ["open", "all"],
    load: async (options) => (await api.admin.reports(options)).reports ?? [],
    item,
    empty: "admin.empty.reports",
    message,
    signal,
  }).node;
}

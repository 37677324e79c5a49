// Moderation console, Flagged frames tab: snapshots the classifier scored at or above the
// threshold — the image (fetched with the session's token, shown from a blob URL), the score and
// the person — with Dismiss and Ban. Images are evidence: never cached, and the blob URLs are
// released when the list changes or the page is left.

import * as api from "../api.js";
import { h } from "../dom.js";
import { currentLanguage, translateDom } from "../i18n.js";
import { act, askBan, facts, person, queue, time } from "./admin-common.js";

export function framesTab({ host, isAdmin, message, signal }) {
  const urls = new Set();
  const release = () => {
    for (const url of urls) URL.revokeObjectURL(url);
    urls.clear();
  };
  signal.addEventListener("abort", release);

  function image(frame) {
    const box = h("figure", { class: "mod-frame" }, h("p", { class: "hint", i18n: "admin.frame.loading" }));
    api.admin
      .frameImage(frame.id, { signal })
      .then((blob) => {
        const url = URL.createObjectURL(blob);
        urls.add(url);
        const img = h("img", { src: url, width: 320, height: 240, i18nAlt: "admin.frame.alt", i18nVars: { name: frame.user?.display_name ?? "" } });
        box.replaceChildren(img);
      })
      .catch((error) => {
        if (error?.name === "AbortError") return;
        const key = error?.code === "evidence_purged" ? "admin.frame.purged" : "admin.frame.unavailable";
        box.replaceChildren(h("p", { class: "hint", i18n: key }));
      })
      .finally(() => translateDom(box));
    return box;
  }

  function item(frame, refresh) {
    const li = h("li", { class: "mod-item mod-frame-item", "data-testid": "frame-item", "data-id": frame.id, "data-state": frame.state });
    const dismiss = h("button", { type: "button", class: "button small", i18n: "admin.action.dismiss" });
    const ban = h("button", { type: "button", class: "button small danger", i18n: "admin.action.ban_user" });
    const reload = () => {
      release();
      refresh();
    };
    dismiss.addEventListener("click", () =>
      act(li, message, () => api.admin.dismissFrame(frame.id), { done: "admin.done.dismissed", refresh: reload }));
    ban.addEventListener("click", async () => {
      const choice = await askBan(host, { user: frame.user, isAdmin });
      if (!choice) return;
      await act(li, message, () => api.admin.ban({ userId: frame.user.id, ...choice }), { done: "admin.done.banned", refresh: reload });
    });
    // Element.append would write a null as the text "null": leave the absent parts out.
    li.append(
      ...[
        image(frame),
        h("div", { class: "mod-item-body" },
          facts([
            ["admin.frame.user", person(frame.user)],
            ["admin.frame.score", h("span", { text: new Intl.NumberFormat(currentLanguage(), { style: "percent", maximumFractionDigits: 1 }).format(frame.score) })],
            ["admin.frame.time", time(frame.created_at)],
            ["admin.report.state", h("span", { i18n: `admin.item_state.${frame.state}` })],
          ]),
          frame.state === "open" ? h("div", { class: "actions" }, dismiss, ban) : null),
      ].filter(Boolean),
    );
    return li;
  }
  return queue({
    name: "frames",
    states: ["open", "all"],
    load: async (options) => (await api.admin.frames(options)).frames ?? [],
    item,
    empty: "admin.empty.frames",
    message,
    signal,
  }).node;
}

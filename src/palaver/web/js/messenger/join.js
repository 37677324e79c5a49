// /messenger/join/<code>: where an invite link leads, and joining (or asking to join) there.

import { h } from "../dom.js";
import { translateDom } from "../i18n.js";
import * as mapi from "./api.js";
import { avatar, errorKey } from "./format.js";

/** A panel for invite `code`; `opened(chat)` is called after joining (or if already a member). */
export function joinPanel(code, { opened }) {
  const body = h("div", { class: "m-join-body" }, h("p", { class: "hint", i18n: "shell.loading" }));
  const node = h(
    "section",
    { class: "m-join", "aria-labelledby": "m-join-title", "data-testid": "join-panel" },
    h("h2", { id: "m-join-title", tabindex: "-1", i18n: "messenger.invite_title_heading" }),
    body,
  );

  function show(...children) {
    body.replaceChildren(...children);
    translateDom(body);
  }

  async function load() {
    let preview;
    try {
      preview = await mapi.invites.preview(code);
    } catch (error) {
      show(h("p", { class: "alert", role: "alert", i18n: errorKey(error) }), h("a", { href: "/messenger", class: "button", i18n: "messenger.back_to_chats" }));
      return;
    }
    const { chat } = preview;
    const status = h("p", { role: "status", class: "status" });
    const action = preview.already_member
      ? h("button", { type: "button", class: "button primary", i18n: "messenger.open_chat", onclick: () => opened(chat) })
      : h("button", {
          type: "button",
          class: "button primary",
          "data-testid": "join-button",
          i18n: preview.requires_approval ? "messenger.request_to_join" : chat.kind === "channel" ? "messenger.join_channel" : "messenger.join_group",
          onclick: async (event) => {
            const button = event.currentTarget;
            button.disabled = true;
            try {
              const result = await mapi.invites.join(code);
              if (result.status === "joined") {
                opened(result.chat);
                return;
              }
              button.hidden = true;
              status.className = "status";
              status.setAttribute("data-i18n", "messenger.request_sent");
            } catch (error) {
              status.className = "alert";
              status.setAttribute("data-i18n", errorKey(error));
              button.disabled = false;
            }
            translateDom(status);
          },
        });
    show(
      h(
        "div",
        { class: "m-info-head" },
        avatar(chat.title, chat.id, "large"),
        h(
          "div",
          {},
          h("p", { class: "m-info-title" }, h("bdi", { text: chat.title })),
          h("p", { class: "hint", i18n: `messenger.kind.${chat.kind}` }),
          h("p", { class: "hint", i18n: chat.kind === "channel" ? "messenger.subscribers_count" : "messenger.members_count", i18nVars: { count: chat.member_count } }),
        ),
      ),
      chat.about ? h("p", { class: "m-info-about", dir: "auto", text: chat.about }) : null,
      preview.requires_approval && !preview.already_member ? h("p", { class: "hint", i18n: "messenger.invite_needs_approval" }) : null,
      h("div", { class: "actions" }, action, h("a", { href: "/messenger", class: "button ghost", i18n: "messenger.cancel" })),
      status,
    );
  }

  load();
  return node;
}

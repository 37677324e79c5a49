// Bars above a chat's messages: the pinned message, and search within the chat.

import { h } from "../dom.js";
import { translateDom } from "../i18n.js";
import * as mapi from "./api.js";
import { errorKey, preview, shortTime, userName } from "./format.js";
import { svgIcon } from "./icons.js";

/** The pinned message bar; update({ chat, perms }) shows or hides it. */
export function createPinnedBar({ store, onJump, onUnpin }) {
  const text = h("bdi", { class: "m-pinned-text" });
  const open = h(
    "button",
    { type: "button", class: "m-pinned-open", "data-testid": "pinned-bar" },
    h("span", { class: "m-pinned-label", i18n: "messenger.pinned_message" }),
    text,
  );
  const unpin = h("button", {
    type: "button",
    class: "button ghost icon-button",
    i18nAriaLabel: "messenger.unpin",
    i18nTitle: "messenger.unpin",
  }, svgIcon("close"));
  const node = h("div", { class: "m-pinned", hidden: true }, svgIcon("pin", "icon m-pinned-icon"), open, unpin);
  let current = { chatId: null, msgId: 0 };
  open.addEventListener("click", () => current.msgId && onJump(current.msgId));
  unpin.addEventListener("click", () => onUnpin());

  async function update({ chat, perms }) {
    const msgId = chat?.pinned_msg_id ?? 0;
    current = { chatId: chat?.id ?? null, msgId };
    node.hidden = !msgId;
    unpin.hidden = !perms?.pin;
    if (!msgId) return;
    let message = store.message(chat.id, msgId);
    text.textContent = message ? preview(message, 90) : "…";
    if (!message) {
      try {
        const page = await mapi.messages.history(chat.id, { offsetId: msgId, direction: "newer", limit: 1 });
        message = page.messages.find((m) => m.id === msgId);
      } catch {
        message = null;
      }
      if (current.chatId === chat.id && current.msgId === msgId) text.textContent = message ? preview(message, 90) : "";
    }
  }

  return { node, update };
}

/** Search within the open chat: a field and its results; a result jumps to its message. */
export function createChatSearch({ store, onJump }) {
  const input = h("input", {
    type: "search",
    id: "m-chat-search",
    autocomplete: "off",
    dir: "auto",
    i18nPlaceholder: "messenger.search_in_chat_placeholder",
  });
  const results = h("ul", { class: "m-chat-results", role: "list" });
  const status = h("p", { class: "hint", role: "status" });
  const node = h(
    "div",
    { class: "m-chat-search", role: "search", hidden: true },
    h("label", { for: "m-chat-search", class: "visually-hidden", i18n: "messenger.search_in_chat" }),
    input,
    status,
    results,
  );
  let chatId = null;
  let timer = null;
  let controller = null;

  async function run(query) {
    controller?.abort();
    const mine = new AbortController();
    controller = mine;
    try {
      const found = await mapi.search.messages(query, { chatId, limit: 30, signal: mine.signal });
      if (mine.signal.aborted) return;
      results.replaceChildren(
        ...found.messages.map((message) =>
          h(
            "li",
            {},
            h(
              "button",
              { type: "button", class: "m-chat-result", onclick: () => onJump(message.id) },
              h("span", { class: "m-chat-result-head" }, h("bdi", { text: message.sender_id ? userName(store, message.sender_id) : "" }), h("time", { text: shortTime(message.date) })),
              h("bdi", { class: "m-chat-result-text", text: preview(message, 120) }),
            ),
          ),
        ),
      );
      status.setAttribute("data-i18n", found.messages.length ? "messenger.results_count" : "messenger.no_results");
      status.setAttribute("data-i18n-vars", JSON.stringify({ count: found.messages.length }));
    } catch (error) {
      if (error?.name === "AbortError") return;
      status.setAttribute("data-i18n", errorKey(error));
    }
    translateDom(status);
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    const query = input.value.trim();
    if (!query) {
      controller?.abort();
      results.replaceChildren();
      status.textContent = "";
      status.removeAttribute("data-i18n");
      return;
    }
    timer = setTimeout(() => run(query), 250);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      hide();
    }
  });

  let onHide = () => {};
  function show(id, hidden) {
    chatId = id;
    onHide = hidden;
    node.hidden = false;
    input.focus();
  }
  function hide() {
    if (node.hidden) return;
    node.hidden = true;
    input.value = "";
    results.replaceChildren();
    status.textContent = "";
    onHide();
  }

  return { node, show, hide, isOpen: () => !node.hidden };
}

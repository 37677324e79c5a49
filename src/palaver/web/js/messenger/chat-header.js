// The open chat's header: back (narrow screens), avatar, title, and a line that says who is typing,
// how many members there are, or the peer's @username; search, info and a menu of chat actions.

import { h } from "../dom.js";
import { t, translateDom } from "../i18n.js";
import { avatar, chatTitle, userName } from "./format.js";
import { svgIcon } from "./icons.js";
import { showMenu } from "./modal.js";

function iconButton(icon, label, extra = {}) {
  return h("button", { type: "button", class: "button ghost icon-button", i18nAriaLabel: label, i18nTitle: label, ...extra }, svgIcon(icon));
}

function typingKey(kind, count) {
  if (kind === "private") return "messenger.typing";
  if (count === 1) return "messenger.typing_one";
  return count === 2 ? "messenger.typing_two" : "messenger.typing_many";
}

/** `current()`: the open chat's state; `onSearch()`, `onPin(chatId, pinned)`: header actions. */
export function createChatHeader({ store, controller, current, onSearch, onPin }) {
  const title = h("bdi", { class: "m-chat-title-text" });
  const heading = h("h2", { id: "m-chat-title", class: "m-chat-title", tabindex: "-1" }, title);
  const subtitle = h("p", { class: "m-chat-subtitle", "aria-live": "polite", "data-testid": "chat-subtitle" });
  const headAvatar = h("span", { class: "m-head-avatar" });
  const back = h("a", { href: "/messenger", class: "button ghost icon-button m-back", i18nAriaLabel: "messenger.back_to_chats" }, svgIcon("back"));
  const searchButton = iconButton("search", "messenger.search_in_chat", { "aria-expanded": "false" });
  const infoButton = iconButton("info", "messenger.chat_info", { "data-testid": "chat-info" });
  const moreButton = iconButton("more", "messenger.more_actions", { "aria-haspopup": "menu", "aria-expanded": "false" });
  const tools = h("div", { class: "m-chat-tools" }, searchButton, infoButton, moreButton);
  const node = h(
    "header",
    { class: "m-chat-head" },
    back,
    headAvatar,
    h("div", { class: "m-chat-heading" }, heading, subtitle),
    tools,
  );
  let typingTimer = null;

  back.addEventListener("click", (event) => {
    event.preventDefault();
    controller.open(null);
  });
  searchButton.addEventListener("click", () => current() && onSearch());
  infoButton.addEventListener("click", () => current() && controller.showInfo(current().chat.id));
  moreButton.addEventListener("click", () => {
    const open = current();
    if (!open) return;
    const { chat, dialog } = open;
    const item = (key, handler, cls = "m-menu-item") => h("button", { type: "button", class: cls, i18n: key, onclick: handler });
    const pinned = dialog?.membership?.pinned;
    const leavable = dialog && chat.kind !== "private" && dialog.membership?.status !== "owner";
    showMenu(
      moreButton,
      [
        dialog ? item(pinned ? "messenger.unpin_chat" : "messenger.pin_chat", () => onPin(chat.id, !pinned)) : null,
        item("messenger.search_in_chat", () => onSearch()),
        leavable
          ? item(chat.kind === "channel" ? "messenger.leave_channel" : "messenger.leave_group", () => controller.leave(chat), "m-menu-item danger")
          : null,
      ],
      { label: "messenger.more_actions" },
    );
  });

  function renderSubtitle(open) {
    const { chat, dialog } = open;
    const typingIds = store.typingIn(chat.id);
    clearTimeout(typingTimer);
    subtitle.classList.toggle("typing", typingIds.length > 0);
    if (typingIds.length) {
      const names = typingIds.map((id) => userName(store, id));
      subtitle.setAttribute("data-i18n", typingKey(chat.kind, names.length));
      subtitle.setAttribute("data-i18n-vars", JSON.stringify({ name: names[0], other: names[1] ?? "", count: names.length }));
      // Typing ends by itself when nobody says otherwise.
      typingTimer = setTimeout(() => current() === open && renderSubtitle(open), 1000);
    } else if (chat.kind === "private") {
      const username = dialog?.peer?.username;
      subtitle.removeAttribute("data-i18n");
      subtitle.removeAttribute("data-i18n-vars");
      subtitle.replaceChildren(store.isSavedMessages(chat) || !username ? "" : h("bdi", { dir: "ltr", text: `@${username}` }));
    } else {
      subtitle.setAttribute("data-i18n", chat.kind === "channel" ? "messenger.subscribers_count" : "messenger.members_count");
      subtitle.setAttribute("data-i18n-vars", JSON.stringify({ count: chat.member_count }));
    }
    translateDom(subtitle);
  }

  function render(open) {
    const { chat, dialog } = open;
    const name = chatTitle(store, chat, dialog?.peer);
    title.textContent = name;
    headAvatar.replaceChildren(avatar(name, chat.id));
    tools.hidden = false;
    infoButton.hidden = store.isSavedMessages(chat);
    renderSubtitle(open);
  }

  function say(titleText, line = "") {
    tools.hidden = true;
    title.textContent = titleText;
    headAvatar.replaceChildren();
    subtitle.removeAttribute("data-i18n");
    subtitle.textContent = line;
  }

  return {
    node,
    searchButton,
    render,
    renderSubtitle,
    loading: () => say(t("shell.loading")),
    failed: (key) => say(t("errors.title"), t(key)),
    stop: () => clearTimeout(typingTimer),
    focus: () => heading.focus({ preventScroll: true }),
  };
}

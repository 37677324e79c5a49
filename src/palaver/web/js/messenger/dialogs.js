// The sidebar: my dialogs (pinned first, then by last message; unread badges, drafts) and the
// search box, which finds chats by name, messages in my chats, people by username, and public
// channels and groups in the directory.

import { ApiError } from "../api.js";
import { h } from "../dom.js";
import { t, translateDom } from "../i18n.js";
import * as mapi from "./api.js";
import { avatar, chatTitle, errorKey, preview, shortTime, userName } from "./format.js";
import { svgIcon } from "./icons.js";

const USERNAME = /^@?([A-Za-z][A-Za-z0-9_]{2,31})$/;

export function createSidebar({ store, controller }) {
  const list = h("ul", { class: "m-dialogs", role: "list", "data-testid": "dialog-list" });
  const empty = h("p", { class: "m-empty hint", i18n: "messenger.no_chats", hidden: true });
  const more = h("button", {
    type: "button",
    class: "button ghost small m-more",
    i18n: "messenger.load_more_chats",
    hidden: true,
    onclick: () => controller.loadMoreDialogs(),
  });
  const results = h("div", { class: "m-results", hidden: true, "aria-live": "polite" });
  const searchInput = h("input", {
    type: "search",
    id: "m-search",
    class: "m-search-input",
    autocomplete: "off",
    i18nPlaceholder: "messenger.search_placeholder",
    dir: "auto",
  });
  const connection = h("p", { class: "m-connection", role: "status", hidden: true });
  const newMenuButton = h(
    "button",
    {
      type: "button",
      class: "button primary small",
      "aria-haspopup": "menu",
      "aria-expanded": "false",
      "data-testid": "new-chat",
      onclick: (event) => controller.showNewMenu(event.currentTarget),
    },
    svgIcon("plus"),
    h("span", { i18n: "messenger.new" }),
  );
  const node = h(
    "aside",
    { class: "m-sidebar", "aria-labelledby": "m-title" },
    h(
      "div",
      { class: "m-sidebar-head" },
      h("h1", { id: "m-title", tabindex: "-1", i18n: "nav.messenger" }),
      newMenuButton,
    ),
    h(
      "div",
      { class: "m-search", role: "search" },
      h("label", { for: "m-search", class: "visually-hidden", i18n: "messenger.search_label" }),
      searchInput,
    ),
    connection,
    h("nav", { class: "m-dialog-nav", i18nAriaLabel: "messenger.chats" }, list, empty, more),
    results,
  );

  let selected = null;
  const items = new Map(); // chatId → <li>

  function dialogItem(dialog) {
    const chat = dialog.chat;
    const title = chatTitle(store, chat, dialog.peer);
    const draft = dialog.membership?.draft?.text;
    const top = dialog.top;
    let line;
    if (draft && chat.id !== selected) {
      line = [h("span", { class: "m-draft-label", i18n: "messenger.draft_label" }), h("bdi", { class: "m-preview-text", text: preview({ text: draft }, 60) })];
    } else if (top) {
      const showSender = chat.kind !== "private" && chat.kind !== "channel" && top.sender_id;
      const mine = top.sender_id === store.me.id;
      line = [
        showSender || (mine && chat.kind === "private")
          ? h("span", { class: "m-preview-sender" }, h("bdi", { text: userName(store, top.sender_id) }), ":")
          : null,
        h("bdi", { class: "m-preview-text", text: preview(top, 70) }),
      ];
    } else {
      line = h("span", { class: "m-preview-text", i18n: chat.kind === "channel" ? "messenger.kind.channel" : "messenger.no_messages" });
    }
    const unread = dialog.unread > 0;
    const link = h(
      "a",
      {
        href: `/messenger/${chat.id}`,
        class: "m-dialog",
        "data-chat-id": chat.id,
        "aria-current": chat.id === selected ? "page" : null,
        onclick: (event) => {
          if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
          event.preventDefault();
          controller.open(chat.id);
        },
      },
      avatar(title, chat.id),
      h(
        "span",
        { class: "m-dialog-main" },
        h(
          "span",
          { class: "m-dialog-top" },
          h("bdi", { class: "m-dialog-title", text: title }),
          chat.kind === "channel" || chat.kind === "supergroup" || chat.kind === "group"
            ? h("span", { class: "visually-hidden", i18n: `messenger.kind.${chat.kind}` })
            : null,
          top ? h("time", { class: "m-dialog-time", text: shortTime(top.date) }) : null,
        ),
        h(
          "span",
          { class: "m-dialog-bottom" },
          h("span", { class: "m-dialog-preview" }, line),
          dialog.membership?.pinned
            ? h("span", { class: "m-pin-mark", i18nTitle: "messenger.pinned_chat" }, svgIcon("pin"), h("span", { class: "visually-hidden", i18n: "messenger.pinned_chat" }))
            : null,
          unread
            ? h(
                "span",
                { class: "m-unread", "data-testid": "unread-badge" },
                h("span", { "aria-hidden": "true", text: String(dialog.unread) }),
                h("span", { class: "visually-hidden", i18n: "messenger.unread_count", i18nVars: { count: dialog.unread } }),
              )
            : null,
        ),
      ),
    );
    return h("li", { class: unread ? "unread" : null }, link);
  }

  function render() {
    const dialogs = store.sortedDialogs();
    const nodes = [];
    items.clear();
    for (const dialog of dialogs) {
      const item = dialogItem(dialog);
      items.set(dialog.chat.id, item);
      nodes.push(item);
    }
    // Keep the focused dialog focused across a re-render.
    const focusedId = document.activeElement?.closest?.(".m-dialog")?.dataset.chatId;
    list.replaceChildren(...nodes);
    translateDom(list);
    if (focusedId && items.has(focusedId)) items.get(focusedId).querySelector("a").focus({ preventScroll: true });
    empty.hidden = dialogs.length > 0;
    more.hidden = store.dialogsComplete;
  }

  function select(chatId) {
    selected = chatId;
    for (const [id, item] of items) {
      const link = item.querySelector("a");
      if (id === chatId) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  function setConnection(state) {
    const key = state === "ready" ? null : state === "closed" ? "messenger.connection_closed" : "messenger.connecting";
    connection.hidden = !key;
    if (key) {
      connection.setAttribute("data-i18n", key);
      translateDom(connection);
    }
  }

  // ---- search ---------------------------------------------------------------------------------

  let searchTimer = null;
  let searchController = null;
  let searchErrorKey = "errors.generic";

  function resultSection(titleKey, nodes, testId) {
    if (!nodes.length) return null;
    return h(
      "section",
      { class: "m-result-section", "data-testid": testId },
      h("h2", { i18n: titleKey }),
      h("ul", { role: "list" }, nodes),
    );
  }

  function resultButton({ title, subtitle, id, onclick, testId }) {
    return h(
      "li",
      {},
      h(
        "button",
        { type: "button", class: "m-result", onclick, "data-testid": testId },
        avatar(title, id),
        h(
          "span",
          { class: "m-dialog-main" },
          h("bdi", { class: "m-dialog-title", text: title }),
          subtitle ? h("span", { class: "m-dialog-preview" }, subtitle) : null,
        ),
      ),
    );
  }

  async function runSearch(query) {
    searchController?.abort();
    const controllerForQuery = new AbortController();
    searchController = controllerForQuery;
    const signal = controllerForQuery.signal;
    const lower = query.toLowerCase();
    const chats = store
      .sortedDialogs()
      .filter((d) => {
        const title = chatTitle(store, d.chat, d.peer).toLowerCase();
        const username = (d.chat.username ?? d.peer?.username ?? "").toLowerCase();
        return title.includes(lower) || (username && username.includes(lower.replace(/^@/, "")));
      })
      .slice(0, 8)
      .map((d) =>
        resultButton({
          title: chatTitle(store, d.chat, d.peer),
          id: d.chat.id,
          subtitle: d.chat.username ? h("bdi", { dir: "ltr", text: `@${d.chat.username}` }) : null,
          onclick: () => controller.open(d.chat.id),
        }),
      );
    const username = USERNAME.exec(query)?.[1];
    const [messages, directory, person] = await Promise.all([
      mapi.search.messages(query, { signal, limit: 20 }).catch((error) => failed(error)),
      mapi.search.directory(query, { signal, limit: 10 }).catch((error) => failed(error)),
      username ? mapi.users.byUsername(username, { signal }).catch(() => null) : null,
    ]);
    if (signal.aborted) return;
    const people = person
      ? [
          resultButton({
            title: person.display_name,
            id: person.id,
            subtitle: h("bdi", { dir: "ltr", text: `@${person.username}` }),
            testId: "person-result",
            onclick: () => controller.openPrivate(person),
          }),
        ]
      : [];
    const found = (messages?.messages ?? []).map((message) => {
      const dialog = store.dialog(message.chat_id);
      const title = dialog ? chatTitle(store, dialog.chat, dialog.peer) : t("messenger.unknown_chat");
      return resultButton({
        title,
        id: message.chat_id,
        subtitle: [h("bdi", { text: preview(message, 60) }), " · ", h("time", { text: shortTime(message.date) })],
        testId: "message-result",
        onclick: () => controller.open(message.chat_id, { messageId: message.id }),
      });
    });
    const publicChats = (directory?.chats ?? []).map((chat) =>
      resultButton({
        title: chat.title,
        id: chat.id,
        subtitle: [
          chat.username ? h("bdi", { dir: "ltr", text: `@${chat.username}` }) : null,
          " · ",
          h("span", { i18n: "messenger.members_count", i18nVars: { count: chat.member_count } }),
        ],
        testId: "directory-result",
        onclick: () => controller.open(chat.id),
      }),
    );
    const sections = [
      resultSection("messenger.results_chats", chats, "chat-results"),
      resultSection("messenger.results_people", people, "people-results"),
      resultSection("messenger.results_messages", found, "message-results"),
      resultSection("messenger.results_directory", publicChats, "directory-results"),
    ].filter(Boolean);
    results.replaceChildren(
      ...(sections.length ? sections : [h("p", { class: "hint", i18n: "messenger.no_results" })]),
      messages === undefined || directory === undefined ? h("p", { class: "alert", i18n: searchErrorKey }) : null,
    );
    translateDom(results);
  }

  function failed(error) {
    if (error?.name === "AbortError") return null;
    searchErrorKey = error instanceof ApiError ? errorKey(error) : "errors.network";
    return undefined;
  }

  function onSearchInput() {
    clearTimeout(searchTimer);
    const query = searchInput.value.trim();
    const active = query.length > 0;
    results.hidden = !active;
    node.querySelector(".m-dialog-nav").hidden = active;
    if (!active) {
      searchController?.abort();
      results.replaceChildren();
      return;
    }
    searchTimer = setTimeout(() => runSearch(query), 250);
  }

  searchInput.addEventListener("input", onSearchInput);
  searchInput.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && searchInput.value) {
      event.preventDefault();
      searchInput.value = "";
      onSearchInput();
    }
  });

  function clearSearch() {
    if (!searchInput.value) return;
    searchInput.value = "";
    onSearchInput();
  }

  return {
    node,
    render,
    select,
    setConnection,
    clearSearch,
    focusSearch: () => searchInput.focus(),
    newMenuButton,
  };
}

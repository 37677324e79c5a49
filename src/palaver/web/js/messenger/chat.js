// The open chat: header (title, members or typing), pinned message, search, the messages with
// infinite scroll both ways, read marks, channel view counting, and the composer or a join bar.

import { h } from "../dom.js";
import { translateDom } from "../i18n.js";
import * as mapi from "./api.js";
import { createChatSearch, createPinnedBar } from "./chat-bars.js";
import { createChatHeader } from "./chat-header.js";
import { dayKey, dayLabel, errorKey } from "./format.js";
import { canEdit, isOwn, messageNode, permissions } from "./message.js";
import { svgIcon } from "./icons.js";
import { ViewCounter, reconcile, replaceKeepingFocus } from "./list-dom.js";

const PAGE = 40;
const EDGE = 300; // px from the top/bottom that loads more
const READ_DELAY = 300;
const VIEWS_DELAY = 1000;

/** Does `message` continue `previous` (same sender, same day, within ten minutes)? */
function continues(previous, message) {
  if (!previous || previous.sender_id !== message.sender_id) return false;
  return dayKey(previous.date) === dayKey(message.date) && message.date - previous.date < 600;
}

export function createChatPane({ store, controller, composer }) {
  const header = createChatHeader({
    store,
    controller,
    current: () => current,
    onSearch: () => (search.isOpen() ? search.hide() : openSearch()),
    onPin: (chatId, pinned) => guard(() => mapi.dialogs.pin(chatId, pinned)),
  });
  const list = h("ol", { class: "m-messages", role: "list" });
  const olderStatus = h("p", { class: "m-older hint", role: "status", hidden: true });
  const emptyNote = h("p", { class: "m-chat-empty hint", hidden: true, i18n: "messenger.no_messages_yet" });
  const scroller = h(
    "div",
    { class: "m-scroller", role: "log", tabindex: "0", "aria-labelledby": "m-chat-title", "data-testid": "messages" },
    olderStatus,
    emptyNote,
    list,
  );
  const jump = h("button", { type: "button", class: "m-jump", hidden: true, i18nAriaLabel: "messenger.jump_to_latest", i18nTitle: "messenger.jump_to_latest" }, svgIcon("down"));
  const bottomBar = h("div", { class: "m-bottom-bar", hidden: true });
  const pinned = createPinnedBar({ store, onJump: (id) => jumpTo(id), onUnpin: () => actions.pin(0) });
  const search = createChatSearch({ store, onJump: (id) => jumpTo(id) });
  const placeholder = h(
    "div",
    { class: "m-placeholder" },
    svgIcon("chat", "m-placeholder-icon"),
    h("p", { i18n: "messenger.pick_a_chat" }),
  );
  const pane = h(
    "div",
    { class: "m-chat-inner", hidden: true },
    header.node,
    pinned.node,
    search.node,
    h("div", { class: "m-body" }, scroller, jump),
    composer.node,
    bottomBar,
  );
  const node = h("section", { class: "m-chat", "aria-labelledby": "m-chat-title" }, placeholder, pane);

  let current = null; // { chatId, chat, dialog, membership, perms, nodes, days, loading, readSent }
  let readTimer = null;
  const views = new ViewCounter(scroller, { delay: VIEWS_DELAY, counted: (ids) => renderList({ changed: ids }) });

  const actions = {
    reply: (message) => composer.startReply(message),
    edit: (message) => composer.startEdit(message),
    forward: (message) => controller.forward(message),
    copy: (message) =>
      navigator.clipboard
        ?.writeText(message.text)
        .then(() => controller.toast("messenger.text_copied"))
        .catch(() => {}),
    pin: (msgId) => guard(() => mapi.messages.pin(current.chatId, msgId)),
    react: (message, emoji) =>
      guard(async () => {
        const result = await mapi.messages.react(message.chat_id, message.id, emoji);
        store.apply({ type: "message_reactions", chat_id: message.chat_id, msg_id: message.id, reactions: result.reactions, my_reaction: emoji });
      }),
    remove: (message, forEveryone) => controller.confirmDelete(message, forEveryone),
    jumpTo: (id) => jumpTo(id),
  };

  async function guard(work) {
    try {
      await work();
    } catch (error) {
      controller.toast(errorKey(error));
    }
  }

  // ---- header and bottom bar ---------------------------------------------------------------------

  function renderHeader() {
    if (current) header.render(current);
  }

  function renderBottom() {
    const { chat, perms, dialog } = current;
    composer.setChat({ chatId: chat.id, kind: chat.kind, perms });
    bottomBar.hidden = perms.send;
    if (perms.send) return;
    const joinable = !dialog && chat.username && (chat.kind === "channel" || chat.kind === "supergroup");
    bottomBar.replaceChildren(
      joinable
        ? h("button", {
            type: "button",
            class: "button primary",
            "data-testid": "join-chat",
            i18n: chat.kind === "channel" ? "messenger.join_channel" : "messenger.join_group",
            onclick: () => controller.join(chat),
          })
        : h("p", { class: "hint", i18n: chat.kind === "channel" ? "messenger.channel_readonly" : "messenger.readonly" }),
    );
    translateDom(bottomBar);
  }

  function openSearch() {
    header.searchButton.setAttribute("aria-expanded", "true");
    search.show(current.chatId, () => {
      header.searchButton.setAttribute("aria-expanded", "false");
      header.searchButton.focus();
    });
  }

  // ---- messages ---------------------------------------------------------------------------------

  function context() {
    const dialog = store.dialog(current.chatId) ?? current.dialog; // the list may have been reloaded
    return { store, chat: current.chat, dialog, perms: current.perms, actions, viewed: views };
  }

  function atBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 60;
  }

  function daySeparator(message) {
    const key = dayKey(message.date);
    let separator = current.days.get(key);
    if (!separator) {
      separator = h("li", { class: "m-day", role: "presentation" }, h("span", { text: dayLabel(message.date) }));
      current.days.set(key, separator);
    }
    return separator;
  }

  function createNode(message) {
    const item = messageNode(context(), message);
    if (current.chat.kind === "channel") views.watch(item);
    return item;
  }

  /** Bring the list in line with the cache; `scroll`: "bottom", "keep" (default) or "none". */
  function renderList({ scroll = "keep", changed = null } = {}) {
    if (!current) return;
    const cache = store.cache(current.chatId);
    const ids = cache ? cache.sortedIds() : [];
    const wasAtBottom = atBottom();
    const anchor = scroll === "keep" ? firstVisible() : null;
    const anchorTop = anchor ? anchor.getBoundingClientRect().top : 0;
    if (changed) {
      for (const id of changed) {
        const old = current.nodes.get(id);
        if (!old) continue;
        const message = cache?.byId.get(id);
        if (!message) continue;
        const fresh = createNode(message);
        fresh.className = old.className;
        views.unwatch(old);
        replaceKeepingFocus(old, fresh);
        current.nodes.set(id, fresh);
      }
    }
    const desired = [];
    let previous = null;
    const keep = new Set();
    for (const id of ids) {
      const message = cache.byId.get(id);
      if (!previous || dayKey(previous.date) !== dayKey(message.date)) desired.push(daySeparator(message));
      let item = current.nodes.get(id);
      if (!item) {
        item = createNode(message);
        current.nodes.set(id, item);
      }
      item.classList.toggle("continued", continues(previous, message));
      keep.add(id);
      desired.push(item);
      previous = message;
    }
    for (const [id, item] of current.nodes) {
      if (!keep.has(id)) {
        views.unwatch(item);
        item.remove();
        current.nodes.delete(id);
      }
    }
    reconcile(list, desired);
    emptyNote.hidden = ids.length > 0 || Boolean(cache?.hasOlder && !cache.byId.size && current.loading);
    olderStatus.hidden = !current.loadingOlder;
    if (scroll === "bottom" || (scroll === "keep" && wasAtBottom && !cache?.hasNewer)) {
      scroller.scrollTop = scroller.scrollHeight;
    } else if (anchor && anchor.isConnected) {
      scroller.scrollTop += anchor.getBoundingClientRect().top - anchorTop;
    }
    updateJump();
    scheduleRead();
  }

  function firstVisible() {
    const top = scroller.getBoundingClientRect().top;
    for (const item of current.nodes.values()) {
      const rect = item.getBoundingClientRect();
      if (rect.bottom > top) return item;
    }
    return null;
  }

  function updateJump() {
    const cache = store.cache(current.chatId);
    jump.hidden = atBottom() && !cache?.hasNewer;
  }

  async function loadPage(direction, offsetId) {
    const chatId = current.chatId;
    const key = direction === "older" ? "loadingOlder" : "loadingNewer";
    if (current[key]) return;
    current[key] = true;
    if (direction === "older") {
      olderStatus.hidden = false;
      olderStatus.setAttribute("data-i18n", "messenger.loading_older");
      translateDom(olderStatus);
    }
    try {
      const page = await mapi.messages.history(chatId, { offsetId, direction, limit: PAGE });
      if (current?.chatId !== chatId) return;
      store.addHistory(chatId, page.messages, { direction, limit: PAGE });
    } catch (error) {
      if (current?.chatId === chatId) controller.toast(errorKey(error));
    } finally {
      if (current?.chatId === chatId) {
        current[key] = false;
        olderStatus.hidden = true;
      }
    }
  }

  scroller.addEventListener("scroll", () => {
    if (!current) return;
    const cache = store.cache(current.chatId);
    if (!cache || current.loading) return;
    if (scroller.scrollTop < EDGE && cache.hasOlder) loadPage("older", cache.minId());
    if (scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < EDGE && cache.hasNewer) {
      loadPage("newer", cache.maxId() + 1);
    }
    updateJump();
    scheduleRead();
  }, { passive: true });

  jump.addEventListener("click", () => {
    const cache = store.cache(current.chatId);
    if (cache?.hasNewer) {
      store.dropCache(current.chatId);
      openAt(null);
    } else {
      scroller.scrollTop = scroller.scrollHeight;
      scroller.focus({ preventScroll: true });
    }
  });

  function highlight(id) {
    const item = current.nodes.get(id);
    if (!item) return false;
    item.scrollIntoView({ block: "center" });
    item.classList.remove("flash");
    void item.offsetWidth;
    item.classList.add("flash");
    item.querySelector(".m-bubble")?.focus({ preventScroll: true });
    return true;
  }

  function jumpTo(id) {
    if (!current || highlight(id)) return;
    store.dropCache(current.chatId);
    openAt(id);
  }

  /** (Re)load the chat's messages: the latest, or around `messageId`. */
  async function openAt(messageId) {
    const chatId = current.chatId;
    current.loading = true;
    for (const item of current.nodes.values()) item.remove();
    current.nodes.clear();
    const cache = store.cache(chatId, { create: true });
    cache.hasNewer = Boolean(messageId);
    olderStatus.hidden = false;
    olderStatus.setAttribute("data-i18n", "messenger.loading");
    translateDom(olderStatus);
    try {
      const page = await mapi.messages.history(chatId, messageId ? { offsetId: messageId, direction: "around", limit: PAGE } : { limit: PAGE });
      if (current?.chatId !== chatId) return;
      updateChat(page.chat);
      store.addHistory(chatId, page.messages, { direction: messageId ? "around" : "older", limit: PAGE });
      if (messageId && cache.maxId() >= (page.chat.last_msg_id ?? 0)) cache.hasNewer = false;
      if (messageId) {
        const older = page.messages.filter((m) => m.id < messageId).length;
        if (older < Math.floor(PAGE / 2)) cache.hasOlder = false;
      }
    } catch (error) {
      if (current?.chatId !== chatId) return;
      store.dropCache(chatId);
      olderStatus.setAttribute("data-i18n", errorKey(error));
      translateDom(olderStatus);
      current.loading = false;
      return;
    }
    current.loading = false;
    olderStatus.hidden = true;
    renderList({ scroll: messageId ? "none" : "bottom" });
    if (messageId) highlight(messageId);
    pinned.update(current);
    // A short first page does not fill the pane: load more until it scrolls.
    if (!messageId && cache.hasOlder && scroller.scrollHeight <= scroller.clientHeight) loadPage("older", cache.minId());
  }

  // ---- read marks and views -----------------------------------------------------------------

  function scheduleRead() {
    clearTimeout(readTimer);
    readTimer = setTimeout(markRead, READ_DELAY);
  }

  function markRead() {
    if (!current?.dialog || document.visibilityState !== "visible" || current.loading) return;
    const cache = store.cache(current.chatId);
    if (!cache || cache.hasNewer || !atBottom()) return;
    const maxId = cache.maxId();
    const readMax = current.dialog.membership?.read_inbox_max ?? 0;
    if (!maxId || maxId <= current.readSent || (maxId <= readMax && !current.dialog.unread)) return;
    current.readSent = maxId;
    const chatId = current.chatId;
    mapi.messages.read(chatId, maxId).catch(() => {
      if (current?.chatId === chatId) current.readSent = 0;
    });
  }

  // ---- showing a chat -------------------------------------------------------------------------

  function updateChat(chat, membership = undefined) {
    if (!current) return;
    const dialog = store.dialog(current.chatId);
    const before = JSON.stringify([Boolean(current.dialog), current.perms]);
    current.dialog = dialog;
    current.chat = dialog ? dialog.chat : chat;
    if (dialog) current.membership = dialog.membership;
    else if (membership !== undefined) current.membership = membership;
    current.perms = permissions(current.chat, current.membership, store.me.id);
    renderHeader();
    renderBottom();
    // Receipts and the actions offered depend on the dialog and on my rights.
    if (current.nodes.size && JSON.stringify([Boolean(dialog), current.perms]) !== before) {
      renderList({ changed: [...current.nodes.keys()] });
    }
  }

  /** Open chat `chatId` (at `messageId`, if given). */
  async function show(chatId, { messageId = null } = {}) {
    if (current?.chatId === chatId) {
      if (messageId) jumpTo(messageId);
      return;
    }
    hide();
    views.reset(chatId);
    placeholder.hidden = true;
    pane.hidden = false;
    const dialog = store.dialog(chatId);
    current = {
      chatId,
      chat: dialog?.chat ?? { id: chatId, kind: "group", title: "", member_count: 0 },
      dialog,
      membership: dialog?.membership ?? null,
      perms: permissions(dialog?.chat ?? { kind: "group" }, dialog?.membership, store.me.id),
      nodes: new Map(),
      days: new Map(),
      loading: false,
      readSent: 0,
    };
    if (!dialog) {
      header.loading();
      try {
        const info = await mapi.chats.get(chatId);
        if (current?.chatId !== chatId) return;
        current.membership = info.membership;
        if (info.membership && !store.dialog(chatId)) store.apply({ type: "chat", chat: info.chat, membership: info.membership });
        updateChat(info.chat, info.membership);
      } catch (error) {
        if (current?.chatId !== chatId) return;
        header.failed(errorKey(error));
        composer.setChat(null);
        composer.node.hidden = true;
        return;
      }
    } else {
      updateChat(dialog.chat);
    }
    controller.learnMembers(current.chat, current.perms);
    pinned.update(current);
    const cache = store.cache(chatId);
    if (cache && cache.byId.size && !cache.hasNewer && (!messageId || cache.byId.has(messageId))) {
      renderList({ scroll: messageId ? "none" : "bottom" });
      if (messageId) highlight(messageId);
    } else {
      store.dropCache(chatId);
      await openAt(messageId);
    }
  }

  function hide() {
    if (!current) return;
    composer.setChat(null);
    search.hide();
    views.reset(null);
    list.replaceChildren();
    header.stop();
    current = null;
    pane.hidden = true;
    placeholder.hidden = false;
  }

  // ---- store events ---------------------------------------------------------------------------

  function onMessages({ chatId, ids, removed }) {
    if (current?.chatId !== chatId || current.loading) return;
    if (removed) composer.messagesRemoved(chatId, ids);
    const cache = store.cache(chatId);
    const changed = removed ? null : ids.filter((id) => current.nodes.has(id));
    renderList({ changed });
    // Replies quoting a changed message show its new text.
    if (cache && !removed) {
      const quoting = [...current.nodes.keys()].filter((id) => ids.includes(cache.byId.get(id)?.reply_to));
      if (quoting.length) renderList({ changed: quoting });
    }
  }

  function onChat(chatId) {
    if (!current || current.chatId !== chatId) return;
    const dialog = store.dialog(chatId);
    if (dialog) updateChat(dialog.chat);
    pinned.update(current);
  }

  function onTyping(chatId) {
    if (current && current.chatId === chatId) header.renderSubtitle(current);
  }

  function lastEditableMessage() {
    const cache = current && store.cache(current.chatId);
    if (!cache) return null;
    const ids = cache.sortedIds();
    for (let index = ids.length - 1; index >= 0; index -= 1) {
      const message = cache.byId.get(ids[index]);
      if (isOwn(message, store.me.id) || current.chat.kind === "channel") {
        return canEdit(message, current.chat, current.perms, store.me.id) ? message : null;
      }
    }
    return null;
  }

  document.addEventListener("visibilitychange", scheduleRead);

  return {
    node,
    show,
    hide,
    current: () => current,
    onMessages,
    onChat,
    onTyping,
    lastEditableMessage,
    /** Draw every message again (names learnt, language changed); `days`: the day headings too. */
    rerender: ({ days = false } = {}) => {
      if (!current) return;
      if (days) current.days.clear();
      renderHeader();
      renderList({ changed: [...current.nodes.keys()] });
    },
    scrollToBottom: () => {
      if (!current) return;
      scroller.scrollTop = scroller.scrollHeight;
      updateJump();
    },
    focusHeading: () => header.focus(),
    focusComposer: () => composer.focus(),
    reload: () => current && openAt(null),
    destroy: () => {
      hide();
      views.close();
      document.removeEventListener("visibilitychange", scheduleRead);
    },
  };
}

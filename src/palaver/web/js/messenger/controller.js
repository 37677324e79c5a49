// The messenger page for one signed-in user: builds the two panes, starts sync (dialogs, pts,
// gateway events, differences on reconnect and after idle) and routes /messenger,
// /messenger/<chat_id> and /messenger/join/<code> without rebuilding itself.

import { gateway } from "../gateway.js";
import { h } from "../dom.js";
import { onLanguageChange, translateDom } from "../i18n.js";
import * as mapi from "./api.js";
import { createChatPane } from "./chat.js";
import { createComposer } from "./composer.js";
import { confirmDelete, forwardPicker, newChannel, newGroup, newPrivateChat } from "./create.js";
import { createSidebar } from "./dialogs.js";
import { errorKey } from "./format.js";
import { showChatInfo } from "./info.js";
import { joinPanel } from "./join.js";
import { showMenu } from "./modal.js";
import { Outbox } from "./outbox.js";
import { Store, hasChannelBox } from "./store.js";
import { Sync } from "./sync.js";

const IDLE_MS = 60 * 1000; // hidden longer than this: resync when shown again
const PERIODIC_MS = 15 * 60 * 1000; // and every 15 minutes anyway
const SHORTCUTS = [
  [["Enter"], "messenger.shortcut_send"],
  [["Shift", "Enter"], "messenger.shortcut_newline"],
  [["Esc"], "messenger.shortcut_cancel"],
  [["↑"], "messenger.shortcut_edit_last"],
  [["/"], "messenger.shortcut_search"],
];

export function parseRoute(path) {
  const rest = path.replace(/^\/messenger\/?/, "");
  if (!rest) return { kind: "list" };
  const join = /^join\/([^/]+)$/.exec(rest);
  if (join) return { kind: "join", code: decodeURIComponent(join[1]) };
  if (/^\d{1,20}$/.test(rest)) return { kind: "chat", chatId: rest };
  return { kind: "unknown" };
}

export class MessengerPage {
  constructor(user) {
    this.userId = user.id;
    this.store = new Store({ id: user.id, display_name: user.display_name, username: user.username });
    this.sync = new Sync({ store: this.store, reload: (box) => this.reloadBox(box), storageKey: `palaver.messenger.pts.${user.id}` });
    this.offs = [];
    this.timers = [];
    this.starting = true;
    this.hiddenAt = 0;
    this.dialogsReload = null;
    this.membersLearnt = new Set(); // chats whose member names we have asked for
    this.outbox = new Outbox(); // sends retried (same random_id) until the server answers

    this.composer = createComposer({ store: this.store, controller: this });
    this.chat = createChatPane({ store: this.store, controller: this, composer: this.composer });
    this.sidebar = createSidebar({ store: this.store, controller: this });
    this.toastNode = h("p", { class: "m-toast", role: "status", "aria-live": "polite", hidden: true });
    this.side = h("div", { class: "m-side-slot" }, this.chat.node);
    this.node = h("div", { class: "messenger", "data-pane": "list", "data-testid": "messenger" }, this.sidebar.node, this.side, this.toastNode);
    this.wire();
    this.addShortcuts();
    this.ready = this.start();
  }

  // ---- start-up and sync ------------------------------------------------------------------------

  wire() {
    const { store } = this;
    this.offs.push(
      store.on("dialogs", () => this.sidebar.render()),
      store.on("messages", (detail) => this.chat.onMessages(detail)),
      store.on("chat", (chatId) => this.chat.onChat(chatId)),
      store.on("typing", (chatId) => {
        this.chat.onTyping(chatId);
      }),
      store.on("draft", (chatId) => this.composer.draftChanged(chatId)),
      store.on("unknown", () => this.scheduleDialogsReload()),
      store.on("channel", ({ chatId, pts }) => {
        this.sync.setPts(`channel:${chatId}`, pts ?? 0, { onlyIfUnknown: !this.starting });
      }),
      store.on("left", ({ chatId }) => {
        this.sync.forget(`channel:${chatId}`);
        if (this.chat.current()?.chatId === chatId) {
          this.toast("messenger.you_left");
          this.open(null);
        }
      }),
    );
    const onVisibility = () => {
      if (document.visibilityState === "hidden") this.hiddenAt = Date.now();
      else if (this.hiddenAt && Date.now() - this.hiddenAt > IDLE_MS) this.sync.resyncAll();
    };
    document.addEventListener("visibilitychange", onVisibility);
    this.offs.push(() => document.removeEventListener("visibilitychange", onVisibility));
    this.timers.push(setInterval(() => this.sync.resyncAll(), PERIODIC_MS));
    this.offs.push(
      onLanguageChange(() => {
        this.sidebar.render();
        this.chat.rerender({ days: true });
      }),
    );
    const onResize = () => this.fit();
    window.addEventListener("resize", onResize);
    this.offs.push(() => window.removeEventListener("resize", onResize));
    const onKey = (event) => {
      if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
      const target = event.target;
      if (target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
      if (!this.node.isConnected) return;
      event.preventDefault();
      this.sidebar.focusSearch();
    };
    document.addEventListener("keydown", onKey);
    this.offs.push(() => document.removeEventListener("keydown", onKey));
  }

  async start() {
    const gw = gateway();
    this.offs.push(
      gw.on("update", (data) => this.sync.receive(data)),
      gw.on("typing", (data) => this.store.setTyping(data.chat_id, data.user_id, data.action === "typing")),
      gw.on("channel.views", (data) => this.store.setViews(data.chat_id, data.views)),
      gw.onReady(() => this.outbox.online()), // sends waiting for the connection: try them now
      gw.onState((state) => this.sidebar.setConnection(state)),
    );
    this.sidebar.setConnection(gw.state);
    try {
      let commonPts = this.sync.storedPts("common");
      if (commonPts === null) commonPts = (await mapi.updates.state()).pts;
      await this.loadDialogs({ first: true });
      this.sync.setPts("common", commonPts);
    } catch (error) {
      this.toast(errorKey(error), { sticky: true });
      const retry = setTimeout(() => {
        this.ready = this.start();
      }, 5000);
      this.timers.push(retry);
      return;
    } finally {
      this.starting = false;
    }
    this.sync.start();
    this.sync.resync("common");
    // After every (re)connection: fetch what was missed while away.
    this.offs.push(gw.onReady(() => this.sync.resyncAll()));
  }

  async loadDialogs({ first }) {
    const page = await mapi.dialogs.list({ cursor: first ? undefined : this.store.nextCursor, limit: 50 });
    this.store.setDialogs(page, { first });
    if (first) this.chat.onChat(this.chat.current()?.chatId);
  }

  loadMoreDialogs() {
    this.loadDialogs({ first: false }).catch((error) => this.toast(errorKey(error)));
  }

  scheduleDialogsReload() {
    if (this.dialogsReload) return;
    this.dialogsReload = setTimeout(async () => {
      this.dialogsReload = null;
    this.membersLearnt = new Set(); // chats whose member names we have asked for
      try {
        await this.loadDialogs({ first: true });
      } catch {
        this.scheduleDialogsReload();
      }
    }, 250);
  }

  /** A box is too far behind (too_long): reload what it feeds. */
  async reloadBox(box) {
    const open = this.chat.current();
    if (box === "common") {
      for (const chatId of [...this.store.caches.keys()]) {
        const dialog = this.store.dialog(chatId);
        if (!dialog || !hasChannelBox(dialog.chat)) this.store.dropCache(chatId);
      }
      await this.loadDialogs({ first: true });
      if (open && !hasChannelBox(open.chat)) await this.chat.reload();
    } else {
      const chatId = box.slice("channel:".length);
      this.store.dropCache(chatId);
      this.scheduleDialogsReload();
      if (open?.chatId === chatId) await this.chat.reload();
    }
  }

  /** Names of a group's members, for the senders of its messages. */
  async learnMembers(chat, perms) {
    if (chat.kind === "private" || !perms.viewMembers || this.membersLearnt.has(chat.id)) return;
    this.membersLearnt.add(chat.id);
    try {
      const { members } = await mapi.members.list(chat.id, { limit: 200 });
      const fresh = members.filter((member) => !this.store.users.has(member.user_id));
      for (const member of members) this.store.remember({ id: member.user_id, display_name: member.display_name, username: member.username });
      if (fresh.length) {
        this.sidebar.render();
        if (this.chat.current()?.chatId === chat.id) this.chat.rerender();
      }
    } catch {
      this.membersLearnt.delete(chat.id);
    }
  }

  /** Fill the window below the header: the page's header height depends on its width. */
  fit() {
    requestAnimationFrame(() => {
      if (!this.node.isConnected) return;
      const top = this.node.getBoundingClientRect().top + window.scrollY;
      this.node.style.setProperty("--m-offset", `${Math.round(top)}px`);
    });
  }

  // ---- routing ----------------------------------------------------------------------------------

  route(path) {
    this.fit();
    const route = parseRoute(path);
    this.joinNode?.remove();
    this.joinNode = null;
    if (route.kind === "chat") {
      this.node.dataset.pane = "chat";
      this.sidebar.select(route.chatId);
      const messageId = Number(new URLSearchParams(location.search).get("message")) || null;
      this.ready.then(() => this.chat.show(route.chatId, { messageId }));
    } else if (route.kind === "join") {
      this.chat.hide();
      this.chat.node.hidden = true;
      this.node.dataset.pane = "chat";
      this.joinNode = joinPanel(route.code, { opened: (chat) => this.openJoined(chat) });
      this.side.append(this.joinNode);
      return;
    } else {
      this.node.dataset.pane = "list";
      this.sidebar.select(null);
      this.chat.hide();
    }
    this.chat.node.hidden = false;
  }

  /** Go to a chat (null: the list) without rebuilding the page. */
  open(chatId, { messageId = null } = {}) {
    const path = chatId ? `/messenger/${chatId}${messageId ? `?message=${messageId}` : ""}` : "/messenger";
    if (location.pathname + location.search !== path) history.pushState(null, "", path);
    this.sidebar.clearSearch();
    this.route(location.pathname);
    if (chatId) {
      const focus = () => (this.chat.current()?.perms.send ? this.chat.focusComposer() : this.chat.focusHeading());
      this.ready.then(() => requestAnimationFrame(focus));
    } else {
      this.sidebar.node.querySelector("h1")?.focus({ preventScroll: true });
    }
  }

  async openPrivate(user) {
    try {
      this.store.remember(user);
      const { chat } = await mapi.chats.openPrivate(user.id);
      this.openCreated(chat);
    } catch (error) {
      this.toast(errorKey(error));
    }
  }

  /** A chat we just created or joined: make sure the list knows it, then open it. */
  async openCreated(chat) {
    if (!this.store.dialog(chat.id)) {
      try {
        const info = await mapi.chats.get(chat.id);
        if (info.membership) this.store.apply({ type: "chat", chat: info.chat, membership: info.membership });
      } catch {
        // Opening the chat will show what is wrong.
      }
    }
    this.open(chat.id);
  }

  openJoined(chat) {
    this.openCreated(chat);
  }

  // ---- actions used by the panes ----------------------------------------------------------------

  showNewMenu(anchor) {
    const item = (key, handler) => h("button", { type: "button", class: "m-menu-item", i18n: key, onclick: handler });
    const open = (chat, user) => {
      if (user) this.store.remember(user);
      this.openCreated(chat);
    };
    showMenu(
      anchor,
      [
        item("messenger.new_private", () => newPrivateChat({ store: this.store, open })),
        item("messenger.new_group", () => newGroup({ open })),
        item("messenger.new_channel", () => newChannel({ open })),
      ],
      { label: "messenger.new" },
    );
  }

  showInfo(chatId) {
    showChatInfo(chatId, {
      store: this.store,
      toast: (key) => this.toast(key),
      leave: (chat) => this.leave(chat),
      upgraded: (chat) => {
        this.store.apply({ type: "chat_upgraded", chat });
        this.chat.onChat(chat.id);
      },
    });
  }

  forward(message) {
    forwardPicker({ store: this.store, message, done: (chatId) => this.open(chatId) });
  }

  confirmDelete(message, forEveryone) {
    confirmDelete({ message, forEveryone, store: this.store });
  }

  async join(chat) {
    try {
      await mapi.chats.join(chat.id);
      const info = await mapi.chats.get(chat.id);
      this.store.apply({ type: "chat", chat: info.chat, membership: info.membership });
      this.chat.hide();
      this.chat.show(chat.id);
    } catch (error) {
      this.toast(errorKey(error));
    }
  }

  async leave(chat) {
    try {
      await mapi.chats.leave(chat.id);
      this.store.apply({ type: "chat_left", chat_id: chat.id, reason: "left" });
    } catch (error) {
      this.toast(errorKey(error));
    }
  }

  lastEditableMessage() {
    return this.chat.lastEditableMessage();
  }

  sent(message, edited) {
    if (!edited) this.chat.scrollToBottom();
  }

  toast(key, { sticky = false } = {}) {
    clearTimeout(this.toastTimer);
    this.toastNode.hidden = false;
    this.toastNode.setAttribute("data-i18n", key);
    translateDom(this.toastNode);
    if (!sticky) this.toastTimer = setTimeout(() => (this.toastNode.hidden = true), 4000);
  }

  // ---- page chrome ------------------------------------------------------------------------------

  addShortcuts() {
    const list = document.querySelector("#shortcuts dl");
    if (!list) return;
    this.shortcutNodes = SHORTCUTS.flatMap(([keys, label]) => [
      h("dt", { class: "m-shortcut" }, keys.flatMap((key, index) => [index ? " + " : null, h("kbd", { text: key })])),
      h("dd", { class: "m-shortcut", i18n: label }),
    ]);
    list.append(...this.shortcutNodes);
    translateDom(list);
  }

  destroy() {
    for (const off of this.offs) off();
    for (const timer of this.timers) {
      clearTimeout(timer);
      clearInterval(timer);
    }
    clearTimeout(this.dialogsReload);
    this.composer.flushDraft();
    this.chat.destroy();
    this.sync.close();
    this.outbox.close();
    for (const item of this.shortcutNodes ?? []) item.remove();
  }
}

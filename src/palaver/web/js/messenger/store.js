// The messenger's state for the signed-in user: dialogs, the messages loaded per chat, who is
// typing, and the pts rule. Updates (docs/protocol.md, "Update types") are applied by apply();
// applying one twice changes nothing, so a difference that overlaps live events is harmless.
// Views listen with on(topic, handler): "dialogs" (the list or a dialog changed), "chat" (a
// chat's info or my membership changed; detail: chatId), "messages" ({ chatId, ids, reset }),
// "typing" (chatId), "left" ({ chatId, reason }), "channel" ({ chatId, pts, known }).

export const REACTIONS = ["👍", "❤️", "🔥", "🎉", "😂", "😮", "😢", "👎"];
export const ACTIVE = new Set(["owner", "admin", "member", "restricted"]);
const TYPING_MS = 6000;

/**
 * The client rule for a box update: "apply" (the next one), "seen" (already applied) or "gap"
 * (something is missing before it: fetch the difference).
 */
export function ptsCheck(local, ptsCount, pts) {
  if (local + ptsCount === pts) return "apply";
  if (local + ptsCount > pts) return "seen";
  return "gap";
}

/** The box a chat's updates belong to. */
export function boxOf(chat) {
  return chat.kind === "channel" || chat.kind === "supergroup" ? `channel:${chat.id}` : "common";
}

export function hasChannelBox(chat) {
  return chat?.kind === "channel" || chat?.kind === "supergroup";
}

/** Messages of one chat that are loaded, keyed by id; a contiguous range of the history. */
class MessageCache {
  constructor() {
    this.byId = new Map();
    this.hasOlder = true;
    this.hasNewer = false; // the newest messages are not loaded (after a jump into the past)
  }

  sortedIds() {
    return [...this.byId.keys()].sort((a, b) => a - b);
  }

  minId() {
    let min = Infinity;
    for (const id of this.byId.keys()) min = Math.min(min, id);
    return min === Infinity ? 0 : min;
  }

  maxId() {
    let max = 0;
    for (const id of this.byId.keys()) max = Math.max(max, id);
    return max;
  }

  /** Add or replace a message, keeping `my_reaction` when the new copy does not say. */
  put(message) {
    const old = this.byId.get(message.id);
    const merged = old && !("my_reaction" in message) ? { ...message, my_reaction: old.my_reaction } : message;
    this.byId.set(message.id, merged);
  }
}

export class Store {
  constructor(me) {
    this.me = me;
    this.dialogs = new Map(); // chatId → { chat, membership, top, unread, peer }
    this.pinOrder = []; // pinned chat ids, first shown first
    this.caches = new Map(); // chatId → MessageCache
    this.users = new Map(); // userId → { display_name, username }
    this.typing = new Map(); // chatId → Map(userId → expiry, ms)
    this.lastSpoke = new Map(); // "chatId:userId" → when their last message arrived, ms
    this.listeners = new Map();
    this.dialogsComplete = false;
    this.nextCursor = null;
    this.remember(me);
  }

  on(topic, handler) {
    if (!this.listeners.has(topic)) this.listeners.set(topic, new Set());
    this.listeners.get(topic).add(handler);
    return () => this.listeners.get(topic)?.delete(handler);
  }

  emit(topic, detail) {
    for (const handler of [...(this.listeners.get(topic) ?? [])]) {
      try {
        handler(detail);
      } catch (error) {
        console.error(error);
      }
    }
  }

  /** Note a user's name (from dialogs, member lists, profiles). */
  remember(user) {
    if (user?.id) this.users.set(String(user.id), { display_name: user.display_name, username: user.username });
  }

  // ---- dialogs ------------------------------------------------------------------------------------

  /** Take a page of GET /dialogs; `first`: it replaces what was there. */
  setDialogs(page, { first }) {
    // The server lists a private chat once it has a message; one we just opened stays listed.
    const empty = first ? [...this.dialogs.values()].filter((d) => d.chat.kind === "private" && !d.chat.last_msg_id) : [];
    if (first) {
      this.dialogs.clear();
      this.pinOrder = [];
      for (const dialog of empty) this.dialogs.set(dialog.chat.id, dialog);
    }
    for (const item of page.dialogs) {
      const dialog = {
        chat: item.chat,
        membership: item.membership,
        top: item.top_message,
        unread: item.unread_count,
        peer: item.peer,
      };
      this.dialogs.set(item.chat.id, dialog);
      if (item.peer) this.remember(item.peer);
      if (item.membership?.pinned && !this.pinOrder.includes(item.chat.id)) this.pinOrder.push(item.chat.id);
      if (hasChannelBox(item.chat)) this.emit("channel", { chatId: item.chat.id, pts: item.chat.pts, known: true });
    }
    this.nextCursor = page.next_cursor;
    this.dialogsComplete = !page.next_cursor;
    this.emit("dialogs");
  }

  dialog(chatId) {
    return this.dialogs.get(chatId) ?? null;
  }

  /** Dialogs in display order: pinned first (in pin order), then by last activity. */
  sortedDialogs() {
    const pinned = this.pinOrder.map((id) => this.dialogs.get(id)).filter((d) => d?.membership?.pinned);
    const rest = [...this.dialogs.values()].filter((d) => !d.membership?.pinned);
    rest.sort((a, b) => activity(b) - activity(a));
    return [...pinned, ...rest];
  }

  /** A private chat's other user (the dialog's peer), or null. */
  peerId(chat) {
    return chat?.peer_id ?? null;
  }

  isSavedMessages(chat) {
    return chat?.kind === "private" && chat.peer_id === this.me.id;
  }

  // ---- messages -----------------------------------------------------------------------------------

  cache(chatId, { create = false } = {}) {
    let cache = this.caches.get(chatId);
    if (!cache && create) {
      cache = new MessageCache();
      this.caches.set(chatId, cache);
    }
    return cache ?? null;
  }

  dropCache(chatId) {
    this.caches.delete(chatId);
  }

  /** Merge a page of history (newest first, as the server sends it). */
  addHistory(chatId, list, { direction, limit }) {
    const cache = this.cache(chatId, { create: true });
    for (const message of list) cache.put(message);
    if (direction === "older" && list.length < limit) cache.hasOlder = false;
    if (direction === "newer" && list.length < limit) cache.hasNewer = false;
    this.emit("messages", { chatId, ids: list.map((m) => m.id), reset: false });
  }

  message(chatId, id) {
    return this.caches.get(chatId)?.byId.get(id) ?? null;
  }

  /** A message we sent or edited over HTTP: shown at once, whatever the gateway is doing. */
  putOwn(message) {
    this.apply({ type: "edit_message", message }, { own: true });
  }

  /**
   * A "channel.views" event: the totals of some posts of a channel. A count never goes down here:
   * events flushed by several servers may arrive in either order.
   */
  setViews(chatId, views) {
    const cache = this.caches.get(chatId);
    if (!cache || !views || typeof views !== "object") return;
    const ids = [];
    for (const [key, count] of Object.entries(views)) {
      const id = Number(key);
      const message = cache.byId.get(id);
      if (!message || !Number.isSafeInteger(count) || count <= (message.views ?? 0)) continue;
      cache.byId.set(id, { ...message, views: count });
      ids.push(id);
    }
    if (ids.length) this.emit("messages", { chatId, ids, reset: false });
  }

  // ---- updates ------------------------------------------------------------------------------------

  apply(update, { own = false } = {}) {
    const handler = APPLY[update.type];
    if (handler) handler(this, update, own);
  }

  /** Put a new or changed message into its chat's loaded range (if it belongs there). */
  _cacheMessage(message, { isNew }) {
    const chatId = message.chat_id;
    const cache = this.caches.get(chatId);
    if (!cache || (cache.hasNewer && message.id > cache.maxId())) return;
    if (cache.byId.has(message.id) || (isNew && message.id >= cache.minId())) {
      cache.put(message);
      this.emit("messages", { chatId, ids: [message.id], reset: false });
    }
  }

  _messageChanged(message, { isNew }) {
    this._cacheMessage(message, { isNew });
    const dialog = this.dialogs.get(message.chat_id);
    if (!dialog) return;
    if (!dialog.top || message.id >= dialog.top.id) dialog.top = message;
    this.emit("dialogs");
  }

  setTyping(chatId, userId, typing, { fromMessage = false } = {}) {
    if (userId === this.me.id) return;
    // A typing event can overtake the message that ends it: ignore it for a moment after one.
    const key = `${chatId}:${userId}`;
    if (fromMessage) this.lastSpoke.set(key, Date.now());
    else if (typing && Date.now() - (this.lastSpoke.get(key) ?? 0) < 2000) return;
    let who = this.typing.get(chatId);
    if (!who) {
      who = new Map();
      this.typing.set(chatId, who);
    }
    if (typing) who.set(userId, Date.now() + TYPING_MS);
    else if (!who.delete(userId)) return;
    this.emit("typing", chatId);
  }

  /** Who is typing in a chat now (user ids). */
  typingIn(chatId) {
    const who = this.typing.get(chatId);
    if (!who) return [];
    const now = Date.now();
    for (const [userId, until] of who) if (until < now) who.delete(userId);
    return [...who.keys()];
  }

  _removeDialog(chatId, reason) {
    this.dialogs.delete(chatId);
    this.pinOrder = this.pinOrder.filter((id) => id !== chatId);
    this.caches.delete(chatId);
    this.emit("dialogs");
    this.emit("left", { chatId, reason });
  }
}

function activity(dialog) {
  return dialog.top?.date ?? dialog.chat.created_at ?? 0;
}

function mergeChat(store, chat, membership) {
  const dialog = store.dialogs.get(chat.id);
  if (!dialog) return null;
  // Chat info from a channel box has no viewer-specific fields (peer_id): keep ours.
  dialog.chat = { ...dialog.chat, ...chat };
  if (membership) dialog.membership = { ...dialog.membership, ...membership };
  return dialog;
}

const APPLY = {
  new_message(store, { message }, own) {
    const dialog = store.dialogs.get(message.chat_id);
    if (!dialog) {
      store._cacheMessage(message, { isNew: true });
      store.emit("unknown", message.chat_id);
      return;
    }
    const previousLast = dialog.chat.last_msg_id ?? 0;
    if (message.id > previousLast) {
      dialog.chat = { ...dialog.chat, last_msg_id: message.id };
      const incoming = message.sender_id !== store.me.id && !own;
      if (incoming && message.id > (dialog.membership?.read_inbox_max ?? 0)) dialog.unread += 1;
    }
    if (message.sender_id) store.setTyping(message.chat_id, message.sender_id, false, { fromMessage: true });
    store._messageChanged(message, { isNew: true });
  },

  edit_message(store, { message }, own) {
    // Our own send or edit (from the HTTP answer) may come before or after its update.
    if (own && message.id > (store.dialogs.get(message.chat_id)?.chat.last_msg_id ?? 0)) {
      APPLY.new_message(store, { message }, true);
      return;
    }
    store._messageChanged(message, { isNew: own });
  },

  delete_messages(store, { chat_id: chatId, ids }) {
    const cache = store.caches.get(chatId);
    const removed = cache ? ids.filter((id) => cache.byId.delete(id)) : [];
    if (removed.length) store.emit("messages", { chatId, ids: removed, reset: false, removed: true });
    const dialog = store.dialogs.get(chatId);
    if (dialog?.top && ids.includes(dialog.top.id)) {
      const rest = cache?.sortedIds() ?? [];
      dialog.top = rest.length ? cache.byId.get(rest[rest.length - 1]) : null;
      if (!dialog.top) store.emit("unknown", chatId);
      store.emit("dialogs");
    }
  },

  message_reactions(store, update) {
    const chatId = update.chat_id;
    const message = store.message(chatId, update.msg_id);
    if (!message) return;
    const changed = { ...message, reactions: update.reactions };
    if ("my_reaction" in update) changed.my_reaction = update.my_reaction;
    store.caches.get(chatId).byId.set(message.id, changed);
    store.emit("messages", { chatId, ids: [message.id], reset: false });
  },

  pinned_message(store, { chat_id: chatId, msg_id: msgId }) {
    const dialog = store.dialogs.get(chatId);
    if (!dialog) return;
    dialog.chat = { ...dialog.chat, pinned_msg_id: msgId };
    store.emit("chat", chatId);
  },

  chat(store, { chat, membership }) {
    if (membership && !ACTIVE.has(membership.status)) {
      if (store.dialogs.has(chat.id)) store._removeDialog(chat.id, membership.status);
      return;
    }
    const dialog = mergeChat(store, chat, membership);
    if (!dialog && membership) {
      store.dialogs.set(chat.id, { chat, membership, top: null, unread: 0, peer: null });
      if (membership.pinned) store.pinOrder.unshift(chat.id);
      if (hasChannelBox(chat)) store.emit("channel", { chatId: chat.id, pts: chat.pts, known: false });
      store.emit("unknown", chat.id);
    }
    store.emit("dialogs");
    store.emit("chat", chat.id);
  },

  chat_left(store, { chat_id: chatId, reason }) {
    if (store.dialogs.has(chatId)) store._removeDialog(chatId, reason);
  },

  chat_upgraded(store, { chat }) {
    const dialog = mergeChat(store, chat, null);
    if (!dialog) return;
    store.emit("channel", { chatId: chat.id, pts: chat.pts, known: false });
    store.emit("dialogs");
    store.emit("chat", chat.id);
  },

  read_inbox(store, { chat_id: chatId, max_id: maxId, unread_count: unread }) {
    const dialog = store.dialogs.get(chatId);
    if (!dialog) return;
    const current = dialog.membership?.read_inbox_max ?? 0;
    if (maxId < current) return;
    dialog.membership = { ...dialog.membership, read_inbox_max: maxId };
    dialog.unread = unread;
    store.emit("dialogs");
    store.emit("chat", chatId);
  },

  read_outbox(store, { chat_id: chatId, max_id: maxId }) {
    const dialog = store.dialogs.get(chatId);
    if (!dialog || maxId <= (dialog.membership?.read_outbox_max ?? 0)) return;
    dialog.membership = { ...dialog.membership, read_outbox_max: maxId };
    const cache = store.caches.get(chatId);
    const ids = cache ? cache.sortedIds().filter((id) => id <= maxId) : [];
    store.emit("messages", { chatId, ids, reset: false });
    store.emit("dialogs");
  },

  draft(store, { chat_id: chatId, draft }) {
    const dialog = store.dialogs.get(chatId);
    if (!dialog) return;
    dialog.membership = { ...dialog.membership, draft };
    store.emit("dialogs");
    store.emit("draft", chatId);
  },

  dialog_pinned(store, { chat_id: chatId, pinned }) {
    const dialog = store.dialogs.get(chatId);
    if (!dialog) return;
    dialog.membership = { ...dialog.membership, pinned };
    store.pinOrder = store.pinOrder.filter((id) => id !== chatId);
    if (pinned) store.pinOrder.unshift(chatId);
    store.emit("dialogs");
    store.emit("chat", chatId);
  },
};

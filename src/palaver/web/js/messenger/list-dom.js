// DOM helpers for the message list: replacing a message in place without losing focus, moving
// only the nodes that are out of place, and counting channel views of what scrolls into sight.

import * as mapi from "./api.js";

/** Replace `old` with `fresh`, moving focus to the same control (by data-focus) if it had it. */
export function replaceKeepingFocus(old, fresh) {
  const inside = old.contains(document.activeElement);
  const key = inside ? (document.activeElement.closest("[data-focus]")?.getAttribute("data-focus") ?? "actions") : null;
  old.replaceWith(fresh);
  if (!key) return;
  const target = [...fresh.querySelectorAll("[data-focus]")].find((el) => el.getAttribute("data-focus") === key);
  (target ?? fresh.querySelector(".m-msg-actions"))?.focus({ preventScroll: true });
}

/** Make `list`'s children exactly `desired`, moving only what is out of place (focus survives). */
export function reconcile(list, desired) {
  let cursor = list.firstChild;
  for (const item of desired) {
    if (item === cursor) cursor = cursor.nextSibling;
    else list.insertBefore(item, cursor);
  }
  while (cursor) {
    const next = cursor.nextSibling;
    cursor.remove();
    cursor = next;
  }
}

/** Counts views of channel posts seen on screen, in batches; `counted(ids)` after each batch. */
export class ViewCounter {
  constructor(root, { delay = 1000, counted }) {
    this.delay = delay;
    this.counted = counted;
    this.chatId = null;
    this.seen = new Set(); // counted in this chat (the server counts each user once anyway)
    this.pending = new Set();
    this.timer = null;
    this.observer = new IntersectionObserver((entries) => this._visible(entries), { root, threshold: 0.6 });
  }

  /** Start counting for a chat (null: stop). */
  reset(chatId) {
    this.chatId = chatId;
    this.seen = new Set();
    this.pending.clear();
    clearTimeout(this.timer);
    this.timer = null;
    this.observer.disconnect();
  }

  has(id) {
    return this.seen.has(id);
  }

  watch(node) {
    this.observer.observe(node);
  }

  unwatch(node) {
    this.observer.unobserve(node);
  }

  close() {
    this.reset(null);
  }

  _visible(entries) {
    for (const entry of entries) {
      const id = Number(entry.target.dataset.id);
      if (entry.isIntersecting && !this.seen.has(id)) this.pending.add(id);
    }
    if (this.pending.size && !this.timer) this.timer = setTimeout(() => this._flush(), this.delay);
  }

  async _flush() {
    this.timer = null;
    const chatId = this.chatId;
    if (!chatId || !this.pending.size || document.visibilityState !== "visible") return;
    const ids = [...this.pending].slice(0, 100);
    for (const id of ids) this.pending.delete(id);
    try {
      await mapi.messages.views(chatId, ids);
    } catch {
      return;
    }
    if (this.chatId !== chatId) return;
    for (const id of ids) this.seen.add(id);
    this.counted(ids);
    if (this.pending.size) this.timer = setTimeout(() => this._flush(), this.delay);
  }
}

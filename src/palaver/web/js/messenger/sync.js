// Gap-free sync (docs/protocol.md, "Boxes, pts and the client rule"). Keeps the pts of every box
// (the common box and one per channel/supergroup) in memory and in localStorage, applies live
// updates with the pts rule, and on a gap fetches the difference: getDifference for the common
// box, getChannelDifference for a channel. Slices are followed until final; too_long reloads.
// While a box's difference is in flight its live updates wait in a queue and are replayed after.

import * as mapi from "./api.js";
import { ptsCheck } from "./store.js";

const RETRY_MS = 3000;
const MAX_ROUNDS = 50; // slices per resync, so a misbehaving server cannot spin us forever
const MAX_WAITING = 500; // updates kept for a box whose pts we do not know yet

export class Sync {
  /**
   * `store`: where updates are applied; `reload(box)`: called on too_long (reload dialogs, or
   * that channel's history); `storageKey`: where pts are remembered (per user); `difference(box,
   * pts)`: fetches a difference (the HTTP API by default).
   */
  constructor({ store, reload, storageKey, difference = fetchDifference }) {
    this.store = store;
    this.reload = reload;
    this.fetch = difference;
    this.storageKey = storageKey;
    this.boxes = new Map(); // box → { pts, running, queue, retry }
    this.started = false;
    this.closed = false;
    this.stored = readStored(storageKey);
    this._saveTimer = null;
  }

  close() {
    this.closed = true;
    for (const state of this.boxes.values()) clearTimeout(state.retry);
    this._save();
  }

  box(name) {
    let state = this.boxes.get(name);
    if (!state) {
      state = { pts: null, running: null, queue: [], retry: null };
      this.boxes.set(name, state);
    }
    return state;
  }

  /** The pts the previous visit of this user stopped at, if any. */
  storedPts(name) {
    const value = this.stored[name];
    return Number.isInteger(value) ? value : null;
  }

  /** Set a box's pts (start-up, a reloaded chat) and replay what waited for it. */
  setPts(name, pts, { onlyIfUnknown = false } = {}) {
    const state = this.box(name);
    if (onlyIfUnknown && state.pts !== null) return;
    state.pts = pts;
    this._persist();
    if (this.started && !state.running && state.queue.length) this._drain(name);
  }

  forget(name) {
    const state = this.boxes.get(name);
    if (state) clearTimeout(state.retry);
    this.boxes.delete(name);
    this._persist();
  }

  /** Begin applying live updates (queued ones first). */
  start() {
    this.started = true;
    for (const [name, state] of this.boxes) {
      if (state.pts !== null && state.queue.length && !state.running) this._drain(name);
    }
  }

  /** An "update" event from the gateway: { box, pts, pts_count, update }. */
  receive(data) {
    if (this.closed || !data || typeof data.box !== "string") return;
    const state = this.box(data.box);
    if (!this.started || state.pts === null || state.running) {
      state.queue.push(data);
      if (state.queue.length > MAX_WAITING) state.queue.shift();
      return;
    }
    this._one(data.box, state, data);
  }

  /** Fetch the difference of every known box (after reconnecting or being idle). */
  resyncAll() {
    if (this.closed) return Promise.resolve();
    const names = [...this.boxes.keys()].filter((name) => this.boxes.get(name).pts !== null);
    return Promise.all(names.map((name) => this.resync(name)));
  }

  /** Fetch the difference of one box; resolves when the box is up to date (or gave up for now). */
  resync(name) {
    const state = this.box(name);
    if (state.pts === null) return Promise.resolve();
    if (!state.running) {
      clearTimeout(state.retry);
      state.running = this._difference(name, state).finally(() => {
        state.running = null;
        if (!this.closed && state.queue.length) this._drain(name);
      });
    }
    return state.running;
  }

  // ---- internals --------------------------------------------------------------------------------

  _one(name, state, data) {
    const verdict = ptsCheck(state.pts, data.pts_count, data.pts);
    if (verdict === "apply") {
      this.store.apply(data.update);
      state.pts = data.pts;
      this._persist();
    } else if (verdict === "gap") {
      state.queue.push(data);
      this.resync(name);
    }
  }

  _drain(name) {
    const state = this.boxes.get(name);
    if (!state || state.pts === null) return;
    const waiting = state.queue.sort((a, b) => a.pts - b.pts);
    state.queue = [];
    for (let index = 0; index < waiting.length; index += 1) {
      const data = waiting[index];
      const verdict = ptsCheck(state.pts, data.pts_count, data.pts);
      if (verdict === "apply") {
        this.store.apply(data.update);
        state.pts = data.pts;
      } else if (verdict === "gap") {
        // Keep the rest and fetch what is missing before them.
        state.queue = waiting.slice(index);
        this._persist();
        this.resync(name);
        return;
      }
    }
    this._persist();
  }

  async _difference(name, state) {
    try {
      for (let round = 0; round < MAX_ROUNDS && !this.closed; round += 1) {
        const from = state.pts;
        const answer = await this.fetch(name, from);
        if (this.closed || state !== this.boxes.get(name)) return;
        if (answer.kind === "too_long") {
          await this.reload(name);
          state.pts = answer.pts;
          break;
        }
        if (answer.kind === "slice") {
          for (const item of answer.updates) if (item.pts > from) this.store.apply(item.update);
        }
        state.pts = answer.pts;
        if (answer.kind !== "slice" || answer.final) break;
      }
      // Queued live updates the difference already covered are now "seen".
      state.queue = state.queue.filter((data) => data.pts > state.pts);
      this._persist();
    } catch (error) {
      if (error?.name === "AbortError" || this.closed) return;
      if (error?.status === 403 || error?.status === 404) {
        // No longer readable (left, banned, deleted): stop following this box.
        this.forget(name);
        return;
      }
      console.warn("messenger: difference failed, retrying", error);
      state.retry = setTimeout(() => this.resync(name), RETRY_MS);
    }
  }

  _persist() {
    if (this._saveTimer) return;
    this._saveTimer = setTimeout(() => {
      this._saveTimer = null;
      this._save();
    }, 500);
  }

  _save() {
    const data = {};
    for (const [name, state] of this.boxes) if (state.pts !== null) data[name] = state.pts;
    try {
      localStorage.setItem(this.storageKey, JSON.stringify(data));
    } catch {
      // Without storage, pts live in memory only: a reload starts from the server's state.
    }
  }
}

function fetchDifference(box, pts) {
  return box === "common"
    ? mapi.updates.difference(pts)
    : mapi.updates.channelDifference(box.slice("channel:".length), pts);
}

function readStored(key) {
  try {
    const data = JSON.parse(localStorage.getItem(key) ?? "{}");
    return data && typeof data === "object" ? data : {};
  } catch {
    return {};
  }
}

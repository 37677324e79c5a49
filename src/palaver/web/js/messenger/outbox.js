// Sends that survive a dropped connection (docs/protocol.md, "Idempotent sends"). Every send
// carries a random_id chosen once; when the answer is lost (no connection, a server error) the same
// send is tried again with the same random_id — at once when the gateway is back, else after a
// growing pause — and the server answers with the message it stored the first time, never a copy.

import { ApiError, NetworkError } from "../api.js";

const FIRST_PAUSE_MS = 1000;
const MAX_PAUSE_MS = 30_000;
const MAX_TRIES = 8;

/** A random positive integer below 2^53 (exact in JSON and in JavaScript numbers). */
export function newRandomId() {
  const [high, low] = crypto.getRandomValues(new Uint32Array(2));
  return (high & 0x1fffff) * 2 ** 32 + low || 1;
}

/** May the request have been lost on the way (so trying it again is the thing to do)? */
export function isTransient(error) {
  if (error instanceof NetworkError) return true;
  return error instanceof ApiError && (error.status >= 500 || error.status === 429);
}

export class Outbox {
  constructor() {
    this.waiting = new Set(); // wake-up functions of sends pausing before their next try
    this.closed = false;
  }

  /** The connection is back (the gateway is ready again): try every waiting send now. */
  online() {
    for (const wake of [...this.waiting]) wake();
  }

  close() {
    this.closed = true;
    this.online();
  }

  /**
   * Run `attempt()` (which sends with one fixed random_id) until it succeeds or fails for good;
   * `retrying(error)` is called before each pause.
   */
  async send(attempt, { retrying } = {}) {
    for (let tries = 1; ; tries += 1) {
      try {
        return await attempt();
      } catch (error) {
        if (!isTransient(error) || tries >= MAX_TRIES || this.closed) throw error;
        retrying?.(error);
        await this._pause(Math.min(MAX_PAUSE_MS, FIRST_PAUSE_MS * 2 ** (tries - 1)));
      }
    }
  }

  _pause(ms) {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiting.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.waiting.add(wake);
    });
  }
}

// WebSocket client for the realtime gateway (docs/protocol.md). One connection per page, shared by
// the views: it authenticates with the session token, pings, and reconnects with backoff.
//
//   import { gateway } from "./gateway.js";
//   const gw = gateway();                  // the page's shared client, connected on first use
//   const result = await gw.request("roulette.stats", {});   // rejects with a GatewayError
//   const off = gw.on("roulette.matched", (data, frame) => …); // an event by name; off() to stop
//   const offReady = gw.onReady((ready) => …);   // after every (re)connection, and at once if ready
//   const offState = gw.onState((state) => …);   // "connecting" | "ready" | "offline" | "closed"
//
// request(method, params, { timeout }) waits for the connection to be ready (up to `timeout`, 15 s
// by default). A request in flight when the connection drops rejects with code "disconnected": it
// may or may not have run. Server errors reject with the frame's `code`, `message`, `retryAfter`.
// Events are delivered live only; after a reconnection (onReady) a view resynchronises itself.
// The shared client follows the session: a new token reconnects, signing out closes it, and a
// rejected token (close 4001) asks the session to recover (a guest is renewed silently).

import { config as configApi } from "./api.js";
import * as session from "./session.js";

export const STATE = Object.freeze({
  connecting: "connecting",
  ready: "ready",
  offline: "offline", // lost; a reconnection is scheduled
  closed: "closed", // not connecting (signed out, token rejected, or close() called)
});

const NO_RECONNECT = new Set([4001, 4003]); // log in again
const SLOW_DOWN = new Set([1013, 4008, 4009]); // back off harder
const BACKOFF_FIRST = 500;
const BACKOFF_SLOW = 5_000;
const BACKOFF_MAX = 30_000;
const DEFAULT_TIMEOUT = 15_000;

export class GatewayError extends Error {
  constructor(code, message = code, retryAfter = null) {
    super(message);
    this.name = "GatewayError";
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export class Gateway {
  /**
   * `url`: async () => the gateway's ws:// URL; `token`: () => the session token or null;
   * `unauthenticated`: called when the server rejects the token (close 4001/4003).
   */
  constructor({ url, token, unauthenticated = () => {} }) {
    this._url = url;
    this._token = token;
    this._unauthenticated = unauthenticated;
    this._socket = null;
    this._state = STATE.closed;
    this._wanted = false;
    this._nextId = 1;
    this._pending = new Map(); // id → { resolve, reject, timer }
    this._handlers = new Map(); // event name → Set(handler)
    this._readyHandlers = new Set();
    this._stateHandlers = new Set();
    this._waiters = new Set(); // requests waiting for "ready"
    this._ready = null; // the last ready frame while connected
    this._delay = BACKOFF_FIRST;
    this._retryTimer = null;
    this._pingTimer = null;
    this._lastHeard = 0;
    this._usedToken = null;
    this._opening = false;
    this._attempt = 0;
  }

  get state() {
    return this._state;
  }

  get ready() {
    return this._ready;
  }

  /** The token of the current (or last) connection. */
  get token() {
    return this._usedToken;
  }

  /** Start connecting (idempotent). */
  connect() {
    this._wanted = true;
    if (this._socket || this._retryTimer || this._opening) return;
    this._open();
  }

  /** Close for good (until connect() is called again); pending requests reject. */
  close() {
    this._wanted = false;
    this._attempt += 1; // abandon a connection attempt in progress
    this._opening = false;
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    this._drop(new GatewayError("closed"));
    for (const waiter of [...this._waiters]) waiter.reject(new GatewayError("closed"));
    this._setState(STATE.closed);
  }

  /** Drop the current connection and connect again at once (e.g. with a new token). */
  reconnect() {
    this._wanted = true;
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    this._drop(new GatewayError("disconnected"));
    this._delay = BACKOFF_FIRST;
    this._open();
  }

  async request(method, params = {}, { timeout = DEFAULT_TIMEOUT } = {}) {
    const deadline = Date.now() + timeout;
    if (this._state !== STATE.ready) {
      this.connect();
      await this._waitReady(timeout);
    }
    const id = this._nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(id);
        reject(new GatewayError("timeout"));
      }, Math.max(0, deadline - Date.now()));
      this._pending.set(id, { resolve, reject, timer });
      if (!this._send({ type: "req", id, method, params })) {
        clearTimeout(timer);
        this._pending.delete(id);
        reject(new GatewayError("disconnected"));
      }
    });
  }

  on(event, handler) {
    if (!this._handlers.has(event)) this._handlers.set(event, new Set());
    this._handlers.get(event).add(handler);
    return () => this._handlers.get(event)?.delete(handler);
  }

  onReady(handler) {
    this._readyHandlers.add(handler);
    if (this._ready) queueMicrotask(() => this._readyHandlers.has(handler) && handler(this._ready));
    return () => this._readyHandlers.delete(handler);
  }

  onState(handler) {
    this._stateHandlers.add(handler);
    return () => this._stateHandlers.delete(handler);
  }

  // ---- internals --------------------------------------------------------------------------------

  _setState(state) {
    if (state === this._state) return;
    this._state = state;
    for (const handler of [...this._stateHandlers]) handler(state);
  }

  _waitReady(timeout) {
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(waiter.timer);
          this._waiters.delete(waiter);
          resolve();
        },
        reject: (error) => {
          clearTimeout(waiter.timer);
          this._waiters.delete(waiter);
          reject(error);
        },
      };
      waiter.timer = setTimeout(() => waiter.reject(new GatewayError("timeout")), timeout);
      this._waiters.add(waiter);
    });
  }

  async _open() {
    const token = this._token();
    if (!token) {
      this._wanted = false;
      for (const waiter of [...this._waiters]) waiter.reject(new GatewayError("unauthenticated"));
      this._setState(STATE.closed);
      return;
    }
    this._setState(STATE.connecting);
    const attempt = ++this._attempt;
    let url;
    this._opening = true;
    try {
      url = await this._url();
    } catch {
      if (attempt === this._attempt) this._scheduleRetry();
      return;
    } finally {
      if (attempt === this._attempt) this._opening = false;
    }
    if (attempt !== this._attempt || !this._wanted || this._socket) return;
    let socket;
    try {
      socket = new WebSocket(url);
    } catch {
      this._scheduleRetry();
      return;
    }
    this._socket = socket;
    this._usedToken = token;
    socket.addEventListener("open", () => {
      this._lastHeard = Date.now();
      socket.send(JSON.stringify({ type: "auth", token }));
    });
    socket.addEventListener("message", (message) => {
      if (socket === this._socket) this._receive(message.data);
    });
    socket.addEventListener("close", (event) => {
      if (socket === this._socket) this._closed(event.code);
    });
  }

  _receive(text) {
    this._lastHeard = Date.now();
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    switch (frame.type) {
      case "ready":
        return this._becomeReady(frame);
      case "res":
      case "err":
        return this._settle(frame);
      case "event":
        for (const handler of [...(this._handlers.get(frame.event) ?? [])]) {
          try {
            handler(frame.data ?? {}, frame);
          } catch (error) {
            console.error(error);
          }
        }
        return undefined;
      default:
        return undefined; // pong, or something newer than this client
    }
  }

  _becomeReady(frame) {
    this._ready = frame;
    this._delay = BACKOFF_FIRST;
    const heartbeat = Math.max(1, Number(frame.heartbeat) || 25) * 1000;
    clearInterval(this._pingTimer);
    this._pingTimer = setInterval(() => {
      if (Date.now() - this._lastHeard > 2 * heartbeat) {
        this._socket?.close(4010); // nothing heard: the link is dead, start over
        this._closed(1006);
        return;
      }
      this._send({ type: "ping" });
    }, heartbeat);
    this._setState(STATE.ready);
    for (const waiter of [...this._waiters]) waiter.resolve();
    for (const handler of [...this._readyHandlers]) {
      try {
        handler(frame);
      } catch (error) {
        console.error(error);
      }
    }
  }

  _settle(frame) {
    const pending = this._pending.get(frame.id);
    if (!pending) return;
    this._pending.delete(frame.id);
    clearTimeout(pending.timer);
    if (frame.type === "res") pending.resolve(frame.result);
    else pending.reject(new GatewayError(frame.code, frame.message, frame.retry_after ?? null));
  }

  /** Send a frame if the connection is open; false if it is not. */
  _send(frame) {
    if (this._socket?.readyState !== WebSocket.OPEN) return false;
    this._socket.send(JSON.stringify(frame));
    return true;
  }

  /** Forget the socket; reject what was in flight. */
  _drop(error) {
    const socket = this._socket;
    this._socket = null;
    this._ready = null;
    clearInterval(this._pingTimer);
    this._pingTimer = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000);
    for (const [id, pending] of this._pending) {
      clearTimeout(pending.timer);
      pending.reject(error);
      this._pending.delete(id);
    }
  }

  _closed(code) {
    this._drop(new GatewayError("disconnected"));
    if (NO_RECONNECT.has(code)) {
      this._wanted = false;
      this._setState(STATE.closed);
      for (const waiter of [...this._waiters]) waiter.reject(new GatewayError("unauthenticated"));
      this._unauthenticated(code);
      return;
    }
    if (SLOW_DOWN.has(code)) this._delay = Math.max(this._delay, BACKOFF_SLOW);
    this._scheduleRetry();
  }

  _scheduleRetry() {
    if (!this._wanted) {
      this._setState(STATE.closed);
      return;
    }
    this._setState(STATE.offline);
    const delay = this._delay * (0.75 + Math.random() * 0.5);
    this._delay = Math.min(this._delay * 2, BACKOFF_MAX);
    clearTimeout(this._retryTimer);
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      if (this._wanted && !this._socket) this._open();
    }, delay);
  }

  /** The network is back (browser "online" event): retry now instead of waiting for the timer. */
  _retryNow() {
    if (!this._wanted || this._socket || this._opening) return;
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    this._delay = BACKOFF_FIRST;
    this._open();
  }
}

// ---- the page's shared client -------------------------------------------------------------------

let shared = null;
let gatewayUrl = null;

async function resolveUrl() {
  if (!gatewayUrl) {
    const { gateway_url: url } = await configApi.get();
    gatewayUrl = url;
  }
  return gatewayUrl;
}

/** The page's gateway client, following the signed-in session. Connects on first use. */
export function gateway() {
  if (shared) return shared;
  shared = new Gateway({
    url: resolveUrl,
    token: () => session.sessionToken(),
    unauthenticated: () => {
      // The token was rejected: let the session check it (a guest is renewed silently); the
      // subscription below reconnects when a new token arrives.
      session.restore().catch(() => {});
    },
  });
  session.subscribe(() => {
    const token = session.sessionToken();
    if (!token) shared.close();
    else if (token !== shared.token) shared.reconnect();
  });
  window.addEventListener("online", () => shared._retryNow());
  shared.connect();
  return shared;
}

// Roulette's state on this page: one explicit phase, the current pair, and the call with the
// partner. Talks to the server over the gateway (roulette.* methods and events); knows nothing of
// the DOM — the view renders what `onChange` reports.
//
// Stale messages are expected (a signal or a chat line from a pair that just ended, a reply that
// arrives after the matching event): anything about another pair_id is ignored, and a reply never
// takes the phase backwards.

import { hasKey } from "../i18n.js";
import { CALL_STATE, PeerCall } from "./roulette-call.js";

export const PHASE = Object.freeze({
  idle: "idle", // not in Roulette
  starting: "starting", // asked the server to start
  searching: "searching", // in the queue
  connecting: "connecting", // paired; the call is being set up
  connected: "connected", // paired and talking
  alone: "alone", // the partner left and auto-next is off: Next searches again
});

const ACTIVE = new Set([PHASE.starting, PHASE.searching, PHASE.connecting, PHASE.connected, PHASE.alone]);
const PAIRED = new Set([PHASE.connecting, PHASE.connected]);

const TAB_LOCK = "palaver.roulette";

/**
 * Hold a Web Lock while Roulette runs: the tabs of one browser share a session, and the server
 * keeps one Roulette place per session. Resolves to a release function, or null if another tab
 * holds it (browsers without Web Locks: no guard).
 */
function acquireTabLock() {
  if (!navigator.locks?.request) return Promise.resolve(() => {});
  return new Promise((resolve) => {
    navigator.locks
      .request(TAB_LOCK, { ifAvailable: true }, (lock) => {
        if (!lock) {
          resolve(null);
          return undefined;
        }
        return new Promise((release) => resolve(release)); // held until release() is called
      })
      .catch(() => resolve(() => {}));
  });
}

/** The i18n key explaining a failed gateway request. */
export function rouletteErrorKey(error) {
  const code = typeof error?.code === "string" ? error.code : "";
  if (code && hasKey(`roulette.error.${code}`)) return `roulette.error.${code}`;
  if (code && hasKey(`errors.${code}`)) return `errors.${code}`;
  if (error && !code) console.error(error);
  return "roulette.error.generic";
}

export class RouletteSession {
  /**
   * `gateway`: the shared Gateway; `onChange(session)` after every change; `onChat(text)` for the
   * partner's messages; `onPartnerLeft()` when the partner (not we) ended the pair;
   * `onRemoteStream(stream | null)`; `onBanned(ban | null)` when the server bans this user from
   * Roulette (the event's BanJson, or null when roulette.start was refused with "banned").
   */
  constructor({ gateway, onChange, onChat, onPartnerLeft, onRemoteStream, onBanned = () => {} }) {
    this._gw = gateway;
    this._onChange = onChange;
    this._onChat = onChat;
    this._onPartnerLeft = onPartnerLeft;
    this._onRemoteStream = onRemoteStream;
    this._onBanned = onBanned;
    this.phase = PHASE.idle;
    this.status = "roulette.status.idle";
    this.pair = null; // { id, role, partner, textOnly }
    this.call = null;
    this.lastPairId = null; // the pair we were in last (reportable after it ended)
    this._criteria = null;
    this._localStream = null;
    this._readyOnce = false;
    this._joins = 0;
    this._releaseLock = null;
    this._joining = null; // the roulette.start in flight (a promise that never rejects)
    this._off = [
      gateway.on("roulette.matched", (data) => this._matched(data)),
      gateway.on("roulette.partner_left", (data) => this._partnerLeft(data)),
      gateway.on("roulette.signal", (data) => this._signal(data)),
      gateway.on("roulette.chat", (data) => this._chat(data)),
      gateway.on("roulette.banned", (data) => this._banned(data?.ban ?? null)),
      gateway.on("roulette.reset", () => this._rejoin()),
      gateway.onReady(() => this._reconnected()),
    ];
  }

  get active() {
    return ACTIVE.has(this.phase);
  }

  /** Text-only mode of the current run (while active). */
  get textOnly() {
    return Boolean(this._criteria?.text_only);
  }

  /** Show `status` (an i18n key) without changing the phase. */
  report(status) {
    this._set(this.phase, status);
  }

  get paired() {
    return PAIRED.has(this.phase) && this.pair !== null;
  }

  /** Enter the queue. `prefs`: { interests, languages, textOnly, autoNext }; `localStream`: the camera. */
  async start(prefs, localStream) {
    if (this.active) return;
    this._releaseLock ??= await acquireTabLock();
    if (!this._releaseLock) {
      this._set(PHASE.idle, "roulette.error.other_tab");
      return;
    }
    this._criteria = {
      languages: prefs.languages,
      interests: prefs.interests,
      text_only: prefs.textOnly,
      auto_next: prefs.autoNext,
    };
    this._localStream = localStream;
    this.lastPairId = null;
    this._set(PHASE.starting, "roulette.status.searching");
    await this._joinTracked();
  }

  /** Leave this partner (or stop waiting alone) and search again. */
  async next() {
    if (!this.paired && this.phase !== PHASE.alone) return;
    this._endPair();
    this._set(PHASE.searching, "roulette.status.searching");
    await this._move(() => this._gw.request("roulette.next", {}));
  }

  /** Never meet this partner again; then search again as with Next. */
  async block() {
    if (!this.paired) return;
    const pairId = this.pair.id;
    this._endPair();
    this._set(PHASE.searching, "roulette.status.blocked");
    await this._move(() => this._gw.request("roulette.block", { pair_id: pairId }));
  }

  /** Whether there is someone to report: the current partner, or the last one. */
  get reportable() {
    return this.active && (this.pair !== null || this.lastPairId !== null);
  }

  /**
   * Report the current (or last) partner: the server never pairs us again and moves us on at
   * once, as with Next. `reason`: nudity | harassment | spam | underage | other.
   */
  async reportPartner(reason, note = "") {
    const pairId = this.pair?.id ?? this.lastPairId;
    if (!this.active || !pairId) return;
    this._endPair();
    this.lastPairId = null;
    this._set(PHASE.searching, "roulette.status.reported");
    const params = note ? { pair_id: pairId, reason, note } : { pair_id: pairId, reason };
    await this._move(() => this._gw.request("roulette.report", params));
  }

  /** Leave Roulette. */
  async stop({ status = "roulette.status.stopped" } = {}) {
    const wasActive = this.active;
    this._endPair();
    this._criteria = null;
    this._set(PHASE.idle, status);
    if (!wasActive) return;
    // A start still on its way could reach the queue after this stop: let it land first.
    await this._joining;
    await this._gw.request("roulette.stop", {}).catch(() => {});
  }

  sendChat(text) {
    if (!this.paired) return Promise.reject(Object.assign(new Error("not paired"), { code: "not_in_pair" }));
    return this._gw.request("roulette.chat", { pair_id: this.pair.id, text });
  }

  /** The view is going away: leave Roulette and stop listening. */
  dispose() {
    this.stop().catch(() => {});
    for (const off of this._off) off();
  }

  // ---- internals --------------------------------------------------------------------------------

  _set(phase, status = this.status) {
    this.phase = phase;
    this.status = status;
    if (phase === PHASE.idle && this._releaseLock) {
      this._releaseLock();
      this._releaseLock = null;
    }
    this._onChange(this);
  }

  _joinTracked() {
    const joining = this._join();
    this._joining = joining;
    joining.finally(() => {
      if (this._joining === joining) this._joining = null;
    });
    return joining;
  }

  async _join({ retried = false } = {}) {
    const attempt = ++this._joins;
    try {
      const reply = await this._gw.request("roulette.start", this._criteria);
      if (attempt === this._joins) this._applyReply(reply);
    } catch (error) {
      if (attempt !== this._joins || this.phase !== PHASE.starting) return;
      if (error?.code === "disconnected") return; // joined again once the gateway is back
      if (error?.code === "already_started" && !retried) {
        // Still in Roulette from an earlier page or connection of this tab (which holds the tab
        // lock, so it is not another tab's): leave, then start afresh.
        await this._gw.request("roulette.stop", {}).catch(() => {});
        await this._join({ retried: true });
        return;
      }
      this._criteria = null;
      this._set(PHASE.idle, rouletteErrorKey(error));
      if (error?.code === "banned") this._onBanned(null);
    }
  }

  async _move(send) {
    try {
      this._applyReply(await send());
    } catch (error) {
      if (error?.code === "disconnected") return; // joined again once the gateway is back
      if (error?.code === "banned") return this._banned(null);
      if (this.phase === PHASE.searching) this._set(PHASE.alone, rouletteErrorKey(error));
    }
  }

  _applyReply(reply) {
    if (reply?.state === "paired") this._matched(reply);
    else if (reply?.state === "searching" && this.phase === PHASE.starting) this._set(PHASE.searching);
    else if (reply?.state === "idle" && this.phase === PHASE.searching) this._set(PHASE.alone);
  }

  _matched(data) {
    if (!this.active || this.phase === PHASE.idle) return;
    if (this.pair?.id === data.pair_id) return; // the reply and the event tell the same news
    this._endPair();
    this.pair = {
      id: String(data.pair_id),
      role: data.role,
      partner: data.partner ?? {},
      textOnly: Boolean(data.text_only),
    };
    if (this.pair.textOnly) {
      this._set(PHASE.connected, "roulette.status.connected_text");
      return;
    }
    const pairId = this.pair.id;
    this.call = new PeerCall({
      role: data.role,
      localStream: this._localStream,
      send: (kind, payload) => {
        if (this.pair?.id !== pairId) return;
        this._gw.request("roulette.signal", { pair_id: pairId, kind, payload }).catch((error) => {
          if (error?.code !== "not_in_pair") console.warn("roulette signal", kind, error);
        });
      },
      onRemoteStream: (stream) => {
        if (this.pair?.id === pairId) this._onRemoteStream(stream);
      },
      onState: (state) => {
        if (this.pair?.id !== pairId) return;
        if (state === CALL_STATE.connected) this._set(PHASE.connected, "roulette.status.connected");
        else if (state === CALL_STATE.failed) this._set(this.phase, "roulette.status.connection_failed");
      },
    });
    this._set(PHASE.connecting, "roulette.status.connecting");
  }

  _partnerLeft(data) {
    if (!this.pair || this.pair.id !== data.pair_id) return;
    this._endPair();
    this._onPartnerLeft();
    if (data.requeued) this._set(PHASE.searching, "roulette.status.partner_left_searching");
    else this._set(PHASE.alone, "roulette.status.partner_left");
  }

  _signal(data) {
    if (!this.call || this.pair?.id !== data.pair_id) return; // stale: another pair, or text only
    this.call.handle(data.kind, data.payload ?? {});
  }

  /** Banned from Roulette: the server already ended the pair and removed us from the queue. */
  _banned(ban) {
    this._endPair();
    this.lastPairId = null;
    this._criteria = null;
    this._set(PHASE.idle, "roulette.status.banned");
    this._onBanned(ban);
  }

  _chat(data) {
    if (this.pair?.id === data.pair_id && typeof data.text === "string") this._onChat(data.text);
  }

  _endPair() {
    this.call?.close();
    this.call = null;
    if (this.pair) {
      this.lastPairId = this.pair.id;
      this.pair = null;
      this._onRemoteStream(null);
    }
  }

  _reconnected() {
    const first = !this._readyOnce;
    this._readyOnce = true;
    if (first) return;
    // The server forgets a session's Roulette when its connection drops: join again.
    this._rejoin();
  }

  /** Our Roulette state is gone on the server (a reconnect, or its owner process restarted). */
  _rejoin() {
    if (!this.active || !this._criteria) return;
    this._endPair();
    this._set(PHASE.starting, "roulette.status.reconnected");
    this._joinTracked();
  }
}

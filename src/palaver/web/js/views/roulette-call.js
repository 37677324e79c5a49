// One WebRTC call with one Roulette partner: an RTCPeerConnection, its signalling and its state.
//
// Roles come from the server, so there is no glare: the "offerer" sends the offer, the
// "answerer" answers. ICE candidates trickle both ways through `send("candidate", …)`. Every
// signalling step runs in order on one promise chain, so an offer or a candidate that arrives
// while the connection is still being created (ICE servers being fetched) simply waits its turn,
// and candidates that arrive before the remote description are kept until it is set.

import { rtcConfiguration } from "./roulette-media.js";

export const CALL_STATE = Object.freeze({
  connecting: "connecting",
  connected: "connected",
  failed: "failed",
  closed: "closed",
});

export class PeerCall {
  /**
   * `role`: "offerer" | "answerer"; `localStream`: the camera (may be null: receive only);
   * `send(kind, payload)`: relay a signal to the partner; `onRemoteStream(stream)`;
   * `onState(CALL_STATE.…)`.
   */
  constructor({ role, localStream, send, onRemoteStream, onState }) {
    this.role = role;
    this.pc = null;
    this._localStream = localStream;
    this._send = send;
    this._onRemoteStream = onRemoteStream;
    this._onState = onState;
    this._state = CALL_STATE.connecting;
    this._pendingCandidates = [];
    this._remoteStream = null;
    this._closed = false;
    this._chain = Promise.resolve();
    this._enqueue(() => this._create());
    if (role === "offerer") this._enqueue(() => this._offer());
  }

  get state() {
    return this._state;
  }

  /** A signal from the partner: offer, answer, candidate or bye. */
  handle(kind, payload) {
    if (kind === "bye") {
      this.close();
      return;
    }
    if (kind === "offer" && this.role === "answerer") this._enqueue(() => this._answer(payload));
    else if (kind === "answer" && this.role === "offerer") this._enqueue(() => this._accept(payload));
    else if (kind === "candidate") this._enqueue(() => this._candidate(payload));
  }

  close() {
    if (this._closed) return;
    this._closed = true;
    const pc = this.pc;
    if (pc) {
      pc.onicecandidate = pc.ontrack = pc.onconnectionstatechange = null;
      pc.close();
    }
    this._setState(CALL_STATE.closed);
  }

  // ---- internals --------------------------------------------------------------------------------

  _enqueue(step) {
    this._chain = this._chain
      .then(() => (this._closed ? undefined : step()))
      .catch((error) => {
        if (this._closed) return;
        console.error("roulette call:", error);
        this._setState(CALL_STATE.failed);
      });
  }

  async _create() {
    const configuration = await rtcConfiguration();
    if (this._closed) return;
    const pc = new RTCPeerConnection(configuration);
    this.pc = pc;
    pc.onicecandidate = ({ candidate }) => {
      if (candidate && candidate.candidate) this._send("candidate", candidate.toJSON());
    };
    pc.ontrack = (event) => {
      if (!this._remoteStream) {
        this._remoteStream = event.streams[0] ?? new MediaStream();
        this._onRemoteStream(this._remoteStream);
      }
      if (!this._remoteStream.getTracks().includes(event.track)) this._remoteStream.addTrack(event.track);
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "connected") this._setState(CALL_STATE.connected);
      else if (pc.connectionState === "failed") this._setState(CALL_STATE.failed);
    };
    const tracks = this._localStream?.getTracks() ?? [];
    for (const track of tracks) pc.addTrack(track, this._localStream);
    if (this.role === "offerer") {
      // Always offer to receive both, even without a camera or microphone of our own.
      const kinds = new Set(tracks.map((track) => track.kind));
      for (const kind of ["audio", "video"]) {
        if (!kinds.has(kind)) pc.addTransceiver(kind, { direction: "recvonly" });
      }
    }
  }

  async _offer() {
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    this._send("offer", { type: offer.type, sdp: offer.sdp });
  }

  async _answer(payload) {
    await this.pc.setRemoteDescription({ type: "offer", sdp: String(payload?.sdp ?? "") });
    await this._flushCandidates();
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    this._send("answer", { type: answer.type, sdp: answer.sdp });
  }

  async _accept(payload) {
    if (this.pc.signalingState !== "have-local-offer") return; // a duplicate answer
    await this.pc.setRemoteDescription({ type: "answer", sdp: String(payload?.sdp ?? "") });
    await this._flushCandidates();
  }

  async _candidate(payload) {
    if (!payload || typeof payload.candidate !== "string") return;
    if (!this.pc.remoteDescription) {
      this._pendingCandidates.push(payload);
      return;
    }
    await this._addCandidate(payload);
  }

  async _flushCandidates() {
    const pending = this._pendingCandidates;
    this._pendingCandidates = [];
    for (const candidate of pending) await this._addCandidate(candidate);
  }

  async _addCandidate(payload) {
    try {
      await this.pc.addIceCandidate({
        candidate: payload.candidate,
        sdpMid: payload.sdpMid ?? null,
        sdpMLineIndex: payload.sdpMLineIndex ?? null,
        usernameFragment: payload.usernameFragment ?? null,
      });
    } catch (error) {
      // One bad candidate (an address family we cannot use) must not end the call.
      console.warn("roulette: candidate ignored", error);
    }
  }

  _setState(state) {
    if (state === this._state) return;
    if (this._state === CALL_STATE.closed) return;
    this._state = state;
    this._onState(state);
  }
}

// Safety snapshots: while paired on camera, a small JPEG of the user's *own* camera goes to the
// server's nudity classifier — once when the pairing starts (as soon as the video has a frame),
// then every `snapshot_interval_seconds` (GET /roulette/config). Only our own camera is ever
// captured, never the partner's. Failures (rate limits, a network blip) are ignored quietly:
// the next snapshot tries again.

import * as api from "../api.js";

const WIDTH = 320;
const HEIGHT = 240;
const QUALITIES = [0.7, 0.5, 0.3]; // lower the quality until the JPEG fits the server's limit
const DEFAULTS = { snapshot_interval_seconds: 20, snapshot_max_bytes: 256 * 1024, classifier: true };

let configPromise = null;

/** The server's snapshot settings (asked once per page); null when snapshots are not wanted. */
export function snapshotConfig() {
  configPromise ??= api.roulette
    .config()
    .then((config) => ({ ...DEFAULTS, ...config }))
    .catch((error) => {
      configPromise = null; // ask again next time
      console.warn("roulette: no snapshot settings", error);
      return null;
    });
  return configPromise.then((config) => (config?.classifier ? config : null));
}

function hasFrame(video) {
  return video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA && video.videoWidth > 0;
}

function waitForFrame(video, signal) {
  if (hasFrame(video)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (value) => {
      video.removeEventListener("loadeddata", onData);
      signal.removeEventListener("abort", onAbort);
      resolve(value);
    };
    const onData = () => done(true);
    const onAbort = () => done(false);
    video.addEventListener("loadeddata", onData);
    signal.addEventListener("abort", onAbort);
  });
}

function toJpeg(canvas, quality) {
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
}

/** A JPEG of what `video` shows now, at most `maxBytes` long; null if none can be made. */
export async function captureJpeg(video, maxBytes) {
  const canvas = document.createElement("canvas");
  canvas.width = WIDTH;
  canvas.height = HEIGHT;
  canvas.getContext("2d").drawImage(video, 0, 0, WIDTH, HEIGHT);
  for (const quality of QUALITIES) {
    const blob = await toJpeg(canvas, quality);
    if (blob && blob.size <= maxBytes) return blob;
  }
  return null;
}

/**
 * Sends snapshots of `video` (the local camera) for one pair at a time. `onBanned(ban)` when the
 * server answers {"action": "banned"}.
 */
export class SnapshotSender {
  constructor({ video, onBanned }) {
    this._video = video;
    this._onBanned = onBanned;
    this._run = null; // { pairId, controller, timer }
    this.sent = 0; // snapshots the server accepted (for tests and curiosity)
  }

  get pairId() {
    return this._run?.pairId ?? null;
  }

  /** Start for `pairId` (stopping any earlier pair's timer). */
  async start(pairId) {
    if (this._run?.pairId === pairId) return;
    this.stop();
    const run = { pairId, controller: new AbortController(), timer: null };
    this._run = run;
    const config = await snapshotConfig();
    if (!config || this._run !== run) return;
    if (!(await waitForFrame(this._video, run.controller.signal)) || this._run !== run) return;
    await this._send(run, config);
    if (this._run !== run) return;
    const every = Math.max(2, Number(config.snapshot_interval_seconds) || DEFAULTS.snapshot_interval_seconds);
    run.timer = setInterval(() => this._send(run, config), every * 1000);
  }

  /** The pair ended: no more snapshots for it. */
  stop() {
    if (!this._run) return;
    clearInterval(this._run.timer);
    this._run.controller.abort();
    this._run = null;
  }

  async _send(run, config) {
    if (this._run !== run || !hasFrame(this._video)) return;
    try {
      const jpeg = await captureJpeg(this._video, Number(config.snapshot_max_bytes) || DEFAULTS.snapshot_max_bytes);
      if (!jpeg || this._run !== run) return;
      const reply = await api.roulette.snapshot(run.pairId, jpeg);
      this.sent += 1;
      if (reply?.action === "banned") {
        // Even if the pair has ended meanwhile (the server ends it when it bans).
        this.stop();
        this._onBanned(reply.ban ?? null);
      }
    } catch (error) {
      // 429, a pair that just ended, the network: the next snapshot tries again.
      if (error?.code === "banned") {
        this.stop();
        this._onBanned(null);
      }
    }
  }
}

// Roulette: random one-to-one video chat. The page wires the pieces together: the criteria
// (roulette-prefs), the rules (roulette-terms), the camera (roulette-media), the server state
// and the call (roulette-session, roulette-call) and the text chat (roulette-chat).
//
// Trust & safety: Report (roulette-report) moves on at once and never pairs the two again; while
// paired on camera, snapshots of the own camera go to the classifier (roulette-snapshots); a ban
// (the roulette.banned event, a refused start, or a ban already in place) leads to /banned.
//
// Keyboard: Esc stops; N, or Ctrl/⌘ + the "forward" arrow (→, or ← in a right-to-left language),
// meets the next person; R reports — except while typing in a text field.
// Tests reach the live RTCPeerConnection as window.__palaver.roulette.pc.

import * as api from "../api.js";
import { h } from "../dom.js";
import { currentLanguage, isRtl, onLanguageChange, translateDom } from "../i18n.js";
import { gateway, STATE as GATEWAY } from "../gateway.js";
import { rememberBan } from "./banned.js";
import { chatPanel } from "./roulette-chat.js";
import { CameraError, closeCamera, openCamera } from "./roulette-media.js";
import { partnerLine, shortcutsList, signInPanel } from "./roulette-parts.js";
import { prefsPanel } from "./roulette-prefs.js";
import { askReport } from "./roulette-report.js";
import { PHASE, RouletteSession, rouletteErrorKey } from "./roulette-session.js";
import { SnapshotSender } from "./roulette-snapshots.js";
import { confirmTerms } from "./roulette-terms.js";

const MAX_CHAT_CHARS = 1000; // the server's RoulettePolicy.max_chat_chars
const STATS_TOPIC = "roulette:stats";

function isTyping(target) {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
}

/** The caller's ban, if any (null when none, or when it cannot be known now). */
async function currentBan(signal) {
  try {
    return (await api.moderation.me({ signal }))?.ban ?? null;
  } catch {
    return null; // the server says so again when Start is pressed
  }
}

export async function render(ctx) {
  const { session, signal } = ctx;
  const user = session.currentUser();
  if (!user) return signInPanel(ctx);
  const ban = await currentBan(signal);
  if (ban) {
    rememberBan(ban);
    return { redirect: "/banned" };
  }

  const gw = gateway();
  const formatter = () => new Intl.NumberFormat(currentLanguage());

  // ---- parts of the page
  const partnerVideo = h("video", { class: "partner-video", autoplay: true, playsinline: true, "data-testid": "partner-video" });
  const selfVideo = h("video", { class: "self-video", autoplay: true, playsinline: true, muted: true, "data-testid": "self-video" });
  selfVideo.muted = true;
  const overlay = h("p", { class: "stage-overlay", i18n: "roulette.video.nobody" });
  const selfBox = h("figure", { class: "self-view", hidden: true },
    selfVideo, h("figcaption", { class: "visually-hidden", i18n: "roulette.video.self" }));
  const stage = h(
    "figure",
    { class: "stage", "aria-labelledby": "roulette-partner-caption" },
    partnerVideo,
    overlay,
    selfBox,
    h("figcaption", { id: "roulette-partner-caption", class: "visually-hidden", i18n: "roulette.video.partner" }),
  );
  const status = h("p", { class: "roulette-status", role: "status", "aria-live": "polite", "data-testid": "roulette-status" });
  const partnerInfo = h("p", { class: "partner-info", "aria-live": "polite" });
  const stats = h("p", { class: "roulette-stats", "data-testid": "roulette-stats", hidden: true });
  const connection = h("p", { class: "connection-state", role: "status", hidden: true });
  const startButton = h("button", { type: "button", class: "button primary large", i18n: "roulette.action.start" });
  const nextButton = h("button", { type: "button", class: "button primary large", i18n: "roulette.action.next", disabled: true, "aria-keyshortcuts": "N Control+ArrowRight Meta+ArrowRight" });
  const stopButton = h("button", { type: "button", class: "button large", i18n: "roulette.action.stop", disabled: true, "aria-keyshortcuts": "Escape" });
  const blockButton = h("button", { type: "button", class: "button danger", i18n: "roulette.action.block", i18nTitle: "roulette.action.block_hint", disabled: true });
  const reportButton = h("button", { type: "button", class: "button danger", i18n: "roulette.action.report", i18nTitle: "roulette.action.report_hint", disabled: true, "aria-keyshortcuts": "R", "aria-haspopup": "dialog" });

  let roulette = null;
  const chat = chatPanel({
    maxLength: MAX_CHAT_CHARS,
    onSend: (text) => roulette.sendChat(text),
    errorKey: rouletteErrorKey,
  });
  const prefs = prefsPanel({ user, onChange: () => renderPhase() });
  let camera = null;
  let starting = false;
  let startRuns = 0;
  let shownPairId = null;
  let reporting = false;
  const snapshots = new SnapshotSender({ video: selfVideo, onBanned: (ban) => banned(ban) });

  const main = h(
    "div",
    { class: "roulette-main" },
    h("div", { class: "roulette-call" },
      stage,
      h("div", { class: "roulette-controls" },
        h("div", { class: "actions" }, startButton, nextButton, stopButton, blockButton, reportButton),
        status,
        partnerInfo),
    ),
    chat.node,
  );
  const node = h(
    "div",
    { class: "roulette" },
    h(
      "header",
      { class: "roulette-head" },
      h("h1", { id: "roulette-title", tabindex: "-1", i18n: "nav.roulette" }),
      stats,
      connection,
    ),
    main,
    prefs.node,
    shortcutsList(),
  );

  // ---- rendering the state
  function say(element, key, vars) {
    element.setAttribute("data-i18n", key);
    if (vars) element.setAttribute("data-i18n-vars", JSON.stringify(vars));
    else element.removeAttribute("data-i18n-vars");
    translateDom(element);
  }

  function renderPhase() {
    const phase = roulette.phase;
    const textOnly = roulette.active ? roulette.textOnly : prefs.value().textOnly;
    node.dataset.phase = phase;
    main.classList.toggle("text-only", textOnly);
    say(status, roulette.status);
    startButton.disabled = roulette.active || starting;
    startButton.hidden = roulette.active;
    nextButton.hidden = !roulette.active;
    nextButton.disabled = !(roulette.paired || phase === PHASE.alone);
    stopButton.disabled = !roulette.active && !starting;
    blockButton.disabled = !roulette.paired;
    blockButton.hidden = !roulette.active;
    reportButton.disabled = !roulette.reportable || reporting;
    reportButton.hidden = !roulette.active;
    prefs.setLocked(roulette.active || starting);
    chat.setEnabled(roulette.paired);
    overlay.hidden = phase === PHASE.connected && !roulette.pair?.textOnly;
    say(overlay, {
      [PHASE.searching]: "roulette.video.searching",
      [PHASE.starting]: "roulette.video.searching",
      [PHASE.connecting]: "roulette.video.connecting",
    }[phase] ?? "roulette.video.nobody");
    const pairId = roulette.pair?.id ?? null;
    if (pairId && !roulette.pair.textOnly && camera) snapshots.start(pairId);
    else if (!pairId) snapshots.stop();
    if (pairId !== shownPairId) {
      if (pairId) {
        chat.clear();
        chat.notice("roulette.chat.partner_joined", { name: roulette.pair.partner?.display_name ?? "" });
      }
      shownPairId = pairId;
      partnerInfo.replaceChildren(...partnerLine(roulette.pair).filter(Boolean));
      translateDom(partnerInfo);
    }
  }

  function renderConnection(state) {
    const key = { [GATEWAY.connecting]: "gateway.connecting", [GATEWAY.offline]: "gateway.offline" }[state];
    connection.hidden = !key || state === GATEWAY.connecting && !roulette.active;
    if (key) say(connection, key);
  }

  function renderStats(data) {
    if (!data || typeof data.online !== "number") return;
    const format = formatter();
    stats.hidden = false;
    say(stats, "roulette.counts", { online: format.format(data.online), searching: format.format(data.searching ?? 0) });
  }

  // ---- actions
  async function startCamera() {
    if (camera) return camera;
    camera = await openCamera();
    selfVideo.srcObject = camera;
    selfBox.hidden = false;
    return camera;
  }

  function releaseCamera() {
    closeCamera(camera);
    camera = null;
    selfVideo.srcObject = null;
    selfBox.hidden = true;
  }

  async function start() {
    if (roulette.active || starting) return;
    const run = ++startRuns;
    const cancelled = () => run !== startRuns || signal.aborted; // Stop pressed, or the page left
    starting = true;
    renderPhase();
    try {
      if (!(await confirmTerms(node)) || cancelled()) return;
      const choice = prefs.value();
      let stream = null;
      if (!choice.textOnly) {
        say(status, "roulette.status.camera_starting");
        try {
          stream = await startCamera();
        } catch (error) {
          if (!(error instanceof CameraError)) throw error;
          if (!cancelled()) roulette.report(error.statusKey);
          return;
        }
      } else {
        releaseCamera();
      }
      if (cancelled()) {
        releaseCamera();
        return;
      }
      chat.clear();
      await roulette.start(choice, stream);
    } finally {
      starting = false;
      renderPhase();
    }
  }

  // Leaving a partner by choice clears the conversation at once; when the partner leaves, it stays
  // readable (with a notice) until the next person arrives.
  async function stop() {
    startRuns += 1;
    releaseCamera();
    chat.clear();
    await roulette.stop();
  }

  function next() {
    chat.clear();
    return roulette.next();
  }

  function block() {
    chat.clear();
    return roulette.block();
  }

  async function report() {
    if (!roulette.reportable || reporting) return;
    reporting = true;
    renderPhase();
    try {
      const answer = await askReport(node);
      if (!answer || !roulette.reportable || signal.aborted) return;
      chat.clear();
      await roulette.reportPartner(answer.reason, answer.note);
    } finally {
      reporting = false;
      if (!signal.aborted) renderPhase();
    }
  }

  /** Banned from Roulette (`ban`: the BanJson when known): the ban page explains. */
  function banned(ban) {
    if (signal.aborted) return;
    snapshots.stop();
    releaseCamera();
    if (ban) rememberBan(ban);
    ctx.navigate("/banned", { replace: true });
  }

  startButton.addEventListener("click", () => start());
  nextButton.addEventListener("click", () => next());
  stopButton.addEventListener("click", () => stop());
  blockButton.addEventListener("click", () => block());
  reportButton.addEventListener("click", () => report());

  roulette = new RouletteSession({
    gateway: gw,
    onChange: () => renderPhase(),
    onChat: (text) => chat.add("partner", text),
    onPartnerLeft: () => chat.notice("roulette.chat.partner_left"),
    onRemoteStream: (stream) => {
      partnerVideo.srcObject = stream;
      if (stream) partnerVideo.play().catch(() => {});
    },
    onBanned: (ban) => banned(ban),
  });

  // ---- keyboard
  function onKey(event) {
    if (event.defaultPrevented || event.altKey) return;
    if (event.key === "Escape") {
      if (document.querySelector("dialog[open]") || !roulette.active) return;
      event.preventDefault();
      stop();
      return;
    }
    if (isTyping(event.target)) return;
    const forward = isRtl() ? "ArrowLeft" : "ArrowRight";
    // N by its letter, or by its place when the layout has no Latin letters there (Arabic: ى).
    const isN = event.key === "n" || event.key === "N" || (event.code === "KeyN" && !/^[a-z]$/i.test(event.key));
    const plainN = isN && !event.ctrlKey && !event.metaKey;
    const arrow = event.key === forward && (event.ctrlKey || event.metaKey) && !event.shiftKey;
    if ((plainN || arrow) && !nextButton.disabled && !nextButton.hidden) {
      event.preventDefault();
      next();
      return;
    }
    const isR = event.key === "r" || event.key === "R" || (event.code === "KeyR" && !/^[a-z]$/i.test(event.key));
    if (isR && !event.ctrlKey && !event.metaKey && !reportButton.disabled && !reportButton.hidden) {
      event.preventDefault();
      report();
    }
  }
  document.addEventListener("keydown", onKey);

  // ---- live counts
  async function subscribeStats() {
    try {
      await gw.request("topics.subscribe", { topics: [STATS_TOPIC] });
    } catch (error) {
      console.warn("roulette: no live counts", error);
    }
    try {
      renderStats(await gw.request("roulette.stats", {}));
    } catch {
      // The counts are decoration.
    }
  }

  const cleanups = [
    gw.on("roulette.stats", renderStats),
    gw.onReady(() => subscribeStats()),
    gw.onState(renderConnection),
    onLanguageChange(() => renderPhase()),
    () => document.removeEventListener("keydown", onKey),
  ];
  window.__palaver = window.__palaver ?? {};
  window.__palaver.roulette = {
    get pc() {
      return roulette.call?.pc ?? null;
    },
    get phase() {
      return roulette.phase;
    },
    get pairId() {
      return roulette.pair?.id ?? null;
    },
    get snapshotsSent() {
      return snapshots.sent;
    },
  };

  signal.addEventListener("abort", () => {
    for (const cleanup of cleanups) cleanup();
    if (gw.state === GATEWAY.ready) gw.request("topics.unsubscribe", { topics: [STATS_TOPIC] }).catch(() => {});
    snapshots.stop();
    roulette.dispose();
    releaseCamera();
    partnerVideo.srcObject = null;
    delete window.__palaver.roulette;
  });

  renderPhase();
  renderConnection(gw.state);
  return { node, title: "nav.roulette" };
}

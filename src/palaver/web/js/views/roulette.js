// Roulette: random one-to-one video chat. The page wires the pieces together: the criteria
// (roulette-prefs), the rules (roulette-terms), the camera (roulette-media), the server state
// and the call (roulette-session, roulette-call) and the text chat (roulette-chat).
//
// Keyboard: Esc stops; N, or Ctrl/⌘ + the "forward" arrow (→, or ← in a right-to-left language),
// meets the next person — except while typing in a text field.
// Tests reach the live RTCPeerConnection as window.__palaver.roulette.pc.

import { h } from "../dom.js";
import { busy, formAlert, showError } from "../forms.js";
import { currentLanguage, hasKey, isRtl, onLanguageChange, translateDom } from "../i18n.js";
import { gateway, STATE as GATEWAY } from "../gateway.js";
import { chatPanel } from "./roulette-chat.js";
import { CameraError, closeCamera, openCamera } from "./roulette-media.js";
import { prefsPanel } from "./roulette-prefs.js";
import { PHASE, RouletteSession, rouletteErrorKey } from "./roulette-session.js";
import { confirmTerms } from "./roulette-terms.js";

const MAX_CHAT_CHARS = 1000; // the server's RoulettePolicy.max_chat_chars
const STATS_TOPIC = "roulette:stats";

function signInPanel({ session }) {
  const form = h(
    "form",
    { class: "start", novalidate: true },
    formAlert(),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "button primary large", i18n: "auth.continue_as_guest" }),
      h("a", { href: "/signin?next=/roulette", class: "button large", i18n: "auth.sign_in" }),
      h("a", { href: "/signup?next=/roulette", class: "button ghost large", i18n: "auth.sign_up" }),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await busy(form, () => session.continueAsGuest()); // the shell then renders the page again
    } catch (error) {
      showError(form, error);
    }
  });
  const node = h(
    "section",
    { class: "panel narrow roulette-signin", "aria-labelledby": "roulette-title" },
    h("h1", { id: "roulette-title", tabindex: "-1", i18n: "nav.roulette" }),
    h("p", { class: "lead", i18n: "roulette.signin.text" }),
    form,
  );
  return { node, title: "nav.roulette" };
}

function isTyping(target) {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
}

function shortcutsList() {
  return h(
    "section",
    { class: "roulette-shortcuts", "aria-labelledby": "roulette-shortcuts-title" },
    h("h2", { id: "roulette-shortcuts-title", i18n: "roulette.shortcuts.title" }),
    h(
      "dl",
      {},
      h("dt", {}, h("kbd", { text: "N" }), " ", h("span", { i18n: "roulette.shortcuts.or" }), " ",
        h("kbd", { text: "Ctrl" }), "/", h("kbd", { text: "⌘" }), " + ", h("kbd", { class: "key-forward" })),
      h("dd", { i18n: "roulette.shortcuts.next" }),
      h("dt", {}, h("kbd", { text: "Esc" })),
      h("dd", { i18n: "roulette.shortcuts.stop" }),
    ),
    h("p", { class: "hint", i18n: "roulette.shortcuts.hint" }),
  );
}

function partnerLine(pair) {
  if (!pair) return [];
  const partner = pair.partner ?? {};
  const languages = (partner.languages ?? []).map((code) =>
    hasKey(`language.name.${code}`) ? h("span", { i18n: `language.name.${code}` }) : h("span", { text: code }),
  );
  const common = partner.common_interests ?? [];
  return [
    h("span", {
      class: "partner-name",
      i18n: "roulette.partner.talking_to",
      i18nVars: { name: partner.display_name ?? "" },
    }),
    languages.length
      ? h("span", { class: "partner-languages" }, h("span", { i18n: "roulette.partner.speaks" }), " ",
          languages.flatMap((node, index) => (index ? [", ", node] : [node])))
      : null,
    common.length
      ? h("span", { class: "partner-common" }, h("span", { i18n: "roulette.partner.common" }), " ",
          common.map((interest) => h("bdi", { class: "tag small", text: interest })))
      : null,
  ];
}

export function render(ctx) {
  const { session, signal } = ctx;
  const user = session.currentUser();
  if (!user) return signInPanel(ctx);

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

  const main = h(
    "div",
    { class: "roulette-main" },
    h("div", { class: "roulette-call" },
      stage,
      h("div", { class: "roulette-controls" },
        h("div", { class: "actions" }, startButton, nextButton, stopButton, blockButton),
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
    prefs.setLocked(roulette.active || starting);
    chat.setEnabled(roulette.paired);
    overlay.hidden = phase === PHASE.connected && !roulette.pair?.textOnly;
    say(overlay, {
      [PHASE.searching]: "roulette.video.searching",
      [PHASE.starting]: "roulette.video.searching",
      [PHASE.connecting]: "roulette.video.connecting",
    }[phase] ?? "roulette.video.nobody");
    const pairId = roulette.pair?.id ?? null;
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

  startButton.addEventListener("click", () => start());
  nextButton.addEventListener("click", () => next());
  stopButton.addEventListener("click", () => stop());
  blockButton.addEventListener("click", () => block());

  roulette = new RouletteSession({
    gateway: gw,
    onChange: () => renderPhase(),
    onChat: (text) => chat.add("partner", text),
    onPartnerLeft: () => chat.notice("roulette.chat.partner_left"),
    onRemoteStream: (stream) => {
      partnerVideo.srcObject = stream;
      if (stream) partnerVideo.play().catch(() => {});
    },
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
  };

  signal.addEventListener("abort", () => {
    for (const cleanup of cleanups) cleanup();
    if (gw.state === GATEWAY.ready) gw.request("topics.unsubscribe", { topics: [STATS_TOPIC] }).catch(() => {});
    roulette.dispose();
    releaseCamera();
    partnerVideo.srcObject = null;
    delete window.__palaver.roulette;
  });

  renderPhase();
  renderConnection(gw.state);
  return { node, title: "nav.roulette" };
}

// The ban page (/banned): why the user cannot use Roulette, for how long (a live countdown, or
// "until a moderator reviews it"), and how to appeal. Messenger stays usable; only Roulette is
// closed. When the countdown reaches zero, a link leads back to Roulette.
//
// The Roulette page hands over the ban it was told about (rememberBan) so the page shows at once;
// GET /moderation/me is the authority (it also knows bans through the device and the IP).

import * as api from "../api.js";
import { ApiError } from "../api.js";
import { h } from "../dom.js";
import { busy, clearFormMessages, formAlert, formStatus, showError, showFormError } from "../forms.js";
import { currentLanguage, onLanguageChange, translateDom } from "../i18n.js";

export const MAX_APPEAL_CHARS = 2000; // the server's limit
const REASONS = new Set(["reports", "nudity_detected", "moderator"]);
let remembered = null;

/** The ban the Roulette page just learned of (the roulette.banned event or a snapshot reply). */
export function rememberBan(ban) {
  remembered = ban;
}

function seconds(value) {
  return Math.max(0, Math.ceil(value));
}

/** "1h 2m 3s" in the current language (Intl.DurationFormat where the browser has it). */
export function formatDuration(total) {
  const value = seconds(total);
  const parts = {
    days: Math.floor(value / 86400),
    hours: Math.floor((value % 86400) / 3600),
    minutes: Math.floor((value % 3600) / 60),
    seconds: value % 60,
  };
  if (typeof Intl.DurationFormat === "function") {
    return new Intl.DurationFormat(currentLanguage(), { style: "narrow" }).format(parts);
  }
  const clock = [parts.hours, parts.minutes, parts.seconds].map((n) => String(n).padStart(2, "0")).join(":");
  return parts.days ? `${parts.days}d ${clock}` : clock;
}

function say(element, key, vars) {
  element.setAttribute("data-i18n", key);
  if (vars) element.setAttribute("data-i18n-vars", JSON.stringify(vars));
  else element.removeAttribute("data-i18n-vars");
  translateDom(element);
}

function appealState(appeal) {
  const node = h(
    "div",
    { class: "appeal-state", "data-testid": "appeal-state", "data-state": appeal.state },
    h("p", { class: "status", role: "status", i18n: `banned.appeal.state.${appeal.state}` }),
    h("p", { class: "meta" }, h("span", { i18n: "banned.appeal.sent_at" }), " ",
      h("time", { "data-timestamp": appeal.created_at })),
    h("blockquote", { class: "appeal-text" }, h("bdi", { dir: "auto", text: appeal.text })),
    appeal.decision_note
      ? h("p", {}, h("span", { i18n: "banned.appeal.decision_note" }), " ", h("bdi", { dir: "auto", text: appeal.decision_note }))
      : null,
  );
  translateDom(node);
  return node;
}

function appealForm(onSent) {
  const text = h("textarea", {
    id: "appeal-text",
    name: "text",
    rows: 5,
    maxlength: MAX_APPEAL_CHARS,
    required: true,
    dir: "auto",
    "aria-describedby": "appeal-text-hint",
  });
  const form = h(
    "form",
    { class: "stack", novalidate: true },
    formAlert(),
    h(
      "div",
      { class: "field" },
      h("label", { for: "appeal-text", i18n: "banned.appeal.label" }),
      text,
      h("p", { class: "hint", id: "appeal-text-hint", i18n: "banned.appeal.hint", i18nVars: { max: MAX_APPEAL_CHARS } }),
    ),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button primary", i18n: "banned.appeal.send" })),
    formStatus(),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFormMessages(form);
    const value = text.value.trim();
    if (!value) {
      showFormError(form, "errors.required", "text");
      return;
    }
    try {
      onSent(await busy(form, () => api.moderation.appeal(value)));
    } catch (error) {
      if (error instanceof ApiError && error.code === "appeal_exists") onSent(null);
      else showError(form, error);
    }
  });
  return form;
}

export async function render({ session, signal }) {
  if (!session.currentUser()) return { redirect: "/roulette" };
  let ban = remembered;
  remembered = null;
  try {
    ban = (await api.moderation.me({ signal }))?.ban ?? null;
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    // Unreachable: show what the Roulette page was told, if anything.
  }
  if (!ban) {
    const node = h(
      "section",
      { class: "panel narrow notice banned", "data-testid": "ban-none" },
      h("h1", { tabindex: "-1", i18n: "banned.none_title" }),
      h("p", { i18n: "banned.none_text" }),
      h("p", {}, h("a", { href: "/roulette", class: "button primary", i18n: "banned.back_to_roulette" })),
    );
    return { node, title: "banned.none_title" };
  }

  const reason = REASONS.has(ban.reason) ? ban.reason : "moderator";
  const remaining = h("p", { class: "ban-remaining", "data-testid": "ban-remaining", "aria-live": "off" });
  const over = h(
    "div",
    { class: "ban-over", role: "status", hidden: true, "data-testid": "ban-over" },
    h("p", { i18n: "banned.over" }),
    h("p", {}, h("a", { href: "/roulette", class: "button primary", i18n: "banned.back_to_roulette" })),
  );
  const appealBox = h("div", { class: "appeal" });
  const node = h(
    "section",
    { class: "panel narrow banned", "aria-labelledby": "banned-title", "data-testid": "ban-page", "data-ban-id": ban.id },
    h("h1", { id: "banned-title", tabindex: "-1", i18n: "banned.title" }),
    h("p", { class: "lead", i18n: "banned.intro" }),
    h(
      "dl",
      { class: "facts" },
      h("dt", { i18n: "banned.reason_label" }),
      h("dd", { "data-testid": "ban-reason" },
        h("span", { i18n: `banned.reason.${reason}` }),
        // A moderator's own words; automatic bans are explained by the reason alone (in any language).
        reason === "moderator" && ban.reason_text
          ? h("span", { class: "ban-note" }, " — ", h("bdi", { dir: "auto", text: ban.reason_text }))
          : null),
      h("dt", { i18n: "banned.remaining_label" }),
      h("dd", {}, remaining),
      h("dt", { i18n: "banned.started_label" }),
      h("dd", {}, h("time", { "data-timestamp": ban.starts_at })),
    ),
    over,
    h("p", { class: "hint", i18n: "banned.messenger_ok" }),
    h("h2", { i18n: "banned.appeal.title" }),
    appealBox,
  );

  function showAppeal(appeal) {
    if (appeal) {
      appealBox.replaceChildren(appealState(appeal));
      return;
    }
    appealBox.replaceChildren(
      h("p", { i18n: "banned.appeal.intro" }),
      appealForm(async (sent) => {
        if (sent) return showAppeal(sent);
        // One was already open (another tab): show it.
        const fresh = await api.moderation.me().catch(() => null);
        showAppeal(fresh?.ban?.appeal ?? null);
      }),
    );
    translateDom(appealBox);
  }
  showAppeal(ban.appeal ?? null);

  let timer = null;
  function tick() {
    if (ban.ends_at === null || ban.ends_at === undefined) {
      remaining.removeAttribute("data-seconds");
      say(remaining, "banned.until_review");
      return;
    }
    const left = seconds(Number(ban.ends_at) - Date.now() / 1000);
    remaining.setAttribute("data-seconds", String(left));
    if (left <= 0) {
      clearInterval(timer);
      say(remaining, "banned.ended");
      over.hidden = false;
      translateDom(over);
      return;
    }
    say(remaining, "banned.remaining", { time: formatDuration(left) });
  }
  tick();
  if (ban.ends_at !== null && ban.ends_at !== undefined) timer = setInterval(tick, 1000);
  const offLanguage = onLanguageChange(() => tick());
  signal.addEventListener("abort", () => {
    clearInterval(timer);
    offLanguage();
  });
  translateDom(node);
  return { node, title: "banned.title" };
}

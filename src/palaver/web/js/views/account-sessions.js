// "Where you're signed in": the account's sessions, this device marked, the others revocable.

import * as api from "../api.js";
import { h } from "../dom.js";
import { errorKey } from "../forms.js";
import { translateDom } from "../i18n.js";

const BROWSERS = [
  [/Edg\//, "Edge"],
  [/OPR\//, "Opera"],
  [/Firefox\//, "Firefox"],
  [/Chrom(e|ium)\//, "Chromium"],
  [/Safari\//, "Safari"],
];
const SYSTEMS = [
  [/Android/, "Android"],
  [/iPhone|iPad|iOS/, "iOS"],
  [/Windows/, "Windows"],
  [/Mac OS X|Macintosh/, "macOS"],
  [/CrOS/, "ChromeOS"],
  [/Linux/, "Linux"],
];

function pick(table, text) {
  return table.find(([pattern]) => pattern.test(text))?.[1] ?? null;
}

/** A short description of the device ("Firefox · Linux"), from its user agent. */
function deviceLabel(userAgent) {
  const text = String(userAgent ?? "");
  const browser = pick(BROWSERS, text);
  const system = pick(SYSTEMS, text);
  if (browser && system) return { i18n: "sessions.device", i18nVars: { browser, system } };
  if (browser || system) return { text: browser ?? system };
  if (text) return { text: text.slice(0, 60) };
  return { i18n: "sessions.unknown_device" };
}

function timestamp(labelKey, seconds) {
  if (seconds === null || seconds === undefined) return null;
  return h(
    "p",
    { class: "meta" },
    h("span", { i18n: labelKey }),
    " ",
    h("time", { "data-timestamp": seconds, datetime: new Date(seconds * 1000).toISOString() }),
  );
}

function sessionItem(item, onRevoke) {
  return h(
    "li",
    { class: item.current ? "session current" : "session", "data-session-id": item.id },
    h(
      "div",
      { class: "session-info" },
      h("p", { class: "device" }, h("span", deviceLabel(item.user_agent)), " ",
        item.current ? h("span", { class: "badge accent", i18n: "sessions.this_device" }) : null),
      timestamp("sessions.last_active", item.last_seen_at),
      timestamp("sessions.signed_in", item.created_at),
    ),
    item.current
      ? null
      : h("button", {
          type: "button",
          class: "button small",
          i18n: "sessions.revoke",
          onclick: (event) => onRevoke(item, event.currentTarget),
        }),
  );
}

export function sessionsSection({ signal }) {
  const list = h("ul", { class: "sessions", role: "list" });
  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const section = h(
    "section",
    { class: "panel", "aria-labelledby": "sessions-title", "aria-busy": "true" },
    h("h2", { id: "sessions-title", i18n: "sessions.title" }),
    h("p", { class: "hint", i18n: "sessions.intro" }),
    status,
    list,
  );

  function say(key) {
    status.setAttribute("data-i18n", key);
    translateDom(status);
  }

  async function revoke(item, button) {
    button.disabled = true;
    try {
      await api.sessions.revoke(item.id);
      say("sessions.revoked");
      await load();
    } catch (error) {
      button.disabled = false;
      say(errorKey(error));
    }
  }

  async function load() {
    section.setAttribute("aria-busy", "true");
    try {
      const { sessions } = await api.sessions.list({ signal });
      const ordered = [...sessions].sort((a, b) => Number(b.current) - Number(a.current));
      list.replaceChildren(...ordered.map((item) => sessionItem(item, revoke)));
      translateDom(list);
    } catch (error) {
      if (error?.name === "AbortError") return;
      say(errorKey(error));
    } finally {
      section.removeAttribute("aria-busy");
    }
  }

  load();
  return section;
}

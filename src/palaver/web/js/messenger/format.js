// Showing messenger data: message text with its entities (as DOM, never parsed HTML), times,
// chat titles, previews, and translated errors.

import { ApiError, NetworkError } from "../api.js";
import { h } from "../dom.js";
import { errorKey as generalErrorKey } from "../forms.js";
import { currentLanguage, hasKey, t } from "../i18n.js";

/** The i18n key explaining an error: the messenger's own codes first, then the shared ones. */
export function errorKey(error) {
  if (error instanceof ApiError || error instanceof NetworkError || error?.name === "GatewayError") {
    const key = `messenger.error.${error.code}`;
    if (hasKey(key)) return key;
  }
  return generalErrorKey(error);
}

// ---- text with entities -------------------------------------------------------------------------

const URL_IN_TEXT = /\bhttps?:\/\/[^\s<>"]+/gi;
const TRAILING = /[.,;:!?)\]}'"»]+$/;

/** `url` entities for the links in plain text (offsets in UTF-16 code units, like JS strings). */
export function detectEntities(text) {
  const entities = [];
  for (const match of text.matchAll(URL_IN_TEXT)) {
    const url = match[0].replace(TRAILING, "");
    if (url.length > 10 && url.length <= 2048) entities.push({ type: "url", offset: match.index, length: url.length });
  }
  return entities;
}

function safeUrl(raw) {
  try {
    const url = new URL(raw);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

function entityNode(entity, children, text) {
  switch (entity.type) {
    case "bold":
      return h("strong", {}, children);
    case "italic":
      return h("em", {}, children);
    case "code":
      return h("code", { dir: "ltr" }, children);
    case "pre":
      return h("pre", { dir: "ltr", "data-language": entity.language ?? null }, h("code", {}, children));
    case "url":
    case "text_link": {
      const href = safeUrl(entity.type === "url" ? text : entity.url);
      if (!href) return h("span", {}, children);
      return h("a", { href, target: "_blank", rel: "noopener noreferrer nofollow", dir: "auto" }, children);
    }
    case "mention":
      return h("span", { class: "mention", dir: "ltr" }, children);
    default:
      return h("span", {}, children);
  }
}

/** Render `text` with `entities` (nested, never partly overlapping) into an array of nodes. */
export function richText(text, entities = []) {
  const sorted = [...(entities ?? [])]
    .filter((e) => e.offset >= 0 && e.length > 0 && e.offset + e.length <= text.length)
    .sort((a, b) => a.offset - b.offset || b.length - a.length);
  const build = (start, end, list) => {
    const nodes = [];
    let cursor = start;
    let index = 0;
    while (index < list.length) {
      const entity = list[index];
      const stop = entity.offset + entity.length;
      const inner = [];
      index += 1;
      while (index < list.length && list[index].offset < stop) {
        if (list[index].offset + list[index].length <= stop) inner.push(list[index]);
        index += 1;
      }
      if (entity.offset > cursor) nodes.push(text.slice(cursor, entity.offset));
      const slice = text.slice(entity.offset, stop);
      nodes.push(entityNode(entity, build(entity.offset, stop, inner), slice));
      cursor = stop;
    }
    if (cursor < end) nodes.push(text.slice(cursor, end));
    return nodes;
  };
  return build(0, text.length, sorted);
}

// ---- times --------------------------------------------------------------------------------------

export function clockTime(seconds) {
  return new Intl.DateTimeFormat(currentLanguage(), { timeStyle: "short" }).format(new Date(seconds * 1000));
}

export function fullTime(seconds) {
  return new Intl.DateTimeFormat(currentLanguage(), { dateStyle: "full", timeStyle: "short" }).format(
    new Date(seconds * 1000),
  );
}

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** A short time for the dialog list: the time today, the weekday this week, else the date. */
export function shortTime(seconds) {
  const date = new Date(seconds * 1000);
  const now = new Date();
  const lang = currentLanguage();
  if (sameDay(date, now)) return new Intl.DateTimeFormat(lang, { timeStyle: "short" }).format(date);
  if (now - date < 6 * 24 * 3600 * 1000) return new Intl.DateTimeFormat(lang, { weekday: "short" }).format(date);
  return new Intl.DateTimeFormat(lang, { dateStyle: "short" }).format(date);
}

/** The day heading between messages of different days. */
export function dayLabel(seconds) {
  const date = new Date(seconds * 1000);
  const now = new Date();
  if (sameDay(date, now)) return t("messenger.today");
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (sameDay(date, yesterday)) return t("messenger.yesterday");
  return new Intl.DateTimeFormat(currentLanguage(), { dateStyle: "long" }).format(date);
}

export function dayKey(seconds) {
  const date = new Date(seconds * 1000);
  return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;
}

// ---- names and previews -------------------------------------------------------------------------

/** The title of a chat as its dialog shows it. */
export function chatTitle(store, chat, peer = null) {
  if (!chat) return "";
  if (chat.kind === "private") {
    if (store.isSavedMessages(chat)) return t("messenger.saved_messages");
    const user = peer ?? store.users.get(chat.peer_id);
    return user?.display_name ?? t("messenger.unknown_user");
  }
  return chat.title;
}

export function userName(store, userId) {
  if (!userId) return null;
  if (userId === store.me.id) return t("messenger.you");
  return store.users.get(userId)?.display_name ?? t("messenger.unknown_user");
}

/** A one-line preview of a message, at most `max` characters. */
export function preview(message, max = 80) {
  const text = (message?.text ?? "").replace(/\s+/g, " ").trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The initials shown in an avatar. */
export function initials(name) {
  const words = String(name ?? "").trim().split(/\s+/).filter(Boolean);
  const letters = words.slice(0, 2).map((word) => Array.from(word)[0] ?? "");
  return letters.join("").toUpperCase() || "?";
}

/** A stable hue for an avatar, from an id. */
export function hueOf(id) {
  let hash = 0;
  for (const ch of String(id)) hash = (hash * 31 + ch.charCodeAt(0)) % 360;
  return hash;
}

export function avatar(name, id, extraClass = "") {
  return h("span", {
    class: `avatar ${extraClass}`.trim(),
    "aria-hidden": "true",
    style: `--hue: ${hueOf(id)}`,
    text: initials(name),
  });
}

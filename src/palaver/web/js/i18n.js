// Translations: loads web/i18n/<lang>.json, looks strings up with t(key, vars) and keeps the DOM
// translated. Elements carry their keys (data-i18n, data-i18n-<attribute>), so switching language
// re-translates the page in place without losing what the user typed.

export const LANGUAGES = ["en", "ar", "fr", "de"];
const RTL = new Set(["ar"]);
const FALLBACK = "en";
const STORAGE_KEY = "palaver.lang";

let current = FALLBACK;
let messages = {};
let fallbackMessages = {};
const listeners = new Set();

async function fetchCatalog(lang) {
  const response = await fetch(`/i18n/${lang}.json`, { cache: "no-cache" });
  if (!response.ok) throw new Error(`cannot load /i18n/${lang}.json: ${response.status}`);
  return response.json();
}

function readStoredLanguage() {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

/** The language to start with: the stored choice, else the browser's preference, else English. */
export function preferredLanguage() {
  const stored = readStoredLanguage();
  if (LANGUAGES.includes(stored)) return stored;
  for (const tag of navigator.languages ?? [navigator.language]) {
    const base = String(tag || "").toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return FALLBACK;
}

export function currentLanguage() {
  return current;
}

export function isRtl(lang = current) {
  return RTL.has(lang);
}

export function hasKey(key) {
  return Object.hasOwn(messages, key) || Object.hasOwn(fallbackMessages, key);
}

/** The translation of `key`, with `{name}` placeholders replaced from `vars`. */
export function t(key, vars = undefined) {
  let text = messages[key] ?? fallbackMessages[key];
  if (text === undefined) {
    console.warn(`i18n: missing key ${key}`);
    return key;
  }
  if (vars) {
    text = text.replace(/\{(\w+)\}/g, (match, name) => (name in vars ? String(vars[name]) : match));
  }
  return text;
}

/** A date/time in the current language, from unix seconds. */
export function formatTimestamp(seconds) {
  const date = new Date(Number(seconds) * 1000);
  return new Intl.DateTimeFormat(current, { dateStyle: "medium", timeStyle: "short" }).format(date);
}

function readVars(element) {
  const raw = element.getAttribute("data-i18n-vars");
  if (!raw) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

function translateElement(element) {
  const vars = readVars(element);
  for (const { name, value } of Array.from(element.attributes)) {
    if (name === "data-i18n") {
      element.textContent = t(value, vars);
    } else if (name.startsWith("data-i18n-") && name !== "data-i18n-vars") {
      element.setAttribute(name.slice("data-i18n-".length), t(value, vars));
    }
  }
  if (element.hasAttribute("data-timestamp")) {
    element.textContent = formatTimestamp(element.getAttribute("data-timestamp"));
  }
}

/** Translate `root` and everything under it that carries data-i18n* or data-timestamp attributes. */
export function translateDom(root = document.documentElement) {
  if (root instanceof Element) translateElement(root);
  for (const element of root.querySelectorAll("*")) {
    if (element.attributes.length) translateElement(element);
  }
}

/** Load `lang`, set <html lang/dir>, remember the choice and re-translate the page. */
export async function setLanguage(lang, { remember = true } = {}) {
  if (!LANGUAGES.includes(lang)) lang = FALLBACK;
  const [catalog, fallbackCatalog] = await Promise.all([
    fetchCatalog(lang),
    Object.keys(fallbackMessages).length ? fallbackMessages : fetchCatalog(FALLBACK),
  ]);
  fallbackMessages = fallbackCatalog;
  messages = catalog;
  current = lang;
  const html = document.documentElement;
  html.lang = lang;
  html.dir = isRtl(lang) ? "rtl" : "ltr";
  if (remember) {
    try {
      localStorage.setItem(STORAGE_KEY, lang);
    } catch {
      // Storage can be unavailable (private mode); the choice then lasts for this page only.
    }
  }
  translateDom(document.documentElement);
  for (const listener of listeners) listener(lang);
}

export function onLanguageChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

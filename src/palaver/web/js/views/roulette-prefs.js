// Whom to meet: interests as tags, spoken languages, text-only mode and auto-next. Remembered on
// this device; the spoken languages start from the profile's.

import { h } from "../dom.js";
import { translateDom } from "../i18n.js";

const STORAGE_KEY = "palaver.roulette.prefs";
const LANGUAGE_CHOICES = ["en", "ar", "fr", "de", "es", "it", "pt", "ru", "tr", "zh", "ja", "hi"];
export const MAX_INTERESTS = 10;
export const MAX_INTEREST_CHARS = 24;

let uid = 0;

function load() {
  try {
    const stored = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? "null");
    return stored && typeof stored === "object" ? stored : null;
  } catch {
    return null;
  }
}

function save(prefs) {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(prefs));
  } catch {
    // Without storage the choices last for this page only.
  }
}

/** The same normalisation as the server's: NFKC, lower case, inner spaces collapsed. */
export function normaliseInterest(text) {
  return String(text).normalize("NFKC").toLowerCase().split(/\s+/).filter(Boolean).join(" ");
}

function initialPrefs(user) {
  const stored = load() ?? {};
  const profileLanguages = (user?.languages ?? []).filter((code) => /^[a-z]{2,3}$/.test(code));
  const strings = (list) => (Array.isArray(list) ? list.filter((x) => typeof x === "string") : null);
  return {
    interests: (strings(stored.interests) ?? []).slice(0, MAX_INTERESTS),
    languages: (strings(stored.languages) ?? profileLanguages).slice(0, 8),
    textOnly: stored.textOnly === true,
    autoNext: stored.autoNext !== false,
  };
}

/**
 * The criteria form. `onChange(prefs)` hears every change. Returns { node, value(), setLocked() }:
 * value() is { interests, languages, textOnly, autoNext }; locked while Roulette runs.
 */
export function prefsPanel({ user, onChange = () => {} }) {
  const prefs = initialPrefs(user);
  let locked = false;
  const id = `roulette-prefs-${++uid}`;
  const changed = () => {
    save(prefs);
    onChange({ ...prefs });
  };

  // ---- interests as tags
  const tags = h("ul", { class: "tags", role: "list", i18nAriaLabel: "roulette.prefs.your_interests" });
  const tagInput = h("input", {
    id: `${id}-interest`,
    type: "text",
    maxlength: MAX_INTEREST_CHARS,
    dir: "auto",
    autocomplete: "off",
    enterkeyhint: "done",
    "aria-describedby": `${id}-interest-hint`,
  });
  const tagAlert = h("p", { class: "hint tag-alert", role: "status", "aria-live": "polite" });
  const addButton = h("button", { type: "button", class: "button small", i18n: "roulette.prefs.add_interest" });

  function say(key, vars) {
    if (!key) {
      tagAlert.removeAttribute("data-i18n");
      tagAlert.textContent = "";
      return;
    }
    tagAlert.setAttribute("data-i18n", key);
    tagAlert.setAttribute("data-i18n-vars", JSON.stringify(vars ?? {}));
    translateDom(tagAlert);
  }

  function renderTags() {
    tags.replaceChildren(
      ...prefs.interests.map((interest) =>
        h(
          "li",
          { class: "tag" },
          h("bdi", { text: interest }),
          h(
            "button",
            {
              type: "button",
              class: "tag-remove",
              i18nAriaLabel: "roulette.prefs.remove_interest",
              i18nTitle: "roulette.prefs.remove_interest",
              i18nVars: { interest },
              onclick: () => removeInterest(interest),
            },
            h("span", { "aria-hidden": "true", text: "×" }),
          ),
        ),
      ),
    );
    translateDom(tags);
    tagInput.disabled = locked || prefs.interests.length >= MAX_INTERESTS;
    addButton.disabled = tagInput.disabled;
  }

  function addInterest() {
    const interest = normaliseInterest(tagInput.value);
    if (!interest) return;
    if (prefs.interests.includes(interest)) {
      say("roulette.prefs.interest_exists", { interest });
    } else if (prefs.interests.length >= MAX_INTERESTS) {
      say("roulette.prefs.interests_full", { max: MAX_INTERESTS });
    } else {
      prefs.interests = [...prefs.interests, interest];
      say("roulette.prefs.interest_added", { interest });
      changed();
    }
    tagInput.value = "";
    renderTags();
    if (!tagInput.disabled) tagInput.focus();
  }

  function removeInterest(interest) {
    prefs.interests = prefs.interests.filter((item) => item !== interest);
    say("roulette.prefs.interest_removed", { interest });
    changed();
    renderTags();
    tagInput.focus();
  }

  addButton.addEventListener("click", addInterest);
  tagInput.addEventListener("keydown", (event) => {
    if ((event.key === "Enter" || event.key === ",") && !event.isComposing) {
      event.preventDefault();
      addInterest();
    } else if (event.key === "Backspace" && !tagInput.value && prefs.interests.length) {
      removeInterest(prefs.interests.at(-1));
    }
  });

  // ---- languages
  const known = [...new Set([...LANGUAGE_CHOICES, ...prefs.languages])];
  const languageBoxes = known.map((code) =>
    h(
      "label",
      { class: "check" },
      h("input", {
        type: "checkbox",
        name: "roulette-language",
        value: code,
        checked: prefs.languages.includes(code),
        onchange: (event) => {
          const rest = prefs.languages.filter((item) => item !== code);
          prefs.languages = event.target.checked ? [...rest, code] : rest;
          changed();
        },
      }),
      LANGUAGE_CHOICES.includes(code)
        ? h("span", { i18n: `language.name.${code}` })
        : h("span", { lang: code, text: code }),
    ),
  );

  // ---- modes
  const toggle = (name, key, hintKey, prop) =>
    h(
      "div",
      { class: "check-with-hint" },
      h(
        "label",
        { class: "check" },
        h("input", {
          type: "checkbox",
          name,
          checked: prefs[prop],
          "aria-describedby": `${id}-${name}-hint`,
          onchange: (event) => {
            prefs[prop] = event.target.checked;
            changed();
          },
        }),
        h("span", { i18n: key }),
      ),
      h("p", { class: "hint", id: `${id}-${name}-hint`, i18n: hintKey }),
    );

  const fieldset = h(
    "fieldset",
    { class: "roulette-prefs-fields" },
    h(
      "div",
      { class: "field" },
      h("label", { for: `${id}-interest`, i18n: "roulette.prefs.interests" }),
      h("p", { class: "hint", id: `${id}-interest-hint`, i18n: "roulette.prefs.interests_hint", i18nVars: { max: MAX_INTERESTS } }),
      tags,
      h("div", { class: "tag-entry" }, tagInput, addButton),
      tagAlert,
    ),
    h(
      "fieldset",
      { class: "languages" },
      h("legend", { i18n: "roulette.prefs.languages" }),
      h("p", { class: "hint", i18n: "roulette.prefs.languages_hint" }),
      h("div", { class: "checks" }, languageBoxes),
    ),
    toggle("text_only", "roulette.prefs.text_only", "roulette.prefs.text_only_hint", "textOnly"),
    toggle("auto_next", "roulette.prefs.auto_next", "roulette.prefs.auto_next_hint", "autoNext"),
  );
  const node = h(
    "details",
    { class: "panel roulette-prefs", open: true },
    h("summary", {}, h("h2", { i18n: "roulette.prefs.title" })),
    h("p", { class: "hint locked-hint", i18n: "roulette.prefs.locked_hint", hidden: true }),
    fieldset,
  );
  renderTags();

  return {
    node,
    value: () => ({ ...prefs, interests: [...prefs.interests], languages: [...prefs.languages] }),
    /** While Roulette runs the criteria cannot change (they apply from the next Start). */
    setLocked(value) {
      locked = value;
      fieldset.disabled = value;
      node.querySelector(".locked-hint").hidden = !value;
      renderTags();
    },
  };
}

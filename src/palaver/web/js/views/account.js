// The account page: who you are, your profile, your password, your sessions, signing out.

import { h } from "../dom.js";
import {
  busy,
  clearFormMessages,
  field,
  formAlert,
  formStatus,
  showError,
  showFormError,
  showPasswordToggle,
  showStatus,
} from "../forms.js";
import { translateDom } from "../i18n.js";
import { sessionsSection } from "./account-sessions.js";

// Spoken languages offered as checkboxes; anything else can be typed as ISO 639 codes.
const COMMON_LANGUAGES = ["en", "ar", "fr", "de", "es", "it", "pt", "ru", "tr", "zh", "ja", "hi"];
const MAX_BIO = 140;

function summary(user) {
  return h(
    "dl",
    { class: "facts" },
    h("dt", { i18n: "account.display_name" }),
    h("dd", {}, h("bdi", { "data-testid": "account-display-name", text: user.display_name })),
    user.username
      ? [h("dt", { i18n: "auth.username" }), h("dd", {}, h("bdi", { dir: "ltr", text: `@${user.username}` }))]
      : null,
    h("dt", { i18n: "account.kind" }),
    h("dd", { i18n: `account.kind.${user.kind}` }),
    user.role !== "user" ? [h("dt", { i18n: "account.role" }), h("dd", { i18n: `account.role.${user.role}` })] : null,
    h("dt", { i18n: "account.member_since" }),
    h("dd", {}, h("time", { "data-timestamp": user.created_at, datetime: isoDate(user.created_at) })),
  );
}

function isoDate(seconds) {
  const date = new Date(Number(seconds) * 1000);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

function guestCallout() {
  return h(
    "aside",
    { class: "callout", "aria-labelledby": "guest-callout-title" },
    h("h2", { id: "guest-callout-title", i18n: "account.guest_title" }),
    h("p", { i18n: "account.guest_text" }),
    h("a", { href: "/signup", class: "button primary", i18n: "landing.keep_account" }),
  );
}

function languagesFieldset(selected) {
  const others = selected.filter((code) => !COMMON_LANGUAGES.includes(code));
  return h(
    "fieldset",
    { class: "languages", "data-field": "languages" },
    h("legend", { i18n: "account.languages" }),
    h("p", { class: "hint", i18n: "account.languages_hint" }),
    h(
      "div",
      { class: "checks" },
      COMMON_LANGUAGES.map((code) =>
        h(
          "label",
          { class: "check" },
          h("input", { type: "checkbox", name: "language", value: code, checked: selected.includes(code) }),
          h("span", { i18n: `language.name.${code}` }),
        ),
      ),
    ),
    field({
      name: "languages",
      label: "account.other_languages",
      hint: "account.other_languages_hint",
      value: others.join(", "),
      autocapitalize: "none",
      spellcheck: "false",
    }),
  );
}

/** The chosen languages, keeping the user's existing order and appending new choices. */
function chosenLanguages(form, previous) {
  const checked = new FormData(form).getAll("language");
  const typed = String(form.elements.languages.value)
    .split(/[\s,،;]+/)
    .map((code) => code.trim().toLowerCase())
    .filter(Boolean);
  const wanted = new Set([...checked, ...typed]);
  const kept = previous.filter((code) => wanted.has(code));
  const added = [...checked, ...typed].filter((code) => !previous.includes(code));
  return [...new Set([...kept, ...added])];
}

function sameList(a, b) {
  return a.length === b.length && a.every((item, index) => item === b[index]);
}

function bioCounter(textarea) {
  const counter = h("p", { class: "hint counter", "aria-live": "polite" });
  const update = () => {
    counter.setAttribute("data-i18n", "account.bio_count");
    counter.setAttribute("data-i18n-vars", JSON.stringify({ count: textarea.value.length, max: MAX_BIO }));
    translateDom(counter);
  };
  textarea.addEventListener("input", update);
  update();
  return counter;
}

function profileForm(session) {
  const user = session.currentUser();
  const bio = field({ name: "bio", label: "account.bio", multiline: true, maxlength: MAX_BIO, rows: 3 });
  bio.querySelector("textarea").value = user.bio ?? "";
  const form = h(
    "form",
    { class: "stack", novalidate: true, "aria-labelledby": "profile-title" },
    h("h2", { id: "profile-title", i18n: "account.profile_title" }),
    formAlert(),
    field({
      name: "display_name",
      label: "account.display_name",
      value: user.display_name,
      autocomplete: "nickname",
      required: true,
      maxlength: 64,
    }),
    user.kind === "registered"
      ? field({
          name: "username",
          label: "auth.username",
          hint: "auth.username_hint",
          value: user.username ?? "",
          autocomplete: "username",
          autocapitalize: "none",
          spellcheck: "false",
          maxlength: 32,
        })
      : null,
    bio,
    bioCounter(bio.querySelector("textarea")),
    languagesFieldset(user.languages ?? []),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button primary", i18n: "account.save" })),
    formStatus(),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFormMessages(form);
    const current = session.currentUser();
    const changes = {};
    const displayName = form.elements.display_name.value.trim();
    if (displayName !== current.display_name) changes.display_name = displayName;
    if (form.elements.username) {
      const username = form.elements.username.value.trim();
      if (username && username !== current.username) changes.username = username;
    }
    const bioText = form.elements.bio.value;
    if (bioText !== (current.bio ?? "")) changes.bio = bioText;
    const languages = chosenLanguages(form, current.languages ?? []);
    if (!sameList(languages, current.languages ?? [])) changes.languages = languages;
    if (!displayName) {
      showFormError(form, "errors.required", "display_name");
      return;
    }
    if (Object.keys(changes).length === 0) {
      showStatus(form, "account.no_changes");
      return;
    }
    try {
      await busy(form, () => session.updateProfile(changes));
      showStatus(form, "account.saved");
    } catch (error) {
      showError(form, error);
    }
  });
  return form;
}

function passwordForm(session) {
  const form = h(
    "form",
    { class: "stack", novalidate: true, "aria-labelledby": "password-title" },
    h("h2", { id: "password-title", i18n: "account.password_title" }),
    formAlert(),
    field({
      name: "current_password",
      label: "account.current_password",
      type: "password",
      autocomplete: "current-password",
      required: true,
      "data-password": "",
    }),
    field({
      name: "password",
      label: "account.new_password",
      hint: "auth.password_hint",
      type: "password",
      autocomplete: "new-password",
      required: true,
      "data-password": "",
    }),
    field({
      name: "password_confirm",
      label: "account.confirm_password",
      type: "password",
      autocomplete: "new-password",
      required: true,
      "data-password": "",
    }),
    showPasswordToggle(),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button", i18n: "account.change_password" })),
    formStatus(),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFormMessages(form);
    const { current_password: currentPassword, password, password_confirm: confirm } = form.elements;
    const empty = [currentPassword, password, confirm].find((input) => !input.value);
    if (empty) {
      showFormError(form, "errors.required", empty.name);
      return;
    }
    if (password.value !== confirm.value) {
      showFormError(form, "errors.password_mismatch", "password_confirm");
      return;
    }
    try {
      await busy(form, () =>
        session.changePassword({ currentPassword: currentPassword.value, newPassword: password.value }),
      );
      form.reset();
      showStatus(form, "account.password_changed");
    } catch (error) {
      // Here invalid_credentials means the current password was wrong.
      if (error?.code === "invalid_credentials") {
        showFormError(form, "errors.wrong_current_password", "current_password");
      } else {
        showError(form, error);
      }
    }
  });
  return form;
}

export function render({ session, signal, signOut }) {
  const user = session.currentUser();
  if (!user) return { redirect: "/signin?next=/account" };
  const isGuest = user.kind === "guest";
  const node = h(
    "div",
    { class: "account" },
    h(
      "section",
      { class: "panel", "aria-labelledby": "account-title" },
      h("h1", { id: "account-title", tabindex: "-1", i18n: "account.title" }),
      summary(user),
    ),
    isGuest ? guestCallout() : null,
    h("section", { class: "panel" }, profileForm(session)),
    isGuest ? null : h("section", { class: "panel" }, passwordForm(session)),
    sessionsSection({ signal }),
    h(
      "section",
      { class: "panel", "aria-labelledby": "signout-title" },
      h("h2", { id: "signout-title", i18n: "auth.sign_out" }),
      h("p", { i18n: isGuest ? "account.sign_out_guest_text" : "account.sign_out_text" }),
      h("button", { type: "button", class: "button danger", i18n: "auth.sign_out", onclick: () => signOut() }),
    ),
  );
  return { node, title: "account.title" };
}

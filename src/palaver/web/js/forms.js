// Form building blocks shared by the views: labelled fields, an error/status area, and turning a
// thrown error into a translated message pinned to the field it concerns.

import { ApiError, NetworkError } from "./api.js";
import { h } from "./dom.js";
import { hasKey, translateDom } from "./i18n.js";

let uid = 0;

/** The i18n key that explains `error` to the user. */
export function errorKey(error) {
  if (error instanceof ApiError || error instanceof NetworkError) {
    const key = `errors.${error.code}`;
    if (hasKey(key)) return key;
  }
  if (error instanceof ApiError && error.status === 503) return "errors.unavailable";
  if (error instanceof ApiError && error.status >= 500) return "errors.server_error";
  return "errors.generic";
}

// Which input an API error code is about, by the input's name.
const FIELD_BY_CODE = {
  invalid_username: "username",
  username_taken: "username",
  already_registered: "username",
  invalid_display_name: "display_name",
  invalid_bio: "bio",
  invalid_languages: "languages",
  weak_password: "password",
  invalid_password: "password",
};

/**
 * A labelled input. `name` is the form field name; `label`/`hint` are i18n keys.
 * Other props go to the <input> (or <textarea> with `multiline: true`).
 */
export function field({ name, label, hint, multiline = false, ...props }) {
  const id = `f-${name}-${++uid}`;
  const hintId = hint ? `${id}-hint` : null;
  const control = h(multiline ? "textarea" : "input", {
    id,
    name,
    "aria-describedby": hintId,
    // Text people type may be in either direction (a Latin username in the Arabic interface).
    dir: props.type === "password" ? null : "auto",
    ...props,
  });
  return h(
    "div",
    { class: "field", "data-field": name },
    h("label", { for: id, i18n: label }),
    control,
    hint ? h("p", { class: "hint", id: hintId, i18n: hint }) : null,
  );
}

/** A "show password" checkbox that toggles every password input of its form. */
export function showPasswordToggle() {
  const id = `f-show-password-${++uid}`;
  const box = h("input", {
    type: "checkbox",
    id,
    onchange: (event) => {
      const form = event.target.form;
      for (const input of form.querySelectorAll("input[data-password]")) {
        input.type = event.target.checked ? "text" : "password";
      }
    },
  });
  return h("div", { class: "check" }, box, h("label", { for: id, i18n: "form.show_password" }));
}

/** The live region where a form reports errors (assertive) — place it at the top of the form. */
export function formAlert() {
  return h("p", { class: "alert", role: "alert", hidden: true, "data-form-alert": "" });
}

/** A polite status line for successes ("Saved"). */
export function formStatus() {
  return h("p", { class: "status", role: "status", "aria-live": "polite", "data-form-status": "" });
}

function controlFor(form, name) {
  return name ? form.querySelector(`[name="${name}"]`) : null;
}

export function clearFormMessages(form) {
  const alert = form.querySelector("[data-form-alert]");
  if (alert) {
    alert.hidden = true;
    alert.removeAttribute("data-i18n");
    alert.textContent = "";
  }
  const status = form.querySelector("[data-form-status]");
  if (status) {
    status.removeAttribute("data-i18n");
    status.textContent = "";
  }
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

/** Show a translated message for i18n `key` in the form's alert, marking `fieldName` invalid. */
export function showFormError(form, key, fieldName = null) {
  const alert = form.querySelector("[data-form-alert]");
  alert.setAttribute("data-i18n", key);
  alert.hidden = false;
  translateDom(alert);
  const control = controlFor(form, fieldName);
  if (control) {
    control.setAttribute("aria-invalid", "true");
    control.focus();
  }
}

/** Show the translated explanation of a thrown error in the form. */
export function showError(form, error) {
  if (!(error instanceof ApiError) && !(error instanceof NetworkError)) console.error(error);
  const fieldName = error instanceof ApiError ? FIELD_BY_CODE[error.code] : null;
  showFormError(form, errorKey(error), fieldName);
}

export function showStatus(form, key) {
  const status = form.querySelector("[data-form-status]");
  status.setAttribute("data-i18n", key);
  translateDom(status);
}

/** Disable the submit button while `work` runs, so a double click does not submit twice. */
export async function busy(form, work) {
  const buttons = form.querySelectorAll("button");
  form.setAttribute("aria-busy", "true");
  for (const button of buttons) button.disabled = true;
  try {
    return await work();
  } finally {
    form.removeAttribute("aria-busy");
    for (const button of buttons) button.disabled = false;
  }
}

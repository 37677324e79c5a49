// Sign in, sign up, and — for a signed-in guest — keep the guest account by choosing a username
// and password (an upgrade: same account, same data).

import { h } from "../dom.js";
import {
  busy,
  clearFormMessages,
  field,
  formAlert,
  showError,
  showFormError,
  showPasswordToggle,
} from "../forms.js";

/** Where to go after signing in: a local path from ?next=, else home. */
function nextPath(params) {
  const next = params.get("next");
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

function values(form) {
  return Object.fromEntries(new FormData(form).entries());
}

function authForm({ titleKey, introKey, fields, submitKey, footer, onSubmit }) {
  const form = h(
    "form",
    { class: "stack", novalidate: true, "aria-labelledby": "auth-title" },
    formAlert(),
    ...fields,
    showPasswordToggle(),
    h("button", { type: "submit", class: "button primary", i18n: submitKey }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFormMessages(form);
    const empty = Array.from(form.querySelectorAll("[required]")).find((input) => !input.value.trim());
    if (empty) {
      showFormError(form, "errors.required", empty.name);
      return;
    }
    try {
      await busy(form, () => onSubmit(values(form)));
    } catch (error) {
      showError(form, error);
    }
  });
  return h(
    "section",
    { class: "panel narrow auth" },
    h("h1", { id: "auth-title", tabindex: "-1", i18n: titleKey }),
    introKey ? h("p", { class: "lead", i18n: introKey }) : null,
    form,
    footer,
  );
}

const usernameField = ({ withHint }) =>
  field({
    name: "username",
    label: "auth.username",
    hint: withHint ? "auth.username_hint" : null,
    autocomplete: "username",
    autocapitalize: "none",
    spellcheck: "false",
    required: true,
    maxlength: 32,
  });

const passwordField = (autocomplete) =>
  field({
    name: "password",
    label: "auth.password",
    hint: autocomplete === "new-password" ? "auth.password_hint" : null,
    type: "password",
    autocomplete,
    required: true,
    "data-password": "",
  });

function footerLink(textKey, href, linkKey) {
  return h("p", { class: "switch" }, h("span", { i18n: textKey }), " ", h("a", { href, i18n: linkKey }));
}

export function renderSignIn({ session, params, navigate, flash, quietly }) {
  const user = session.currentUser();
  if (user && user.kind === "registered") return { redirect: nextPath(params) };
  const node = authForm({
    titleKey: "auth.sign_in_title",
    introKey: user ? "auth.sign_in_as_guest_note" : null,
    fields: [usernameField({ withHint: false }), passwordField("current-password")],
    submitKey: "auth.sign_in",
    footer: footerLink("auth.no_account", "/signup", "auth.sign_up"),
    onSubmit: async ({ username, password }) => {
      await quietly(() => session.signIn({ username: username.trim(), password }));
      flash("auth.signed_in");
      navigate(nextPath(params), { replace: true });
    },
  });
  return { node, title: "auth.sign_in_title" };
}

export function renderSignUp({ session, params, navigate, flash, quietly }) {
  const user = session.currentUser();
  if (user && user.kind === "registered") return { redirect: "/account" };
  if (user) return renderUpgrade({ session, navigate, flash });
  const node = authForm({
    titleKey: "auth.sign_up_title",
    introKey: "auth.sign_up_intro",
    fields: [
      field({
        name: "display_name",
        label: "auth.display_name_optional",
        autocomplete: "nickname",
        maxlength: 64,
      }),
      usernameField({ withHint: true }),
      passwordField("new-password"),
    ],
    submitKey: "auth.create_account",
    footer: footerLink("auth.have_account", "/signin", "auth.sign_in"),
    onSubmit: async ({ display_name: displayName, username, password }) => {
      const account = { username: username.trim(), password, displayName: displayName.trim() };
      await quietly(() => session.register(account));
      flash("auth.account_created");
      navigate(nextPath(params), { replace: true });
    },
  });
  return { node, title: "auth.sign_up_title" };
}

function renderUpgrade({ session, navigate, flash }) {
  const node = authForm({
    titleKey: "auth.upgrade_title",
    introKey: "auth.upgrade_intro",
    fields: [usernameField({ withHint: true }), passwordField("new-password")],
    submitKey: "auth.create_account",
    footer: null,
    onSubmit: async ({ username, password }) => {
      await session.upgrade({ username: username.trim(), password });
      flash("auth.upgraded");
      navigate("/account", { replace: true });
    },
  });
  return { node, title: "auth.upgrade_title" };
}

// The front page: what Palaver is, the two ways in (Roulette, Messenger), and how to start.

import { h, icon } from "../dom.js";
import { busy, formAlert, showError } from "../forms.js";

function entryCard({ href, iconName, title, text, cta }) {
  return h(
    "li",
    { class: "card" },
    icon(iconName, "card-icon"),
    h("h2", {}, h("a", { href, class: "card-link", i18n: title })),
    h("p", { i18n: text }),
    h("span", { class: "card-cta", "aria-hidden": "true", i18n: cta }),
  );
}

function startPanel({ session }) {
  const form = h(
    "form",
    { class: "start", "aria-labelledby": "start-title", novalidate: true },
    h("h2", { id: "start-title", class: "visually-hidden", i18n: "landing.start_title" }),
    formAlert(),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "button primary large", i18n: "auth.continue_as_guest" }),
      h("a", { href: "/signup", class: "button large", i18n: "auth.sign_up" }),
      h("a", { href: "/signin", class: "button ghost large", i18n: "auth.sign_in" }),
    ),
    h("p", { class: "hint", i18n: "landing.guest_hint" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await busy(form, () => session.continueAsGuest());
      // The shell re-renders this page as signed in.
    } catch (error) {
      showError(form, error);
    }
  });
  return form;
}

function welcomePanel(user) {
  const isGuest = user.kind === "guest";
  return h(
    "section",
    { class: "welcome", "aria-labelledby": "welcome-title" },
    h("h2", { id: "welcome-title", i18n: "landing.welcome", i18nVars: { name: user.display_name } }),
    h("p", {
      i18n: isGuest ? "landing.signed_in_guest" : "landing.signed_in_registered",
      i18nVars: { username: user.username ?? "" },
    }),
    h(
      "div",
      { class: "actions" },
      h("a", { href: "/account", class: "button", i18n: "landing.open_account" }),
      isGuest ? h("a", { href: "/signup", class: "button ghost", i18n: "landing.keep_account" }) : null,
    ),
  );
}

export function render(ctx) {
  const user = ctx.session.currentUser();
  const node = h(
    "div",
    { class: "landing" },
    h(
      "section",
      { class: "hero", "aria-labelledby": "hero-title" },
      h("h1", { id: "hero-title", tabindex: "-1", i18n: "app.name" }),
      h("p", { class: "pitch", i18n: "landing.pitch" }),
    ),
    h(
      "ul",
      { class: "cards", role: "list" },
      entryCard({
        href: "/roulette",
        iconName: "roulette",
        title: "nav.roulette",
        text: "landing.roulette_text",
        cta: "landing.roulette_cta",
      }),
      entryCard({
        href: "/messenger",
        iconName: "messenger",
        title: "nav.messenger",
        text: "landing.messenger_text",
        cta: "landing.messenger_cta",
      }),
    ),
    user ? welcomePanel(user) : startPanel(ctx),
  );
  return { node, title: null };
}

// Pieces of the Roulette page that need no state: the sign-in panel shown to visitors, the list
// of keyboard shortcuts, and the line about the current partner.

import { h } from "../dom.js";
import { busy, formAlert, showError } from "../forms.js";
import { hasKey } from "../i18n.js";

export function signInPanel({ session }) {
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

export function shortcutsList() {
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
      h("dt", {}, h("kbd", { text: "R" })),
      h("dd", { i18n: "roulette.shortcuts.report" }),
      h("dt", {}, h("kbd", { text: "Esc" })),
      h("dd", { i18n: "roulette.shortcuts.stop" }),
    ),
    h("p", { class: "hint", i18n: "roulette.shortcuts.hint" }),
  );
}

export function partnerLine(pair) {
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

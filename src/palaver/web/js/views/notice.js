// A short "this part is being built" page with a way back, for sections not written yet.

import { h, icon } from "../dom.js";

export function underConstruction({ title, iconName }) {
  const node = h(
    "section",
    { class: "panel narrow notice" },
    icon(iconName, "card-icon"),
    h("h1", { tabindex: "-1", i18n: title }),
    h("p", { i18n: "notice.being_built" }),
    h("p", {}, h("a", { href: "/", class: "button", i18n: "notice.back_home" })),
  );
  return { node, title };
}

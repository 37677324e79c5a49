// Any path without a view.

import { h } from "../dom.js";

export function render() {
  const node = h(
    "section",
    { class: "panel narrow" },
    h("h1", { tabindex: "-1", i18n: "not_found.title" }),
    h("p", { i18n: "not_found.text" }),
    h("p", {}, h("a", { href: "/", class: "button", i18n: "notice.back_home" })),
  );
  return { node, title: "not_found.title" };
}

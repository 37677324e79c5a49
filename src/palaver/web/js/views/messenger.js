// Messenger: private chats, groups and channels (/messenger, /messenger/<chat_id>,
// /messenger/join/<code>). The page lives in ../messenger/; it is kept while the user moves
// between chats (the router calls render() again for each path) and dropped when they leave.

import { h } from "../dom.js";
import { MessengerPage } from "../messenger/controller.js";

let page = null;

function signedOut(ctx) {
  const node = h(
    "section",
    { class: "panel narrow notice" },
    h("h1", { tabindex: "-1", i18n: "nav.messenger" }),
    h("p", { i18n: "messenger.sign_in_needed" }),
    h(
      "div",
      { class: "actions m-signed-out" },
      h("button", {
        type: "button",
        class: "button primary",
        i18n: "auth.continue_as_guest",
        onclick: async (event) => {
          const button = event.currentTarget;
          button.disabled = true;
          try {
            await ctx.session.continueAsGuest();
          } catch {
            button.disabled = false;
          }
        },
      }),
      h("a", { href: "/signin", class: "button", i18n: "auth.sign_in" }),
      h("a", { href: "/signup", class: "button ghost", i18n: "auth.sign_up" }),
    ),
  );
  return { node, title: "nav.messenger" };
}

export function render(ctx) {
  const user = ctx.session.currentUser();
  if (!user) {
    page?.destroy();
    page = null;
    return signedOut(ctx);
  }
  if (!page || page.userId !== user.id) {
    page?.destroy();
    page = new MessengerPage(user);
  }
  const mine = page;
  mine.route(ctx.path);
  ctx.signal.addEventListener("abort", () => {
    // Moving between chats re-renders this view; leaving the messenger ends it.
    if (page === mine && !location.pathname.startsWith("/messenger")) {
      page.destroy();
      page = null;
    }
  });
  return { node: mine.node, title: "nav.messenger" };
}

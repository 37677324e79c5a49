// Modals that start something: a private chat by username, a group, a channel (public with an
// @username, or private); and the ones that finish something: forward (pick a chat), delete.

import { ApiError } from "../api.js";
import { h } from "../dom.js";
import { translateDom } from "../i18n.js";
import * as mapi from "./api.js";
import { avatar, chatTitle, errorKey, preview } from "./format.js";
import { permissions } from "./message.js";
import { openModal } from "./modal.js";

function alertBox() {
  const node = h("p", { class: "alert", role: "alert", hidden: true });
  node.show = (key) => {
    node.hidden = !key;
    if (key) {
      node.setAttribute("data-i18n", key);
      translateDom(node);
    }
  };
  return node;
}

function usernameOf(value) {
  return value.trim().replace(/^@/, "");
}

async function lookUp(username) {
  try {
    return await mapi.users.byUsername(username);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      const missing = new Error(username);
      missing.key = "errors.user_not_found";
      throw missing;
    }
    throw error;
  }
}

async function busy(form, work) {
  const buttons = form.querySelectorAll("button");
  for (const button of buttons) button.disabled = true;
  try {
    return await work();
  } finally {
    for (const button of buttons) button.disabled = false;
  }
}

/** "New message": open a private chat with a user by username. */
export function newPrivateChat({ store, open }) {
  const alert = alertBox();
  const form = h(
    "form",
    { class: "stack", novalidate: true },
    alert,
    h(
      "div",
      { class: "field" },
      h("label", { for: "m-new-username", i18n: "messenger.username_label" }),
      h("input", { id: "m-new-username", name: "username", dir: "ltr", autocapitalize: "none", spellcheck: "false", required: true, i18nPlaceholder: "messenger.username_placeholder" }),
    ),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button primary", i18n: "messenger.start_chat" })),
  );
  const modal = openModal({ title: "messenger.new_private", body: form });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    alert.show(null);
    const username = usernameOf(form.elements.username.value);
    if (!username) return alert.show("errors.required");
    await busy(form, async () => {
      try {
        const user = await lookUp(username);
        store.remember(user);
        const { chat } = await mapi.chats.openPrivate(user.id);
        modal.close();
        open(chat, user);
      } catch (error) {
        alert.show(error.key ?? errorKey(error));
      }
    });
  });
}

/** "New group": a title and members by username (comma or space separated). */
export function newGroup({ open }) {
  const alert = alertBox();
  const form = h(
    "form",
    { class: "stack", novalidate: true },
    alert,
    h("div", { class: "field" }, h("label", { for: "m-group-title", i18n: "messenger.chat_title" }), h("input", { id: "m-group-title", name: "title", required: true, maxlength: "128", dir: "auto" })),
    h(
      "div",
      { class: "field" },
      h("label", { for: "m-group-members", i18n: "messenger.group_members" }),
      h("input", { id: "m-group-members", name: "members", dir: "ltr", autocapitalize: "none", spellcheck: "false", "aria-describedby": "m-group-members-hint" }),
      h("p", { class: "hint", id: "m-group-members-hint", i18n: "messenger.group_members_hint" }),
    ),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button primary", i18n: "messenger.create_group" })),
  );
  const modal = openModal({ title: "messenger.new_group", body: form });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    alert.show(null);
    const title = form.elements.title.value.trim();
    if (!title) return alert.show("errors.required");
    const usernames = form.elements.members.value.split(/[\s,،;]+/).map(usernameOf).filter(Boolean);
    await busy(form, async () => {
      try {
        const users = await Promise.all(usernames.map(lookUp));
        const { chat } = await mapi.chats.createGroup(title, users.map((u) => u.id));
        modal.close();
        open(chat);
      } catch (error) {
        alert.show(error.key ?? errorKey(error));
      }
    });
  });
}

/** "New channel" (or supergroup): title, description, public @username or private, signatures. */
export function newChannel({ open }) {
  const alert = alertBox();
  const form = h(
    "form",
    { class: "stack", novalidate: true },
    alert,
    h(
      "fieldset",
      { class: "m-kind" },
      h("legend", { i18n: "messenger.chat_kind" }),
      h("div", { class: "check" }, h("input", { type: "radio", id: "m-kind-channel", name: "kind", value: "channel", checked: true }), h("label", { for: "m-kind-channel", i18n: "messenger.kind.channel" })),
      h("div", { class: "check" }, h("input", { type: "radio", id: "m-kind-supergroup", name: "kind", value: "supergroup" }), h("label", { for: "m-kind-supergroup", i18n: "messenger.kind.supergroup" })),
    ),
    h("div", { class: "field" }, h("label", { for: "m-channel-title", i18n: "messenger.chat_title" }), h("input", { id: "m-channel-title", name: "title", required: true, maxlength: "128", dir: "auto" })),
    h("div", { class: "field" }, h("label", { for: "m-channel-about", i18n: "messenger.chat_about" }), h("textarea", { id: "m-channel-about", name: "about", rows: "2", maxlength: "255", dir: "auto" })),
    h(
      "div",
      { class: "field" },
      h("label", { for: "m-channel-username", i18n: "messenger.public_username" }),
      h("input", { id: "m-channel-username", name: "username", dir: "ltr", autocapitalize: "none", spellcheck: "false", "aria-describedby": "m-channel-username-hint" }),
      h("p", { class: "hint", id: "m-channel-username-hint", i18n: "messenger.public_username_hint" }),
    ),
    h("div", { class: "check" }, h("input", { type: "checkbox", id: "m-channel-signatures", name: "signatures" }), h("label", { for: "m-channel-signatures", i18n: "messenger.sign_messages" })),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button primary", i18n: "messenger.create" })),
  );
  const modal = openModal({ title: "messenger.new_channel", body: form });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    alert.show(null);
    const title = form.elements.title.value.trim();
    if (!title) return alert.show("errors.required");
    await busy(form, async () => {
      try {
        const { chat } = await mapi.chats.createChannel({
          title,
          kind: form.elements.kind.value,
          about: form.elements.about.value.trim(),
          username: usernameOf(form.elements.username.value),
          signatures: form.elements.signatures.checked,
        });
        modal.close();
        open(chat);
      } catch (error) {
        alert.show(errorKey(error));
      }
    });
  });
}

/** Forward `message`: pick one of my chats where I can write. */
export function forwardPicker({ store, message, done }) {
  const alert = alertBox();
  const filter = h("input", { type: "search", id: "m-forward-filter", autocomplete: "off", dir: "auto", i18nPlaceholder: "messenger.search_chats" });
  const list = h("ul", { class: "m-pick", role: "list" });
  const targets = store
    .sortedDialogs()
    .filter((dialog) => permissions(dialog.chat, dialog.membership, store.me.id).send);
  function render() {
    const query = filter.value.trim().toLowerCase();
    list.replaceChildren(
      ...targets
        .filter((dialog) => !query || chatTitle(store, dialog.chat, dialog.peer).toLowerCase().includes(query))
        .map((dialog) => {
          const title = chatTitle(store, dialog.chat, dialog.peer);
          return h(
            "li",
            {},
            h(
              "button",
              {
                type: "button",
                class: "m-result",
                "data-testid": "forward-target",
                onclick: async () => {
                  try {
                    const { messages } = await mapi.messages.forward(dialog.chat.id, message.chat_id, [message.id]);
                    for (const copy of messages) store.putOwn(copy);
                    modal.close();
                    done(dialog.chat.id);
                  } catch (error) {
                    alert.show(errorKey(error));
                  }
                },
              },
              avatar(title, dialog.chat.id),
              h("bdi", { class: "m-dialog-title", text: title }),
            ),
          );
        }),
    );
  }
  filter.addEventListener("input", render);
  render();
  const body = [
    h("p", { class: "m-forward-preview" }, h("bdi", { text: preview(message, 120) })),
    alert,
    h("label", { for: "m-forward-filter", class: "visually-hidden", i18n: "messenger.search_chats" }),
    filter,
    list,
  ];
  const modal = openModal({ title: "messenger.forward_to", body, className: "m-forward-modal" });
}

/** Delete `message`: for me, or for everyone when allowed. */
export function confirmDelete({ message, forEveryone, store }) {
  const alert = alertBox();
  const remove = async (everyone) => {
    try {
      await mapi.messages.remove(message.chat_id, [message.id], everyone);
      store.apply({ type: "delete_messages", chat_id: message.chat_id, ids: [message.id] });
      modal.close();
    } catch (error) {
      alert.show(errorKey(error));
    }
  };
  const body = [
    h("p", { i18n: "messenger.delete_question" }),
    h("p", { class: "m-forward-preview" }, h("bdi", { text: preview(message, 120) })),
    alert,
    h(
      "div",
      { class: "actions" },
      forEveryone ? h("button", { type: "button", class: "button danger", i18n: "messenger.delete_for_everyone", onclick: () => remove(true) }) : null,
      h("button", { type: "button", class: forEveryone ? "button" : "button danger", i18n: "messenger.delete_for_me", onclick: () => remove(false) }),
      h("button", { type: "button", class: "button ghost", i18n: "messenger.cancel", onclick: () => modal.close() }),
    ),
  ];
  const modal = openModal({ title: "messenger.delete_title", body });
}

// One message: its bubble (sender, forward and reply headers, text, edited marker, views, time,
// read receipt, reactions) and the actions menu (react, reply, edit, forward, copy, pin, delete).

import { h } from "../dom.js";
import { t, translateDom } from "../i18n.js";
import { chatTitle, clockTime, fullTime, hueOf, preview, richText, userName } from "./format.js";
import { showMenu } from "./modal.js";
import { REACTIONS } from "./store.js";
import { svgIcon } from "./icons.js";

const EDIT_WINDOW = 48 * 3600;

/** What I may do in a chat, from my membership (mirrors the server's rights matrix). */
export function permissions(chat, membership, meId) {
  const status = membership?.status ?? "left";
  const rights = new Set(membership?.rights ?? []);
  const owner = status === "owner";
  const admin = status === "admin";
  const has = (right) => owner || (admin && rights.has(right));
  const writer = owner || admin || status === "member";
  const active = writer || status === "restricted";
  const channel = chat.kind === "channel";
  if (chat.kind === "private") {
    return {
      active: true,
      send: true,
      react: true,
      pin: true,
      editOthers: false,
      deleteOwn: true,
      deleteOthers: true,
      info: false,
      invite: false,
      ban: false,
      promote: false,
      anonymous: false,
      receipts: chat.peer_id !== meId,
    };
  }
  return {
    active,
    send: channel ? has("post_messages") : writer,
    react: writer,
    pin: has("pin_messages"),
    editOthers: channel && has("edit_messages"),
    deleteOwn: channel ? has("post_messages") || has("delete_messages") : active,
    deleteOthers: has("delete_messages"),
    info: has("change_info"),
    invite: has("invite_users"),
    ban: has("ban_users"),
    promote: has("add_admins"),
    anonymous: chat.kind === "supergroup" && has("anonymous"),
    receipts: chat.kind === "group",
    viewMembers: channel ? owner || admin : active,
  };
}

export function isOwn(message, meId) {
  return message.sender_id !== null && message.sender_id === meId;
}

export function canEdit(message, chat, perms, meId, now = Date.now() / 1000) {
  if (message.forward || now - message.date > EDIT_WINDOW) return false;
  if (chat.kind === "channel") return perms.send || perms.editOthers;
  return isOwn(message, meId) && perms.send;
}

function canDeleteForEveryone(message, chat, perms, meId) {
  if (chat.kind === "channel") return perms.deleteOwn || perms.deleteOthers;
  return isOwn(message, meId) ? perms.deleteOwn : perms.deleteOthers;
}

function senderLine(ctx, message) {
  const { store, chat } = ctx;
  if (chat.kind === "private" || chat.kind === "channel" || isOwn(message, store.me.id)) return null;
  const name = message.sender_id ? userName(store, message.sender_id) : chat.title;
  return h("p", { class: "m-sender", style: `--hue: ${hueOf(message.sender_id ?? chat.id)}` }, h("bdi", { text: name }));
}

function forwardLine(ctx, forward) {
  if (!forward) return null;
  const { store } = ctx;
  let name = forward.signature;
  if (forward.from_user_id) name = store.users.get(forward.from_user_id)?.display_name ?? name;
  if (!name && forward.from_chat_id) {
    const dialog = store.dialog(forward.from_chat_id);
    if (dialog) name = chatTitle(store, dialog.chat, dialog.peer);
  }
  if (!name) return h("p", { class: "m-forward", i18n: "messenger.forwarded" });
  return h("p", { class: "m-forward" }, h("span", { i18n: "messenger.forwarded_from" }), " ", h("bdi", { class: "m-forward-name", text: name }));
}

function replyQuote(ctx, message) {
  if (!message.reply_to) return null;
  const original = ctx.store.message(message.chat_id, message.reply_to);
  const who = original
    ? original.sender_id
      ? userName(ctx.store, original.sender_id)
      : ctx.chat.title
    : null;
  return h(
    "button",
    {
      type: "button",
      class: "m-quote",
      "data-focus": "quote",
      onclick: () => ctx.actions.jumpTo(message.reply_to),
    },
    h("span", { class: "visually-hidden", i18n: "messenger.reply_to" }),
    who ? h("bdi", { class: "m-quote-name", text: who }) : null,
    h("bdi", { class: "m-quote-text", text: original ? preview(original, 90) : t("messenger.original_message") }),
  );
}

function receipt(ctx, message) {
  const { store, dialog, perms } = ctx;
  if (!perms.receipts || !isOwn(message, store.me.id) || !dialog) return null;
  const read = message.id <= (dialog.membership?.read_outbox_max ?? 0);
  return h(
    "span",
    { class: `m-ticks ${read ? "read" : "sent"}`, "data-testid": "receipt", "data-state": read ? "read" : "sent" },
    h("span", { "aria-hidden": "true", text: read ? "✓✓" : "✓" }),
    h("span", { class: "visually-hidden", i18n: read ? "messenger.read" : "messenger.sent" }),
  );
}

function reactionsRow(ctx, message) {
  const reactions = (message.reactions ?? []).filter((r) => r.count > 0);
  if (!reactions.length) return null;
  return h(
    "div",
    { class: "m-reactions", "data-testid": "reactions" },
    reactions.map((reaction) =>
      h(
        "button",
        {
          type: "button",
          class: "m-reaction",
          "data-focus": `reaction:${reaction.emoji}`,
          "aria-pressed": String(message.my_reaction === reaction.emoji),
          disabled: !ctx.perms.react,
          i18nAriaLabel: "messenger.reaction_count",
          i18nVars: { emoji: reaction.emoji, count: reaction.count },
          onclick: () => ctx.actions.react(message, message.my_reaction === reaction.emoji ? null : reaction.emoji),
        },
        h("span", { class: "m-reaction-emoji", text: reaction.emoji }),
        h("span", { class: "m-reaction-count", text: String(reaction.count) }),
      ),
    ),
  );
}

/** The bubble of `message` as a <li>; ctx: { store, chat, dialog, perms, actions, viewed }. */
export function messageNode(ctx, message) {
  const { store, chat } = ctx;
  const own = isOwn(message, store.me.id);
  const views = chat.kind === "channel" ? Math.max(message.views ?? 0, ctx.viewed.has(message.id) ? 1 : 0) : null;
  const menuButton = h("button", {
    type: "button",
    class: "m-msg-actions",
    "data-focus": "actions",
    "aria-haspopup": "menu",
    "aria-expanded": "false",
    i18nAriaLabel: "messenger.message_actions",
    onclick: (event) => openActions(ctx, message, event.currentTarget),
  }, svgIcon("dots"));
  const node = h(
    "li",
    {
      class: `m-msg ${own ? "own" : "in"}${chat.kind === "channel" ? " post" : ""}`,
      id: `msg-${message.id}`,
      "data-id": String(message.id),
      "data-testid": "message",
    },
    h(
      "article",
      { class: "m-bubble", tabindex: "-1", "data-focus": "bubble" },
      senderLine(ctx, message),
      forwardLine(ctx, message.forward),
      replyQuote(ctx, message),
      h("div", { class: "m-text", dir: "auto" }, richText(message.text, message.entities)),
      h(
        "p",
        { class: "m-meta" },
        message.edit_date ? h("span", { class: "m-edited", "data-testid": "edited", i18n: "messenger.edited" }) : null,
        message.silent ? h("span", { class: "m-silent", i18nTitle: "messenger.silent_post" }, svgIcon("muted"), h("span", { class: "visually-hidden", i18n: "messenger.silent_post" })) : null,
        views !== null
          ? h(
              "span",
              { class: "m-views", "data-testid": "views" },
              svgIcon("eye"),
              h("span", { class: "m-views-count", text: String(views) }),
              h("span", { class: "visually-hidden", i18n: "messenger.views", i18nVars: { count: views } }),
            )
          : null,
        message.signature ? h("bdi", { class: "m-signature", text: message.signature }) : null,
        h("time", { datetime: new Date(message.date * 1000).toISOString(), title: fullTime(message.date), text: clockTime(message.date) }),
        receipt(ctx, message),
      ),
      reactionsRow(ctx, message),
    ),
    menuButton,
  );
  node.addEventListener("dblclick", (event) => {
    if (event.target.closest("button, a") || !ctx.perms.send) return;
    ctx.actions.reply(message);
  });
  translateDom(node);
  return node;
}

function openActions(ctx, message, anchor) {
  const { store, chat, perms, actions } = ctx;
  const pinned = chat.pinned_msg_id === message.id;
  const item = (key, handler, extra = {}) => h("button", { type: "button", class: "m-menu-item", i18n: key, onclick: handler, ...extra });
  const items = [
    perms.react
      ? h(
          "div",
          { class: "m-menu-reactions", role: "group", i18nAriaLabel: "messenger.react" },
          REACTIONS.map((emoji) =>
            h("button", {
              type: "button",
              class: "m-menu-emoji",
              "aria-pressed": String(message.my_reaction === emoji),
              i18nAriaLabel: "messenger.react_with",
              i18nVars: { emoji },
              text: emoji,
              onclick: () => actions.react(message, message.my_reaction === emoji ? null : emoji),
            }),
          ),
        )
      : null,
    perms.send ? item("messenger.reply", () => actions.reply(message)) : null,
    canEdit(message, chat, perms, store.me.id) ? item("messenger.edit", () => actions.edit(message)) : null,
    item("messenger.forward", () => actions.forward(message)),
    item("messenger.copy_text", () => actions.copy(message)),
    perms.pin ? item(pinned ? "messenger.unpin" : "messenger.pin", () => actions.pin(pinned ? 0 : message.id)) : null,
    item("messenger.delete", () => actions.remove(message, canDeleteForEveryone(message, chat, perms, store.me.id)), {
      class: "m-menu-item danger",
    }),
  ];
  showMenu(anchor, items, { label: "messenger.message_actions" });
}

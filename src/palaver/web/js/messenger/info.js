// Chat info: what the chat is, its settings (title, description, public username, signatures),
// members and admins (add by username, kick, ban, promote with rights), invite links and join
// requests, and leaving.

import { ApiError } from "../api.js";
import { h } from "../dom.js";
import { translateDom } from "../i18n.js";
import * as mapi from "./api.js";
import { avatar, chatTitle, errorKey } from "./format.js";
import { invitesSection, requestsSection } from "./invites.js";
import { permissions } from "./message.js";
import { disclosure, openModal } from "./modal.js";

const RIGHTS = ["change_info", "post_messages", "edit_messages", "delete_messages", "ban_users", "invite_users", "pin_messages", "add_admins", "anonymous"];

function rightsFor(kind) {
  if (kind === "channel") return RIGHTS.filter((r) => r !== "anonymous");
  return RIGHTS.filter((r) => r !== "post_messages" && r !== "edit_messages");
}

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

function settingsForm(chat, { toast, onSaved }) {
  const alert = alertBox();
  const channelLike = chat.kind === "channel" || chat.kind === "supergroup";
  const form = h(
    "form",
    { class: "stack m-settings", novalidate: true },
    alert,
    h("div", { class: "field" }, h("label", { for: "m-set-title", i18n: "messenger.chat_title" }), h("input", { id: "m-set-title", name: "title", value: chat.title, maxlength: "128", required: true, dir: "auto" })),
    h("div", { class: "field" }, h("label", { for: "m-set-about", i18n: "messenger.chat_about" }), h("textarea", { id: "m-set-about", name: "about", rows: "2", maxlength: "255", dir: "auto" })),
    channelLike
      ? h(
          "div",
          { class: "field" },
          h("label", { for: "m-set-username", i18n: "messenger.public_username" }),
          h("input", { id: "m-set-username", name: "username", value: chat.username ?? "", dir: "ltr", autocapitalize: "none", spellcheck: "false", "aria-describedby": "m-set-username-hint" }),
          h("p", { class: "hint", id: "m-set-username-hint", i18n: "messenger.public_username_hint" }),
        )
      : null,
    chat.kind === "channel"
      ? h("div", { class: "check" }, h("input", { type: "checkbox", id: "m-set-signatures", name: "signatures", checked: chat.signatures }), h("label", { for: "m-set-signatures", i18n: "messenger.sign_messages" }))
      : null,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button primary small", i18n: "messenger.save" })),
  );
  form.elements.about.value = chat.about ?? "";
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    alert.show(null);
    const changes = { title: form.elements.title.value.trim(), about: form.elements.about.value.trim() };
    if (form.elements.username) changes.username = form.elements.username.value.trim().replace(/^@/, "");
    if (form.elements.signatures) changes.signatures = form.elements.signatures.checked;
    try {
      const { chat: changed } = await mapi.chats.update(chat.id, changes);
      toast("messenger.saved");
      onSaved(changed);
    } catch (error) {
      alert.show(errorKey(error));
    }
  });
  return disclosure("messenger.settings", form, { testId: "chat-settings" });
}

function membersSection(chat, perms, { store, toast }) {
  const list = h("ul", { class: "m-members", role: "list", "data-testid": "member-list" });
  const alert = alertBox();
  const which = h(
    "select",
    { id: "m-members-which" },
    ["active", "admins", ...(perms.ban ? ["banned"] : [])].map((name) => h("option", { value: name, i18n: `messenger.members_filter.${name}` })),
  );

  async function act(work, doneKey) {
    alert.show(null);
    try {
      await work();
      toast(doneKey);
      load();
    } catch (error) {
      alert.show(errorKey(error));
    }
  }

  function rightsEditor(member) {
    const available = rightsFor(chat.kind);
    const current = new Set(member.status === "admin" ? member.rights : available.filter((r) => r !== "add_admins" && r !== "anonymous"));
    const boxes = available.map((right) => {
      const id = `m-right-${member.user_id}-${right}`;
      return h("div", { class: "check" }, h("input", { type: "checkbox", id, value: right, checked: current.has(right) }), h("label", { for: id, i18n: `messenger.right.${right}` }));
    });
    const form = h(
      "form",
      { class: "m-rights" },
      h("fieldset", {}, h("legend", { i18n: "messenger.admin_rights" }), h("div", { class: "checks" }, boxes)),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "button primary small", i18n: member.status === "admin" ? "messenger.save_rights" : "messenger.promote" })),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const rights = [...form.querySelectorAll("input:checked")].map((box) => box.value);
      act(() => mapi.members.setAdmin(chat.id, member.user_id, rights), "messenger.rights_saved");
    });
    return form;
  }

  function memberItem(member) {
    store.remember({ id: member.user_id, display_name: member.display_name, username: member.username });
    const me = member.user_id === store.me.id;
    const target = member.status !== "owner" && !me;
    const buttons = [];
    if (member.status === "banned") {
      if (perms.ban) buttons.push(h("button", { type: "button", class: "button small", i18n: "messenger.unban", onclick: () => act(() => mapi.members.unban(chat.id, member.user_id), "messenger.unbanned") }));
    } else if (target) {
      if (perms.ban) {
        buttons.push(h("button", { type: "button", class: "button small", i18n: "messenger.kick", onclick: () => act(() => mapi.members.kick(chat.id, member.user_id), "messenger.kicked") }));
        buttons.push(h("button", { type: "button", class: "button danger small", i18n: "messenger.ban", onclick: () => act(() => mapi.members.ban(chat.id, member.user_id), "messenger.banned") }));
      }
      if (perms.promote && member.status === "admin") {
        buttons.push(h("button", { type: "button", class: "button small", i18n: "messenger.dismiss_admin", onclick: () => act(() => mapi.members.setAdmin(chat.id, member.user_id, []), "messenger.rights_saved") }));
      }
    }
    const rights =
      perms.promote && target && (member.status === "member" || member.status === "admin")
        ? h("details", { class: "m-rights-details" }, h("summary", { i18n: member.status === "admin" ? "messenger.edit_rights" : "messenger.make_admin" }), rightsEditor(member))
        : null;
    return h(
      "li",
      { class: "m-member", "data-testid": "member", "data-user-id": member.user_id },
      avatar(member.display_name, member.user_id, "small"),
      h(
        "span",
        { class: "m-member-name" },
        h("bdi", { text: member.display_name ?? member.user_id }),
        member.username ? h("bdi", { class: "hint", dir: "ltr", text: `@${member.username}` }) : null,
      ),
      member.status !== "member" ? h("span", { class: "badge", i18n: `messenger.role.${member.status}` }) : null,
      buttons.length ? h("span", { class: "actions m-member-actions" }, buttons) : null,
      rights,
    );
  }

  async function load() {
    try {
      const { members } = await mapi.members.list(chat.id, { which: which.value });
      list.replaceChildren(...(members.length ? members.map(memberItem) : [h("li", { class: "hint", i18n: "messenger.no_members" })]));
      translateDom(list);
    } catch (error) {
      alert.show(errorKey(error));
    }
  }
  which.addEventListener("change", load);

  const addAlert = alertBox();
  const addForm = perms.invite
    ? h(
        "form",
        { class: "m-add-member", novalidate: true },
        addAlert,
        h("label", { for: "m-add-username", i18n: "messenger.add_member_label" }),
        h(
          "div",
          { class: "m-inline-form" },
          h("input", { id: "m-add-username", name: "username", dir: "ltr", autocapitalize: "none", spellcheck: "false", i18nPlaceholder: "messenger.username_placeholder" }),
          h("button", { type: "submit", class: "button small", i18n: "messenger.add" }),
        ),
      )
    : null;
  addForm?.addEventListener("submit", async (event) => {
    event.preventDefault();
    addAlert.show(null);
    const username = addForm.elements.username.value.trim().replace(/^@/, "");
    if (!username) return;
    try {
      const user = await mapi.users.byUsername(username);
      await mapi.members.add(chat.id, [user.id]);
      addForm.reset();
      toast("messenger.member_added");
      load();
    } catch (error) {
      addAlert.show(error instanceof ApiError && error.status === 404 ? "errors.user_not_found" : errorKey(error));
    }
  });

  load();
  return disclosure(
    chat.kind === "channel" ? "messenger.subscribers" : "messenger.members",
    [
      h("div", { class: "m-section-head" }, h("label", { for: "m-members-which", i18n: "messenger.show_members" }), which),
      alert,
      addForm,
      list,
    ],
    { open: true, testId: "members" },
  );
}

/** Open the chat info modal for `chatId`. */
export function showChatInfo(chatId, { store, toast, leave, upgraded }) {
  const dialog = store.dialog(chatId);
  if (!dialog) return;
  const { chat, membership } = dialog;
  const perms = permissions(chat, membership, store.me.id);
  const title = chatTitle(store, chat, dialog.peer);
  const facts = h(
    "div",
    { class: "m-info-head" },
    avatar(title, chat.id, "large"),
    h(
      "div",
      {},
      h("p", { class: "m-info-title" }, h("bdi", { text: title })),
      h("p", { class: "hint", i18n: `messenger.kind.${chat.kind}` }),
      chat.username ? h("p", { class: "m-info-link" }, h("bdi", { dir: "ltr", text: `@${chat.username}` })) : null,
      dialog.peer?.username ? h("p", { class: "m-info-link" }, h("bdi", { dir: "ltr", text: `@${dialog.peer.username}` })) : null,
    ),
  );
  const about = chat.about ? h("p", { class: "m-info-about", dir: "auto", text: chat.about }) : null;
  const names = (userId) => store.users.get(userId)?.display_name ?? userId;
  const body = [facts, about];
  if (chat.kind !== "private") {
    if (perms.info) {
      body.push(
        settingsForm(chat, {
          toast,
          onSaved: (changed) => store.apply({ type: "chat", chat: changed }),
        }),
      );
    }
    if (chat.kind === "group" && membership?.status === "owner") {
      body.push(
        disclosure("messenger.upgrade_title", [
          h("p", { class: "hint", i18n: "messenger.upgrade_text" }),
          h("div", { class: "actions" }, h("button", {
            type: "button",
            class: "button small",
            i18n: "messenger.upgrade",
            onclick: async () => {
              try {
                const { chat: changed } = await mapi.chats.upgrade(chat.id);
                upgraded(changed);
                modal.close();
              } catch (error) {
                toast(errorKey(error));
              }
            },
          })),
        ]),
      );
    }
    if (perms.invite) body.push(requestsSection(chat.id, { toast, names }));
    if (perms.viewMembers) body.push(membersSection(chat, perms, { store, toast }));
    if (perms.invite) body.push(invitesSection(chat.id, { toast }));
    if (chat.username) {
      const url = `${location.origin}/messenger/${chat.id}`;
      body.push(h("p", { class: "hint m-share" }, h("span", { i18n: "messenger.share_link" }), " ", h("bdi", { dir: "ltr", text: url })));
    }
    if (membership && membership.status !== "owner") {
      body.push(
        h(
          "div",
          { class: "actions m-info-leave" },
          h("button", {
            type: "button",
            class: "button danger small",
            i18n: chat.kind === "channel" ? "messenger.leave_channel" : "messenger.leave_group",
            onclick: () => {
              modal.close();
              leave(chat);
            },
          }),
        ),
      );
    }
  }
  const modal = openModal({ title: "messenger.chat_info", body, className: "m-info", focusField: false });
  return modal;
}

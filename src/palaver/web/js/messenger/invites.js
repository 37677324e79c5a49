// Invite links of a chat (create with expiry, usage limit and approval; copy; revoke) and the
// join requests waiting for approval.

import { h } from "../dom.js";
import { formatTimestamp, translateDom } from "../i18n.js";
import * as mapi from "./api.js";
import { errorKey } from "./format.js";
import { disclosure } from "./modal.js";

const EXPIRY_CHOICES = [
  ["never", 0],
  ["hour", 3600],
  ["day", 86400],
  ["week", 7 * 86400],
];

export function inviteUrl(code) {
  return `${location.origin}/messenger/join/${encodeURIComponent(code)}`;
}

function statusLine(key, vars) {
  return h("p", { class: "hint", i18n: key, i18nVars: vars });
}

/** The invite links section: a creation form and the list. */
export function invitesSection(chatId, { toast }) {
  const list = h("ul", { class: "m-invites", role: "list", "data-testid": "invite-list" });
  const alert = h("p", { class: "alert", role: "alert", hidden: true });
  const expiry = h(
    "select",
    { id: "m-invite-expiry", name: "expiry" },
    EXPIRY_CHOICES.map(([name, seconds]) => h("option", { value: String(seconds), i18n: `messenger.invite_expiry.${name}` })),
  );
  const limit = h("input", { id: "m-invite-limit", name: "limit", type: "number", min: "1", max: "99999", inputmode: "numeric" });
  const approval = h("input", {
    id: "m-invite-approval",
    name: "approval",
    type: "checkbox",
    // A link that needs approval has no usage limit.
    onchange: () => {
      limit.disabled = approval.checked;
      if (approval.checked) limit.value = "";
    },
  });
  const titleInput = h("input", { id: "m-invite-title", name: "title", maxlength: "64", dir: "auto" });
  const form = h(
    "form",
    { class: "m-invite-form", novalidate: true },
    alert,
    h("div", { class: "field" }, h("label", { for: "m-invite-title", i18n: "messenger.invite_title" }), titleInput),
    h(
      "div",
      { class: "m-form-row" },
      h("div", { class: "field" }, h("label", { for: "m-invite-expiry", i18n: "messenger.invite_expires" }), expiry),
      h("div", { class: "field" }, h("label", { for: "m-invite-limit", i18n: "messenger.invite_limit" }), limit),
    ),
    h("div", { class: "check" }, approval, h("label", { for: "m-invite-approval", i18n: "messenger.invite_approval" })),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button primary small", i18n: "messenger.create_invite" })),
  );

  function showAlert(key) {
    alert.hidden = !key;
    if (key) {
      alert.setAttribute("data-i18n", key);
      translateDom(alert);
    }
  }

  function inviteItem(invite) {
    const url = inviteUrl(invite.code);
    const field = h("input", { type: "text", readonly: true, value: url, dir: "ltr", class: "m-invite-url", "data-testid": "invite-url", i18nAriaLabel: "messenger.invite_link" });
    field.addEventListener("focus", () => field.select());
    const facts = [
      invite.expire_at ? statusLine("messenger.invite_expires_at", { date: formatTimestamp(invite.expire_at) }) : null,
      statusLine(invite.usage_limit ? "messenger.invite_used_of" : "messenger.invite_used", { count: invite.usage_count, limit: invite.usage_limit ?? 0 }),
      invite.requires_approval ? statusLine("messenger.invite_needs_approval") : null,
    ];
    const copy = h("button", {
      type: "button",
      class: "button small",
      i18n: "messenger.copy_link",
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(url);
          toast("messenger.link_copied");
        } catch {
          field.focus();
          field.select();
        }
      },
    });
    const revoke = h("button", {
      type: "button",
      class: "button danger small",
      i18n: "messenger.revoke",
      onclick: async () => {
        try {
          await mapi.invites.revoke(chatId, invite.id);
          toast("messenger.link_revoked");
          load();
        } catch (error) {
          showAlert(errorKey(error));
        }
      },
    });
    return h(
      "li",
      { class: "m-invite" },
      invite.title ? h("p", { class: "m-invite-name" }, h("bdi", { text: invite.title })) : null,
      field,
      facts,
      h("div", { class: "actions" }, copy, revoke),
    );
  }

  async function load() {
    try {
      const { invites } = await mapi.invites.list(chatId);
      const active = invites.filter((invite) => !invite.revoked);
      list.replaceChildren(...(active.length ? active.map(inviteItem) : [h("li", { class: "hint", i18n: "messenger.no_invites" })]));
      translateDom(list);
    } catch (error) {
      showAlert(errorKey(error));
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showAlert(null);
    const seconds = Number(expiry.value);
    const usage = limit.value && !approval.checked ? Number(limit.value) : null;
    try {
      await mapi.invites.create(chatId, {
        title: titleInput.value.trim(),
        expireAt: seconds ? Date.now() / 1000 + seconds : null,
        usageLimit: usage && usage > 0 ? Math.floor(usage) : null,
        requiresApproval: approval.checked,
      });
      form.reset();
      limit.disabled = false;
      toast("messenger.link_created");
      load();
    } catch (error) {
      showAlert(errorKey(error));
    }
  });

  load();
  return disclosure("messenger.invite_links", [form, list], { testId: "invite-links" });
}

/** Join requests: approve or decline each. */
export function requestsSection(chatId, { toast, names }) {
  const list = h("ul", { class: "m-requests", role: "list" });
  const section = disclosure("messenger.join_requests", list, { open: true, hidden: true, testId: "join-requests" });

  async function decide(userId, approve) {
    try {
      await mapi.invites.decide(chatId, userId, approve);
      toast(approve ? "messenger.request_approved" : "messenger.request_declined");
      load();
    } catch (error) {
      toast(errorKey(error));
    }
  }

  async function load() {
    let requests;
    try {
      ({ requests } = await mapi.invites.requests(chatId));
    } catch {
      return;
    }
    section.hidden = requests.length === 0;
    list.replaceChildren(
      ...requests.map((request) =>
        h(
          "li",
          { class: "m-member", "data-testid": "join-request" },
          h("span", { class: "m-member-name" }, h("bdi", { text: names(request.user_id) }), h("span", { class: "hint", text: formatTimestamp(request.date) })),
          h(
            "span",
            { class: "actions" },
            h("button", { type: "button", class: "button primary small", i18n: "messenger.approve", onclick: () => decide(request.user_id, true) }),
            h("button", { type: "button", class: "button small", i18n: "messenger.decline", onclick: () => decide(request.user_id, false) }),
          ),
        ),
      ),
    );
    translateDom(section);
  }

  load();
  return section;
}

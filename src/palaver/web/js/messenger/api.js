// The messenger's HTTP endpoints (docs/protocol.md, "Messenger"), one function each. Ids of users,
// chats and invites are strings; message ids are numbers.

import { request } from "../api.js";

const enc = encodeURIComponent;

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export const users = {
  byUsername: (username, options) => request("GET", `/users/${enc(username)}`, options),
};

export const chats = {
  openPrivate: (userId) => request("POST", "/chats/private", { body: { user_id: userId } }),
  createGroup: (title, memberIds) => request("POST", "/chats/groups", { body: { title, member_ids: memberIds } }),
  createChannel: ({ title, kind, about, username, signatures }) =>
    request("POST", "/chats/channels", { body: { title, kind, about, username: username || null, signatures } }),
  get: (chatId, options) => request("GET", `/chats/${enc(chatId)}`, options),
  update: (chatId, changes) => request("PATCH", `/chats/${enc(chatId)}`, { body: changes }),
  upgrade: (chatId) => request("POST", `/chats/${enc(chatId)}/upgrade`),
  join: (chatId) => request("POST", `/chats/${enc(chatId)}/join`),
  leave: (chatId) => request("POST", `/chats/${enc(chatId)}/leave`),
};

export const members = {
  list: (chatId, { which = "active", after, limit = 200, signal } = {}) =>
    request("GET", `/chats/${enc(chatId)}/members${query({ which, after, limit })}`, { signal }),
  add: (chatId, userIds) => request("POST", `/chats/${enc(chatId)}/members`, { body: { user_ids: userIds } }),
  kick: (chatId, userId) => request("POST", `/chats/${enc(chatId)}/members/${enc(userId)}/kick`),
  ban: (chatId, userId, until = null) =>
    request("PUT", `/chats/${enc(chatId)}/members/${enc(userId)}/ban`, { body: { until } }),
  unban: (chatId, userId) => request("DELETE", `/chats/${enc(chatId)}/members/${enc(userId)}/ban`),
  setAdmin: (chatId, userId, rights) =>
    request("PUT", `/chats/${enc(chatId)}/members/${enc(userId)}/admin`, { body: { rights } }),
};

export const invites = {
  create: (chatId, { title = "", expireAt = null, usageLimit = null, requiresApproval = false }) =>
    request("POST", `/chats/${enc(chatId)}/invites`, {
      body: { title, expire_at: expireAt, usage_limit: usageLimit, requires_approval: requiresApproval },
    }),
  list: (chatId, options) => request("GET", `/chats/${enc(chatId)}/invites`, options),
  revoke: (chatId, inviteId) => request("DELETE", `/chats/${enc(chatId)}/invites/${enc(inviteId)}`),
  preview: (code, options) => request("GET", `/invites/${enc(code)}`, options),
  join: (code) => request("POST", `/invites/${enc(code)}/join`),
  requests: (chatId, options) => request("GET", `/chats/${enc(chatId)}/join-requests`, options),
  decide: (chatId, userId, approve) =>
    request("POST", `/chats/${enc(chatId)}/join-requests/${enc(userId)}/${approve ? "approve" : "decline"}`),
};

export const messages = {
  history: (chatId, { offsetId = 0, direction = "older", limit = 40, signal } = {}) =>
    request("GET", `/chats/${enc(chatId)}/messages${query({ offset_id: offsetId, direction, limit })}`, { signal }),
  send: (chatId, { text, entities = [], replyTo = null, silent = false, anonymous = false, randomId = null }) =>
    request("POST", `/chats/${enc(chatId)}/messages`, {
      body: { text, entities, reply_to: replyTo, silent, anonymous, random_id: randomId },
    }),
  forward: (toChatId, fromChatId, ids, silent = false) =>
    request("POST", `/chats/${enc(toChatId)}/messages/forward`, { body: { from_chat_id: fromChatId, ids, silent } }),
  edit: (chatId, msgId, text, entities = []) =>
    request("PATCH", `/chats/${enc(chatId)}/messages/${msgId}`, { body: { text, entities } }),
  remove: (chatId, ids, forEveryone) =>
    request("POST", `/chats/${enc(chatId)}/messages/delete`, { body: { ids, for_everyone: forEveryone } }),
  pin: (chatId, msgId) => request("PUT", `/chats/${enc(chatId)}/pinned`, { body: { msg_id: msgId } }),
  react: (chatId, msgId, emoji) =>
    request("PUT", `/chats/${enc(chatId)}/messages/${msgId}/reaction`, { body: { emoji } }),
  read: (chatId, maxId) => request("POST", `/chats/${enc(chatId)}/read`, { body: { max_id: maxId } }),
  draft: (chatId, text, replyTo = null) =>
    request("PUT", `/chats/${enc(chatId)}/draft`, { body: { text, reply_to: replyTo } }),
  typing: (chatId, action = "typing") => request("POST", `/chats/${enc(chatId)}/typing`, { body: { action } }),
  views: (chatId, ids) => request("POST", `/chats/${enc(chatId)}/views`, { body: { ids } }),
};

export const dialogs = {
  list: ({ cursor, limit = 50, signal } = {}) => request("GET", `/dialogs${query({ cursor, limit })}`, { signal }),
  pin: (chatId, pinned) => request("PUT", `/dialogs/${enc(chatId)}/pinned`, { body: { pinned } }),
};

export const updates = {
  state: () => request("GET", "/updates/state"),
  difference: (pts, limit = 100) => request("GET", `/updates/difference${query({ pts, limit })}`),
  channelDifference: (chatId, pts, limit = 100) =>
    request("GET", `/chats/${enc(chatId)}/difference${query({ pts, limit })}`),
};

export const search = {
  messages: (q, { chatId, cursor, limit = 30, signal } = {}) =>
    request("GET", `/search/messages${query({ q, chat_id: chatId, cursor, limit })}`, { signal }),
  directory: (q, { limit = 20, signal } = {}) => request("GET", `/search/directory${query({ q, limit })}`, { signal }),
};

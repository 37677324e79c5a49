// HTTP client for the Palaver JSON API (/api/v1). Every failure is thrown as a typed error:
// ApiError (the server answered {"error": {"code", "message"}} or a bare error status) or
// NetworkError (no answer at all). Requests carry the session's bearer token.

const BASE = "/api/v1";

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message || code);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export class NetworkError extends Error {
  constructor(cause) {
    super("The server could not be reached.");
    this.name = "NetworkError";
    this.code = "network";
    this.cause = cause;
  }
}

const CODE_BY_STATUS = { 401: "unauthenticated", 403: "forbidden", 404: "not_found", 429: "rate_limited" };

function codeForStatus(status) {
  return CODE_BY_STATUS[status] ?? (status >= 500 ? "server_error" : "invalid_request");
}

let getToken = () => null;
let onUnauthenticated = () => {};

/** Wire the client to the session: where the token comes from, who hears about a rejected token. */
export function configure({ token, unauthenticated }) {
  if (token) getToken = token;
  if (unauthenticated) onUnauthenticated = unauthenticated;
}

async function readBody(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * One API call. `token`: undefined → the session's token; null → none; a string → that token.
 * Returns the parsed JSON body (null for 204), or a Blob with `as: "blob"`.
 */
export async function request(method, path, { body, raw, contentType, as = "json", token, signal } = {}) {
  const bearer = token === undefined ? getToken() : token;
  const headers = { Accept: as === "blob" ? "*/*" : "application/json" };
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  const init = { method, headers, signal, cache: "no-store", credentials: "same-origin" };
  if (raw !== undefined) {
    // Bytes as they are (a JPEG snapshot): `raw` is a Blob or ArrayBuffer of type `contentType`.
    headers["Content-Type"] = contentType;
    init.body = raw;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(BASE + path, init);
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    throw new NetworkError(error);
  }
  if (response.ok && as === "blob") return response.blob();
  const data = response.status === 204 ? null : await readBody(response);
  if (response.ok) return data;
  const detail = data && typeof data.error === "object" ? data.error : {};
  const retry = Number(response.headers.get("Retry-After"));
  const error = new ApiError(
    response.status,
    typeof detail.code === "string" ? detail.code : codeForStatus(response.status),
    typeof detail.message === "string" ? detail.message : response.statusText,
    Number.isFinite(retry) && retry > 0 ? retry : null,
  );
  // A token the session relies on was rejected (expired, revoked elsewhere): let the session react.
  if (response.status === 401 && bearer && token === undefined) onUnauthenticated(error);
  throw error;
}

// The endpoints, one function each.

export const auth = {
  guest: (deviceToken) =>
    request("POST", "/auth/guest", { body: deviceToken ? { device_token: deviceToken } : {}, token: null }),
  register: ({ username, password, displayName }) =>
    request("POST", "/auth/register", {
      body: displayName ? { username, password, display_name: displayName } : { username, password },
      token: null,
    }),
  login: ({ username, password }) => request("POST", "/auth/login", { body: { username, password }, token: null }),
  upgrade: ({ username, password }) => request("POST", "/auth/upgrade", { body: { username, password } }),
  logout: (token) => request("POST", "/auth/logout", { token }),
};

export const me = {
  get: (token) => request("GET", "/me", { token }),
  update: (changes) => request("PATCH", "/me", { body: changes }),
  changePassword: ({ currentPassword, newPassword }) =>
    request("POST", "/me/password", { body: { current_password: currentPassword, new_password: newPassword } }),
};

export const sessions = {
  list: ({ signal } = {}) => request("GET", "/sessions", { signal }),
  revoke: (id) => request("DELETE", `/sessions/${encodeURIComponent(id)}`),
};

export const config = {
  get: () => request("GET", "/config", { token: null }),
};

// Trust & safety: Roulette's snapshot settings, the caller's own ban and appeal, and the
// moderation console (moderators and admins).

const id = (value) => encodeURIComponent(value);

function query(params) {
  const pairs = Object.entries(params).filter(([, value]) => value !== undefined && value !== null && value !== "");
  return pairs.length ? `?${new URLSearchParams(pairs)}` : "";
}

export const roulette = {
  config: ({ signal } = {}) => request("GET", "/roulette/config", { signal }),
  snapshot: (pairId, jpeg) =>
    request("POST", `/roulette/snapshots${query({ pair_id: pairId })}`, { raw: jpeg, contentType: "image/jpeg" }),
};

export const moderation = {
  me: ({ signal } = {}) => request("GET", "/moderation/me", { signal }),
  appeal: (text) => request("POST", "/moderation/appeals", { body: { text } }),
};

export const admin = {
  reports: ({ state = "open", before, signal } = {}) => request("GET", `/admin/reports${query({ state, before })}`, { signal }),
  frames: ({ state = "open", before, signal } = {}) => request("GET", `/admin/frames${query({ state, before })}`, { signal }),
  frameImage: (frameId, { signal } = {}) => request("GET", `/admin/frames/${id(frameId)}/image`, { as: "blob", signal }),
  bans: ({ state = "active", before, signal } = {}) => request("GET", `/admin/bans${query({ state, before })}`, { signal }),
  appeals: ({ state = "open", before, signal } = {}) => request("GET", `/admin/appeals${query({ state, before })}`, { signal }),
  audit: ({ before, signal } = {}) => request("GET", `/admin/audit${query({ before })}`, { signal }),
  dismissReport: (reportId) => request("POST", `/admin/reports/${id(reportId)}/dismiss`),
  dismissFrame: (frameId) => request("POST", `/admin/frames/${id(frameId)}/dismiss`),
  ban: ({ userId, reasonText, durationSeconds }) =>
    request("POST", "/admin/bans", {
      body: { user_id: userId, reason_text: reasonText, duration_seconds: durationSeconds },
    }),
  unban: (banId, note = "") => request("POST", `/admin/bans/${id(banId)}/unban`, { body: { note } }),
  adjust: (banId, endsAt) => request("POST", `/admin/bans/${id(banId)}/adjust`, { body: { ends_at: endsAt } }),
  decideAppeal: (appealId, { decision, note }) =>
    request("POST", `/admin/appeals/${id(appealId)}/decide`, { body: { decision, note } }),
};

// Who is signed in on this device. Keeps the tokens in localStorage, the current user in memory,
// and tells subscribers when either changes.
//
// Tokens: `session_token` authenticates requests; `device_token` names this device's guest
// account, so "Continue as guest" (and a silent retry when a guest's session has expired) comes
// back to the same guest instead of creating a new one.

import * as api from "./api.js";
import { ApiError } from "./api.js";

const KEYS = {
  session: "palaver.session_token",
  device: "palaver.device_token",
  kind: "palaver.account_kind",
};

const listeners = new Set();
let user = null;
let recovering = null;

function read(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function write(key, value) {
  try {
    if (value === null || value === undefined) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // Without storage the session lasts for this page only.
  }
}

function setUser(next) {
  const previous = user;
  user = next;
  if (next) write(KEYS.kind, next.kind);
  for (const listener of listeners) listener(user, previous);
}

export function currentUser() {
  return user;
}

export function sessionToken() {
  return read(KEYS.session);
}

/** Call `listener(user, previousUser)` whenever the user changes; returns an unsubscribe function. */
export function subscribe(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Sign in again as this device's guest, if the last account used here was a guest. */
async function resumeGuest() {
  const device = read(KEYS.device);
  if (!device || read(KEYS.kind) === "registered") return false;
  try {
    await continueAsGuest();
    return true;
  } catch {
    return false;
  }
}

/** On start-up: check the stored session token; recover a guest silently if it has expired. */
export async function restore() {
  const token = read(KEYS.session);
  if (!token) {
    setUser(null);
    return;
  }
  try {
    setUser(await api.me.get(token));
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
    write(KEYS.session, null);
    if (!(await resumeGuest())) setUser(null);
  }
}

// A request made with our token got 401 (revoked from another device, expired): start over.
api.configure({
  token: () => read(KEYS.session),
  unauthenticated: () => {
    if (recovering) return;
    write(KEYS.session, null);
    recovering = resumeGuest()
      .then((resumed) => {
        if (!resumed) setUser(null);
      })
      .finally(() => {
        recovering = null;
      });
  },
});

export async function continueAsGuest() {
  const device = read(KEYS.device);
  let result;
  try {
    result = await api.auth.guest(device);
  } catch (error) {
    // A device token the server no longer knows (e.g. its data was reset): start a new guest.
    if (!device || !(error instanceof ApiError) || error.status >= 500 || error.status === 429) throw error;
    result = await api.auth.guest(null);
  }
  write(KEYS.session, result.session_token);
  if (result.device_token) write(KEYS.device, result.device_token);
  setUser(result.user);
  return result.user;
}

/** Replace the current session with a new one, signing the old one out on the server. */
async function adoptSession(result) {
  const previous = read(KEYS.session);
  write(KEYS.session, result.session_token);
  setUser(result.user);
  if (previous && previous !== result.session_token) {
    api.auth.logout(previous).catch(() => {});
  }
  return result.user;
}

export async function register({ username, password, displayName }) {
  return adoptSession(await api.auth.register({ username, password, displayName }));
}

export async function signIn({ username, password }) {
  return adoptSession(await api.auth.login({ username, password }));
}

/** Turn the signed-in guest into a registered account (same id, same data). */
export async function upgrade({ username, password }) {
  const result = await api.auth.upgrade({ username, password });
  // The guest account is now registered; the device token no longer names a guest.
  write(KEYS.device, null);
  setUser(result.user);
  return result.user;
}

export async function signOut() {
  const token = read(KEYS.session);
  write(KEYS.session, null);
  if (token) {
    try {
      await api.auth.logout(token);
    } catch {
      // Already invalid or unreachable: forgetting the token locally is what matters.
    }
  }
  setUser(null);
}

export async function updateProfile(changes) {
  const updated = await api.me.update(changes);
  setUser(updated);
  return updated;
}

export function changePassword({ currentPassword, newPassword }) {
  return api.me.changePassword({ currentPassword, newPassword });
}

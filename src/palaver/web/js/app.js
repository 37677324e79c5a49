// The shell: language, session, header, client-side router and keyboard shortcuts.
// Each route loads one view module; a view's render(ctx) returns { node, title } (an i18n key for
// the document title) or { redirect }, and can stop its work when ctx.signal aborts (the user
// left). ctx also carries navigate, flash (a message for the next view), quietly (sign in or out
// without the automatic re-render), signOut, session, params (the query) and path.

import { config as configApi } from "./api.js";
import { h, icon } from "./dom.js";
import { currentLanguage, onLanguageChange, preferredLanguage, setLanguage, t, translateDom } from "./i18n.js";
import * as session from "./session.js";

const ROUTES = {
  "/": { load: () => import("./views/landing.js") },
  "/signin": { load: () => import("./views/auth.js"), view: "renderSignIn" },
  "/signup": { load: () => import("./views/auth.js"), view: "renderSignUp" },
  "/account": { load: () => import("./views/account.js") },
  "/roulette": { load: () => import("./views/roulette.js") },
  "/messenger": { load: () => import("./views/messenger.js") },
  "/banned": { load: () => import("./views/banned.js") },
  "/admin": { load: () => import("./views/admin.js") },
};
const NOT_FOUND = { load: () => import("./views/not-found.js") };
// Views that own every path under a prefix (/messenger/<chat_id>, /messenger/join/<code>).
const PREFIX_ROUTES = [["/messenger/", ROUTES["/messenger"]]];

function routeFor(path) {
  return ROUTES[path] ?? PREFIX_ROUTES.find(([prefix]) => path.startsWith(prefix))?.[1] ?? NOT_FOUND;
}

const viewRoot = document.getElementById("view");
const flashBox = document.getElementById("flash");
const accountArea = document.getElementById("account-area");
const languageSelect = document.getElementById("language-select");
const adminNav = document.getElementById("nav-admin");
const STAFF = new Set(["moderator", "admin"]);

let booted = false;
let quietIdentity = 0;
let renderSeq = 0;
let currentView = null;
let pendingFlash = null;

// ---- navigation -------------------------------------------------------------------------------

function normalisePath(pathname) {
  return pathname.length > 1 ? pathname.replace(/\/+$/, "") : pathname;
}

export function navigate(to, { replace = false } = {}) {
  const url = new URL(to, location.origin);
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  render({ focus: true });
}

/** Show `key` (an i18n key) as a status message on the next rendered view. */
export function flash(key) {
  pendingFlash = key;
}

function showFlash() {
  flashBox.replaceChildren();
  if (!pendingFlash) return;
  flashBox.append(h("p", { class: "flash", i18n: pendingFlash }));
  translateDom(flashBox);
  pendingFlash = null;
}

function updateTitle() {
  const name = t("app.name");
  const title = currentView?.title ? t(currentView.title) : null;
  document.title = title && title !== name ? `${title} · ${name}` : name;
}

function markCurrentLinks(path) {
  for (const link of document.querySelectorAll("header a[href]")) {
    const href = link.getAttribute("href");
    if (href === path || (href !== "/" && path.startsWith(`${href}/`))) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function render({ focus = false } = {}) {
  const seq = ++renderSeq;
  const url = new URL(location.href);
  const path = normalisePath(url.pathname);
  const route = routeFor(path);
  currentView?.controller.abort();
  currentView = null;
  viewRoot.setAttribute("aria-busy", "true");
  let view;
  const controller = new AbortController();
  try {
    const module = await route.load();
    if (seq !== renderSeq) return;
    view = await module[route.view ?? "render"]({
      navigate,
      flash,
      quietly,
      signOut,
      session,
      params: url.searchParams,
      path,
      signal: controller.signal,
    });
  } catch (error) {
    console.error(error);
    view = { node: errorPanel("errors.generic"), title: "errors.title" };
  }
  if (seq !== renderSeq) return controller.abort();
  if (view.redirect) {
    controller.abort();
    history.replaceState(null, "", view.redirect);
    return render({ focus });
  }
  translateDom(view.node);
  viewRoot.replaceChildren(view.node);
  viewRoot.removeAttribute("aria-busy");
  currentView = { ...view, controller };
  showFlash();
  updateTitle();
  markCurrentLinks(path);
  if (focus) {
    window.scrollTo(0, 0);
    (viewRoot.querySelector("h1") ?? viewRoot).focus({ preventScroll: true });
  }
}

function errorPanel(key, retry = null) {
  return h(
    "section",
    { class: "panel narrow" },
    h("h1", { tabindex: "-1", i18n: "errors.title" }),
    h("p", { i18n: key }),
    retry ? h("button", { type: "button", class: "button primary", i18n: "errors.retry", onclick: retry }) : null,
  );
}

// Follow same-origin links without reloading the page.
document.addEventListener("click", (event) => {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest("a[href]");
  if (!link || link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/api/")) return;
  if (url.pathname === location.pathname && url.search === location.search && url.hash) return;
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});

window.addEventListener("popstate", () => render({ focus: true }));

// ---- header: who is signed in -----------------------------------------------------------------

function renderAccountArea(user) {
  // The moderation console is linked for moderators and admins only (the server checks anyway).
  adminNav.hidden = !STAFF.has(user?.role);
  if (!user) {
    accountArea.replaceChildren(
      h("a", { href: "/signin", class: "button ghost", i18n: "auth.sign_in" }),
      h("a", { href: "/signup", class: "button primary", i18n: "auth.sign_up" }),
    );
  } else {
    accountArea.replaceChildren(
      h(
        "p",
        { class: "whoami" },
        h("span", { class: "visually-hidden", i18n: "shell.signed_in_as" }),
        h(
          "a",
          { href: "/account", class: "user-link", "data-testid": "current-user", i18nTitle: "shell.account_link" },
          icon("user"),
          h("bdi", { class: "user-name", text: user.display_name }),
        ),
        user.kind === "guest" ? h("span", { class: "badge", i18n: "account.kind.guest" }) : null,
      ),
      h("button", { type: "button", class: "button ghost", i18n: "auth.sign_out", onclick: () => signOut() }),
    );
  }
  translateDom(accountArea);
  markCurrentLinks(normalisePath(location.pathname));
}

/** Run `work` (signing in or out) without the automatic re-render: the caller navigates next. */
async function quietly(work) {
  quietIdentity += 1;
  try {
    return await work();
  } finally {
    quietIdentity -= 1;
  }
}

async function signOut() {
  await quietly(() => session.signOut());
  flash("auth.signed_out");
  navigate("/");
}

session.subscribe((user, previous) => {
  renderAccountArea(user);
  // A different identity (signed in, out, or switched — also by a token expiring) re-renders the
  // view; a profile edit does not.
  const changed = (user?.id ?? null) !== (previous?.id ?? null);
  if (booted && changed && !quietIdentity) render({ focus: true });
});

// ---- language ---------------------------------------------------------------------------------

languageSelect.addEventListener("change", async () => {
  await setLanguage(languageSelect.value);
});

onLanguageChange((lang) => {
  languageSelect.value = lang;
  updateTitle();
});

// ---- keyboard shortcuts: "g" then a letter goes somewhere; "?" opens the list -----------------

const GO_TO = { h: "/", r: "/roulette", m: "/messenger", a: "/account" };
let awaitingGo = 0;

function isTyping(target) {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
}

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
  if (event.key === "?") {
    const shortcuts = document.getElementById("shortcuts");
    shortcuts.open = true;
    shortcuts.querySelector("summary").focus();
    event.preventDefault();
    return;
  }
  if (awaitingGo && Date.now() - awaitingGo < 1500 && GO_TO[event.key]) {
    awaitingGo = 0;
    event.preventDefault();
    navigate(GO_TO[event.key]);
    return;
  }
  awaitingGo = event.key === "g" ? Date.now() : 0;
});

// ---- start ------------------------------------------------------------------------------------

async function showVersion() {
  try {
    const { version } = await configApi.get();
    const line = document.getElementById("version");
    line.setAttribute("data-i18n", "footer.version");
    line.setAttribute("data-i18n-vars", JSON.stringify({ version }));
    translateDom(line);
  } catch {
    // The version is decoration; the page works without it.
  }
}

async function boot() {
  await setLanguage(preferredLanguage(), { remember: false });
  languageSelect.value = currentLanguage();
  showVersion();
  try {
    await session.restore();
  } catch (error) {
    console.error(error);
    const panel = errorPanel("errors.network", () => location.reload());
    translateDom(panel);
    viewRoot.replaceChildren(panel);
    viewRoot.removeAttribute("aria-busy");
    return;
  }
  booted = true;
  await render();
  document.documentElement.dataset.ready = "true";
}

boot();

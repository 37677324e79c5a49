// The moderation console (/admin), for moderators and admins: Reports, Flagged frames, Bans,
// Appeals and — admins only — the Audit log, one tab each (/admin?tab=bans). The server checks
// every request's role; this page only decides what to offer. Actions refresh their list and
// report back in one polite message line.

import { h } from "../dom.js";
import { messageLine } from "./admin-common.js";
import { appealsTab } from "./admin-appeals.js";
import { auditTab } from "./admin-audit.js";
import { bansTab } from "./admin-bans.js";
import { framesTab } from "./admin-frames.js";
import { reportsTab } from "./admin-reports.js";

const STAFF = new Set(["moderator", "admin"]);
const TABS = [
  { name: "reports", render: reportsTab },
  { name: "frames", render: framesTab },
  { name: "bans", render: bansTab },
  { name: "appeals", render: appealsTab },
  { name: "audit", render: auditTab, adminOnly: true },
];

function notAllowed() {
  const node = h(
    "section",
    { class: "panel narrow notice", "data-testid": "admin-not-allowed" },
    h("h1", { tabindex: "-1", i18n: "admin.not_allowed_title" }),
    h("p", { i18n: "admin.not_allowed_text" }),
    h("p", {}, h("a", { href: "/", class: "button", i18n: "notice.back_home" })),
  );
  return { node, title: "admin.title" };
}

export function render({ session, params, signal }) {
  const user = session.currentUser();
  if (!user) return { redirect: "/signin?next=/admin" };
  if (!STAFF.has(user.role)) return notAllowed();
  const isAdmin = user.role === "admin";
  const tabs = TABS.filter((tab) => isAdmin || !tab.adminOnly);
  const current = tabs.find((tab) => tab.name === params.get("tab")) ?? tabs[0];
  const message = messageLine();

  const nav = h(
    "nav",
    { class: "mod-tabs", i18nAriaLabel: "admin.sections" },
    h(
      "ul",
      { role: "list" },
      tabs.map((tab) =>
        h("li", {}, h("a", {
          href: `/admin?tab=${tab.name}`,
          i18n: `admin.tab.${tab.name}`,
          "aria-current": tab === current ? "page" : null,
        })),
      ),
    ),
  );
  const node = h(
    "section",
    { class: "moderation", "aria-labelledby": "admin-title" },
    h("header", { class: "mod-head" },
      h("h1", { id: "admin-title", tabindex: "-1", i18n: "admin.title" }),
      h("p", { class: "meta", i18n: isAdmin ? "admin.you_are_admin" : "admin.you_are_moderator" })),
    nav,
    h("h2", { class: "mod-tab-title", i18n: `admin.tab.${current.name}` }),
    message.node,
  );
  node.append(current.render({ host: node, isAdmin, message, signal }));
  return { node, title: "admin.title" };
}

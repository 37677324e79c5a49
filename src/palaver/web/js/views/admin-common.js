// Building blocks of the moderation console: a paged, filterable queue; people, times and bans as
// the console shows them; the modal dialogs its actions ask through; and a polite message line.

import { ApiError } from "../api.js";
import { h } from "../dom.js";
import { errorKey } from "../forms.js";
import { hasKey, translateDom } from "../i18n.js";

export const PAGE_SIZE = 50; // the server's default limit
// Ban lengths a moderator can choose from (seconds); null = indefinite (admins only).
export const BAN_DURATIONS = [
  ["10m", 600],
  ["1h", 3600],
  ["1d", 86400],
  ["7d", 7 * 86400],
  ["30d", 30 * 86400],
  ["indefinite", null],
];

/** The i18n key explaining a failed console action. */
export function adminErrorKey(error) {
  if (error instanceof ApiError && hasKey(`admin.error.${error.code}`)) return `admin.error.${error.code}`;
  return errorKey(error);
}

export function person(user) {
  if (!user) return h("span", { class: "person system", i18n: "admin.system" });
  return h(
    "span",
    { class: "person", "data-user-id": user.id },
    h("bdi", { class: "person-name", dir: "auto", text: user.display_name ?? "" }),
    " ",
    h("span", { class: "meta person-id", text: `#${user.id}` }),
  );
}

export function time(seconds) {
  if (seconds === null || seconds === undefined) return h("span", { i18n: "admin.never" });
  return h("time", { "data-timestamp": seconds, datetime: new Date(Number(seconds) * 1000).toISOString() });
}

/** Label: value pairs of an item. */
export function facts(pairs) {
  return h(
    "dl",
    { class: "facts mod-facts" },
    pairs.filter(Boolean).flatMap(([label, value]) => [h("dt", { i18n: label }), h("dd", {}, value)]),
  );
}

export function banFacts(ban) {
  return facts([
    ["admin.ban.reason", h("span", {}, h("span", { i18n: `admin.reason.${ban.reason}` }),
      ban.reason_text ? [" — ", h("bdi", { dir: "auto", text: ban.reason_text })] : null)],
    ["admin.ban.state", h("span", { class: `state state-${ban.state}`, i18n: `admin.ban_state.${ban.state}` })],
    ["admin.ban.level", String(ban.level)],
    ["admin.ban.starts", time(ban.starts_at)],
    ["admin.ban.ends", ban.ends_at === null ? h("span", { i18n: "admin.ban.indefinite" }) : time(ban.ends_at)],
  ]);
}

/** The console's message line: successes politely, failures as an alert. */
export function messageLine() {
  const node = h("p", { class: "mod-message", role: "status", "aria-live": "polite", "data-testid": "admin-message" });
  return {
    node,
    ok(key) {
      node.className = "mod-message status";
      node.setAttribute("data-i18n", key);
      translateDom(node);
    },
    fail(error) {
      if (!(error instanceof ApiError)) console.error(error);
      node.className = "mod-message alert";
      node.setAttribute("data-i18n", adminErrorKey(error));
      translateDom(node);
    },
    clear() {
      node.className = "mod-message";
      node.removeAttribute("data-i18n");
      node.textContent = "";
    },
  };
}

/**
 * A modal dialog with `content` (nodes, including named inputs) and submit/cancel buttons.
 * Resolves the form's values as an object ({ name: value }) when submitted, or null.
 * `validate(form)` may return an i18n key to show instead of closing.
 */
export function askDialog(host, { title, content, submit, danger = false, validate = () => null }) {
  return new Promise((resolve) => {
    const alert = h("p", { class: "alert", role: "alert", hidden: true });
    const titleId = `mod-dialog-title-${Math.random().toString(36).slice(2)}`;
    const form = h(
      "form",
      { method: "dialog", class: "stack", novalidate: true },
      h("h2", { id: titleId, i18n: title }),
      content,
      alert,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "submit", value: "ok", class: danger ? "button danger" : "button primary", i18n: submit }),
        h("button", { type: "submit", value: "cancel", class: "button ghost", formnovalidate: true, i18n: "admin.cancel" }),
      ),
    );
    const dialog = h("dialog", { class: "terms-dialog mod-dialog", "aria-labelledby": titleId }, form);
    form.addEventListener("submit", (event) => {
      if (event.submitter?.value !== "ok") return;
      const problem = validate(form);
      if (problem) {
        event.preventDefault();
        alert.setAttribute("data-i18n", problem);
        alert.hidden = false;
        translateDom(alert);
      }
    });
    dialog.addEventListener("close", () => {
      const values = dialog.returnValue === "ok" ? Object.fromEntries(new FormData(form)) : null;
      dialog.remove();
      resolve(values);
    });
    translateDom(dialog);
    host.append(dialog);
    dialog.showModal();
  });
}

let uid = 0;

/** A labelled control for askDialog. */
export function dialogField(label, control, hint = null) {
  const id = `mod-field-${++uid}`;
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id, i18n: label }), control,
    hint ? h("p", { class: "hint", i18n: hint }) : null);
}

/** Ask a moderator how long and why to ban `user`; resolves { reasonText, durationSeconds } or null. */
export async function askBan(host, { user, isAdmin, reasonText = "" }) {
  const durations = BAN_DURATIONS.filter(([, value]) => value !== null || isAdmin);
  const select = h("select", { name: "duration" },
    durations.map(([name], index) => h("option", { value: name, selected: index === 2, i18n: `admin.duration.${name}` })));
  const reason = h("textarea", { name: "reason_text", rows: 3, maxlength: 500, dir: "auto", required: true });
  reason.value = reasonText;
  const values = await askDialog(host, {
    title: "admin.ban.dialog_title",
    content: [
      h("p", {}, h("span", { i18n: "admin.ban.who" }), " ", person(user)),
      dialogField("admin.ban.duration", select),
      dialogField("admin.ban.reason_text", reason, "admin.ban.reason_text_hint"),
    ],
    submit: "admin.action.ban",
    danger: true,
    validate: (form) => (form.elements.reason_text.value.trim() ? null : "admin.ban.reason_required"),
  });
  if (!values) return null;
  const duration = BAN_DURATIONS.find(([name]) => name === values.duration);
  return { reasonText: values.reason_text.trim(), durationSeconds: duration ? duration[1] : 86400 };
}

/**
 * A queue of items with a state filter and "Older" paging. `load({ state, before, signal })`
 * returns items (each with an `id`); `item(entry, refresh)` renders one <li>.
 */
export function queue({ name, states, load, item, empty, message, signal }) {
  const list = h("ul", { class: "mod-list", role: "list", "data-testid": `${name}-list` });
  const emptyNote = h("p", { class: "hint", hidden: true, i18n: empty });
  const more = h("button", { type: "button", class: "button small", hidden: true, i18n: "admin.older" });
  const filterId = `mod-filter-${name}`;
  const filter = states.length > 1
    ? h("select", { id: filterId, name: "state" }, states.map((state) => h("option", { value: state, i18n: `admin.filter.${state}` })))
    : null;
  const refreshButton = h("button", { type: "button", class: "button small ghost", i18n: "admin.refresh" });
  const node = h(
    "div",
    { class: "mod-queue" },
    h("div", { class: "mod-toolbar" },
      filter ? h("div", { class: "field inline" }, h("label", { for: filterId, i18n: "admin.filter.label" }), filter) : null,
      refreshButton),
    emptyNote,
    list,
    more,
  );
  let cursor = null;
  let loading = 0;

  async function fill({ append = false } = {}) {
    const run = ++loading;
    node.setAttribute("aria-busy", "true");
    try {
      const entries = await load({ state: filter?.value ?? states[0], before: append ? cursor : undefined, signal });
      if (run !== loading || signal.aborted) return;
      const items = entries.map((entry) => item(entry, () => fill()));
      if (append) list.append(...items);
      else list.replaceChildren(...items);
      translateDom(list);
      cursor = entries.length ? entries[entries.length - 1].id : cursor;
      more.hidden = entries.length < PAGE_SIZE;
      emptyNote.hidden = list.children.length > 0;
    } catch (error) {
      if (error?.name !== "AbortError") message.fail(error);
    } finally {
      if (run === loading) node.removeAttribute("aria-busy");
    }
  }

  filter?.addEventListener("change", () => fill());
  refreshButton.addEventListener("click", () => {
    message.clear();
    fill();
  });
  more.addEventListener("click", () => fill({ append: true }));
  fill();
  return { node, refresh: () => fill() };
}

/** Run a console action: buttons of `scope` disabled meanwhile, then a message and a refresh. */
export async function act(scope, message, work, { done, refresh }) {
  const buttons = [...scope.querySelectorAll("button")];
  for (const button of buttons) button.disabled = true;
  try {
    await work();
    message.ok(done);
    refresh();
  } catch (error) {
    message.fail(error);
  } finally {
    for (const button of buttons) button.disabled = false;
  }
}

// The text chat beside the video: a log of "You" / "Stranger" messages, a message box with its
// length limit, and a line for errors. Sending is only possible while paired.

import { h } from "../dom.js";
import { translateDom } from "../i18n.js";

let uid = 0;

/**
 * `maxLength`: the server's limit; `onSend(text)`: returns a promise (rejects with an error);
 * `errorKey(error)`: the i18n key explaining a failed send.
 */
export function chatPanel({ maxLength, onSend, errorKey }) {
  const id = `roulette-chat-${++uid}`;
  const log = h("ol", {
    class: "chat-log",
    role: "log",
    "aria-live": "polite",
    "aria-labelledby": `${id}-title`,
    tabindex: "0",
    "data-testid": "roulette-chat-log",
  });
  const empty = h("p", { class: "chat-empty hint", i18n: "roulette.chat.empty" });
  const input = h("textarea", {
    id: `${id}-input`,
    name: "message",
    rows: 2,
    maxlength: maxLength,
    dir: "auto",
    disabled: true,
    "aria-describedby": `${id}-count ${id}-hint`,
    i18nPlaceholder: "roulette.chat.placeholder",
  });
  const counter = h("span", { class: "chat-count", id: `${id}-count`, "aria-live": "off" });
  const hint = h("span", { class: "chat-hint", id: `${id}-hint`, i18n: "roulette.chat.not_paired" });
  const sendButton = h("button", { type: "submit", class: "button primary small", disabled: true, i18n: "roulette.chat.send" });
  const alert = h("p", { class: "alert chat-error", role: "alert", hidden: true });
  const form = h(
    "form",
    { class: "chat-form", novalidate: true },
    h("label", { for: `${id}-input`, class: "visually-hidden", i18n: "roulette.chat.label" }),
    input,
    h("div", { class: "chat-meta" }, hint, counter, sendButton),
    alert,
  );
  const node = h(
    "section",
    { class: "chat panel", "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title`, i18n: "roulette.chat.title" }),
    h("div", { class: "chat-scroll" }, empty, log),
    form,
  );
  let enabled = false;

  function updateCounter() {
    counter.setAttribute("data-i18n", "roulette.chat.count");
    counter.setAttribute("data-i18n-vars", JSON.stringify({ count: input.value.length, max: maxLength }));
    counter.classList.toggle("full", input.value.length >= maxLength);
    translateDom(counter);
    sendButton.disabled = !enabled || !input.value.trim();
  }

  function showError(key) {
    if (!key) {
      alert.hidden = true;
      alert.removeAttribute("data-i18n");
      alert.textContent = "";
      return;
    }
    alert.setAttribute("data-i18n", key);
    alert.hidden = false;
    translateDom(alert);
  }

  function append(item) {
    empty.hidden = true;
    translateDom(item);
    log.append(item);
    log.parentElement.scrollTop = log.parentElement.scrollHeight;
  }

  function add(from, text) {
    const mine = from === "me";
    append(
      h(
        "li",
        { class: mine ? "chat-message mine" : "chat-message theirs", "data-from": mine ? "me" : "partner" },
        h("span", { class: "chat-author", i18n: mine ? "roulette.chat.you" : "roulette.chat.stranger" }),
        h("bdi", { class: "chat-text", dir: "auto", text }),
      ),
    );
  }

  /** A line from Palaver itself ("You are now talking to …"). */
  function notice(key, vars) {
    append(h("li", { class: "chat-notice", i18n: key, i18nVars: vars }));
  }

  async function submit() {
    const text = input.value.trim();
    if (!enabled || !text) return;
    showError(null);
    sendButton.disabled = true;
    try {
      await onSend(text);
      add("me", text);
      if (input.value.trim() === text) input.value = ""; // keep whatever was typed meanwhile
    } catch (error) {
      showError(errorKey(error));
    } finally {
      updateCounter();
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  input.addEventListener("input", () => {
    showError(null);
    updateCounter();
  });
  input.addEventListener("keydown", (event) => {
    // Enter sends, Shift+Enter starts a new line (not while an input method is composing).
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  updateCounter();

  return {
    node,
    input,
    add,
    notice,
    showError,
    /** Allow sending (paired) or not; the hint says why not. */
    setEnabled(value) {
      enabled = value;
      input.disabled = !value;
      hint.hidden = value;
      updateCounter();
    },
    clear() {
      log.replaceChildren();
      empty.hidden = false;
      showError(null);
    },
  };
}

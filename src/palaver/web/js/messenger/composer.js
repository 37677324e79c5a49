// The composer: write, reply, edit; drafts saved as you type (debounced), typing indicator,
// silent and anonymous posts. Keys: Enter sends, Shift+Enter starts a new line, Esc cancels a
// reply or an edit, ↑ in an empty composer edits your last message.

import { ApiError } from "../api.js";
import { h } from "../dom.js";
import { translateDom } from "../i18n.js";
import * as mapi from "./api.js";
import { detectEntities, errorKey, preview, userName } from "./format.js";
import { svgIcon } from "./icons.js";
import { newRandomId } from "./outbox.js";

const DRAFT_DELAY = 800;
const TYPING_EVERY = 4000;
const MAX_TEXT = 4096;

export function createComposer({ store, controller }) {
  const textarea = h("textarea", {
    id: "m-compose",
    class: "m-compose-input",
    rows: 1,
    dir: "auto",
    maxlength: MAX_TEXT,
    i18nPlaceholder: "messenger.write_message",
    "aria-describedby": "m-compose-hint",
  });
  const contextLabel = h("p", { class: "m-compose-what" });
  const contextText = h("bdi", { class: "m-compose-quote" });
  const cancelButton = h("button", {
    type: "button",
    class: "button ghost icon-button",
    i18nAriaLabel: "messenger.cancel_reply_edit",
    onclick: () => cancelMode({ restore: true }),
  }, svgIcon("close"));
  const context = h(
    "div",
    { class: "m-compose-context", hidden: true },
    h("div", { class: "m-compose-context-text" }, contextLabel, contextText),
    cancelButton,
  );
  const silent = h("input", { type: "checkbox", id: "m-silent", name: "silent" });
  const anonymous = h("input", { type: "checkbox", id: "m-anonymous", name: "anonymous" });
  const silentOption = h("div", { class: "check", hidden: true }, silent, h("label", { for: "m-silent", i18n: "messenger.silent" }));
  const anonymousOption = h(
    "div",
    { class: "check", hidden: true },
    anonymous,
    h("label", { for: "m-anonymous", i18n: "messenger.post_anonymously" }),
  );
  const alert = h("p", { class: "alert m-compose-alert", role: "alert", hidden: true });
  const sendButton = h("button", { type: "submit", class: "button primary m-send", i18n: "messenger.send" });
  const form = h(
    "form",
    { class: "m-composer", novalidate: true, "data-testid": "composer" },
    alert,
    context,
    h(
      "div",
      { class: "m-compose-row" },
      h("label", { for: "m-compose", class: "visually-hidden", i18n: "messenger.message_label" }),
      textarea,
      sendButton,
    ),
    h(
      "div",
      { class: "m-compose-options" },
      silentOption,
      anonymousOption,
      h("p", { id: "m-compose-hint", class: "hint m-compose-hint", i18n: "messenger.compose_hint" }),
    ),
  );

  let chat = null; // { chatId, perms, kind }
  let mode = null; // { type: "reply" | "edit", message }
  let savedText = ""; // what the composer held before an edit started
  let draftTimer = null;
  let lastDraft = null; // { chatId, text, reply }
  let lastTyping = 0;

  function showAlert(key) {
    alert.hidden = !key;
    if (key) {
      alert.setAttribute("data-i18n", key);
      translateDom(alert);
    }
  }

  function grow() {
    textarea.style.blockSize = "auto";
    textarea.style.blockSize = `${Math.min(textarea.scrollHeight + 2, 200)}px`;
  }

  function renderMode() {
    context.hidden = !mode;
    if (!mode) return;
    const message = mode.message;
    if (mode.type === "reply") {
      const who = message.sender_id ? userName(store, message.sender_id) : store.dialog(chat.chatId)?.chat.title;
      contextLabel.replaceChildren(h("span", { i18n: "messenger.replying_to" }), " ", h("bdi", { text: who ?? "" }));
    } else {
      contextLabel.replaceChildren(h("span", { i18n: "messenger.editing" }));
    }
    contextText.textContent = preview(message, 100);
    translateDom(context);
  }

  // ---- drafts and typing ------------------------------------------------------------------------

  function currentDraft() {
    return { chatId: chat?.chatId, text: textarea.value, reply: mode?.type === "reply" ? mode.message.id : null };
  }

  function scheduleDraft() {
    if (!chat || mode?.type === "edit") return;
    clearTimeout(draftTimer);
    draftTimer = setTimeout(flushDraft, DRAFT_DELAY);
  }

  /** Save the draft now if it changed (when leaving a chat, or after the pause). */
  function flushDraft() {
    clearTimeout(draftTimer);
    draftTimer = null;
    if (!chat || !chat.perms.send || mode?.type === "edit") return;
    const draft = currentDraft();
    const stored = store.dialog(draft.chatId)?.membership?.draft;
    const same = (stored?.text ?? "") === draft.text.trim() && (stored?.reply_to ?? null) === (draft.text.trim() ? draft.reply : null);
    if (same || (lastDraft && lastDraft.chatId === draft.chatId && lastDraft.text === draft.text && lastDraft.reply === draft.reply)) return;
    lastDraft = draft;
    const text = draft.text.trim() ? draft.text : "";
    const reply = text ? draft.reply : null;
    // Shown at once (the list says "Draft: …"); the server's draft update confirms it.
    store.apply({ type: "draft", chat_id: draft.chatId, draft: text ? { text, entities: [], reply_to: reply, date: Date.now() / 1000 } : null });
    mapi.messages.draft(draft.chatId, text, reply).catch(() => {
      lastDraft = null; // try again with the next change
    });
  }

  function typing() {
    if (!chat || !chat.perms.send || chat.kind === "channel") return;
    const now = Date.now();
    if (now - lastTyping < TYPING_EVERY) return;
    lastTyping = now;
    mapi.messages.typing(chat.chatId, "typing").catch(() => {});
  }

  // ---- modes ------------------------------------------------------------------------------------

  function startReply(message) {
    if (mode?.type === "edit") cancelMode({ restore: true });
    mode = { type: "reply", message };
    renderMode();
    textarea.focus();
    scheduleDraft();
  }

  function startEdit(message) {
    if (mode?.type !== "edit") savedText = textarea.value;
    mode = { type: "edit", message };
    textarea.value = message.text;
    renderMode();
    grow();
    textarea.focus();
    textarea.setSelectionRange(textarea.value.length, textarea.value.length);
  }

  function cancelMode({ restore }) {
    if (!mode) return false;
    const wasEdit = mode.type === "edit";
    mode = null;
    renderMode();
    if (wasEdit && restore) {
      textarea.value = savedText;
      savedText = "";
      grow();
    }
    if (!wasEdit) scheduleDraft();
    textarea.focus();
    return true;
  }

  // ---- sending ----------------------------------------------------------------------------------

  async function submit() {
    if (!chat) return;
    const text = textarea.value;
    if (!text.trim()) {
      if (mode?.type === "edit") showAlert("messenger.error.message_empty");
      return;
    }
    showAlert(null);
    const target = chat.chatId;
    const current = mode;
    const entities = detectEntities(text);
    const randomId = newRandomId(); // one per message: its retries are recognised, never stored twice
    sendButton.disabled = true;
    try {
      let message;
      const once = (withEntities) =>
        current?.type === "edit"
          ? mapi.messages.edit(target, current.message.id, text, withEntities)
          : mapi.messages.send(target, {
              text,
              entities: withEntities,
              replyTo: current?.type === "reply" ? current.message.id : null,
              silent: !silentOption.hidden && silent.checked,
              anonymous: !anonymousOption.hidden && anonymous.checked,
              randomId,
            });
      // Lost on the way (offline, a server error): the same send again once the gateway is back.
      const attempt = (withEntities) =>
        controller.outbox.send(() => once(withEntities), { retrying: () => showAlert("messenger.send_retrying") });
      try {
        ({ message } = await attempt(entities));
      } catch (error) {
        // Our link detection is a nicety: if the server disagrees, send the plain text.
        if (!(error instanceof ApiError) || error.code !== "invalid_entities" || !entities.length) throw error;
        ({ message } = await attempt([]));
      }
      showAlert(null);
      store.putOwn(message);
      if (chat?.chatId === target) {
        clearTimeout(draftTimer);
        lastDraft = { chatId: target, text: "", reply: null };
        mode = null;
        renderMode();
        textarea.value = current?.type === "edit" ? savedText : "";
        savedText = "";
        grow();
        if (current?.type === "edit") scheduleDraft();
        lastTyping = 0;
        controller.sent(message, current?.type === "edit");
      }
    } catch (error) {
      if (error instanceof ApiError && error.code === "message_not_modified") {
        cancelMode({ restore: true });
        return;
      }
      showAlert(errorKey(error));
    } finally {
      sendButton.disabled = false;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });

  textarea.addEventListener("input", () => {
    grow();
    if (!alert.hidden) showAlert(null);
    if (mode?.type !== "edit") {
      scheduleDraft();
      if (textarea.value.trim()) typing();
    }
  });

  textarea.addEventListener("keydown", (event) => {
    if (event.isComposing || event.keyCode === 229) return;
    if (event.key === "Enter" && !event.shiftKey && !event.ctrlKey && !event.altKey && !event.metaKey) {
      event.preventDefault();
      submit();
    } else if (event.key === "Escape") {
      if (cancelMode({ restore: true })) {
        event.preventDefault();
        event.stopPropagation();
      }
    } else if (event.key === "ArrowUp" && !textarea.value && !mode) {
      const last = controller.lastEditableMessage();
      if (last) {
        event.preventDefault();
        startEdit(last);
      }
    }
  });

  /** Show the composer for a chat (or hide it): restores that chat's draft. */
  function setChat(next) {
    if (chat && (!next || next.chatId !== chat.chatId)) flushDraft();
    const same = chat && next && chat.chatId === next.chatId;
    chat = next;
    if (!next) return;
    silentOption.hidden = next.kind !== "channel";
    anonymousOption.hidden = !next.perms.anonymous;
    form.hidden = !next.perms.send;
    if (same) return;
    mode = null;
    savedText = "";
    showAlert(null);
    const draft = store.dialog(next.chatId)?.membership?.draft;
    textarea.value = draft?.text ?? "";
    lastDraft = { chatId: next.chatId, text: textarea.value, reply: draft?.reply_to ?? null };
    const replyTo = draft?.reply_to ? store.message(next.chatId, draft.reply_to) : null;
    if (replyTo) mode = { type: "reply", message: replyTo };
    renderMode();
    grow();
  }

  /** A draft changed on another device: take it unless the user is writing here. */
  function draftChanged(chatId) {
    if (!chat || chat.chatId !== chatId || document.activeElement === textarea || mode) return;
    const draft = store.dialog(chatId)?.membership?.draft;
    textarea.value = draft?.text ?? "";
    lastDraft = { chatId, text: textarea.value, reply: draft?.reply_to ?? null };
    grow();
  }

  /** A message was deleted: stop replying to or editing it. */
  function messagesRemoved(chatId, ids) {
    if (chat?.chatId === chatId && mode && ids.includes(mode.message.id)) cancelMode({ restore: true });
  }

  return {
    node: form,
    setChat,
    startReply,
    startEdit,
    cancel: () => cancelMode({ restore: true }),
    focus: () => textarea.focus(),
    flushDraft,
    draftChanged,
    messagesRemoved,
    refreshMode: renderMode,
  };
}

// Small progressive enhancements; every page works without this file.
// Keyboard shortcuts: an element with data-shortcut="k" is reached with key K when the user is not
// typing and no modifier key is held. A shortcut never submits a decision by itself:
//   E / D  select escalate / dismiss and move focus to that button (for a dismiss without a reason,
//          to the reasons first); Enter or Space on the button then confirms.
//   1–4    choose the dismiss reason;  C  focus the confidence (then the arrow keys);
//   N      next case (navigation only, never a graded answer).
// Enter in a reason or confidence field moves focus to the selected button; it never submits.
// Shortcuts can be turned off with the switch under the decision form (remembered in
// localStorage). While off, aria-keyshortcuts is removed so the page states what actually works.
(function () {
  "use strict";

  const NON_TEXT_INPUTS = ["radio", "checkbox", "range", "button", "submit", "reset"];
  const STORAGE_KEY = "alertdrill.shortcuts";
  const CHOICE_KEYS = { e: "escalate", d: "dismiss" };

  function shortcutsOn() {
    try {
      return window.localStorage.getItem(STORAGE_KEY) !== "off";
    } catch (err) {
      return true;
    }
  }

  function setShortcutsOn(on) {
    try {
      window.localStorage.setItem(STORAGE_KEY, on ? "on" : "off");
    } catch (err) {
      // Storage blocked: the switch still works for this page.
      document.documentElement.dataset.shortcuts = on ? "on" : "off";
    }
    sync();
  }

  function enabled() {
    const forced = document.documentElement.dataset.shortcuts;
    if (forced) return forced === "on";
    return shortcutsOn();
  }

  // Show the shortcut switch and help (hidden without JavaScript, where no shortcut works), and
  // keep aria-keyshortcuts in step with the switch.
  function sync() {
    const on = enabled();
    document.querySelectorAll("[data-shortcut]").forEach(function (el) {
      if (on) el.setAttribute("aria-keyshortcuts", el.getAttribute("data-shortcut").toUpperCase());
      else el.removeAttribute("aria-keyshortcuts");
    });
    document.querySelectorAll("[data-shortcut-settings]").forEach(function (box) {
      box.hidden = false;
      box.classList.toggle("shortcuts-off", !on);
      const toggle = box.querySelector("[data-shortcut-toggle]");
      if (toggle) toggle.checked = on;
      const help = box.querySelector("[data-shortcut-help]");
      if (help) help.hidden = !on;
    });
    if (!on) document.querySelectorAll("form.decision-form").forEach(clearChoice);
  }

  function isTyping(target) {
    if (!target || !target.tagName) return false;
    if (target.isContentEditable) return true;
    const tag = target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    if (tag === "INPUT") return NON_TEXT_INPUTS.indexOf((target.type || "text").toLowerCase()) === -1;
    return false;
  }

  function status(form, message) {
    const box = form.parentNode && form.parentNode.querySelector("[data-shortcut-status]");
    if (box) box.textContent = message;
  }

  function clearChoice(form) {
    delete form.dataset.choice;
    form.querySelectorAll(".is-chosen").forEach(function (b) { b.classList.remove("is-chosen"); });
    status(form, "");
  }

  function label(button) {
    const copy = button.cloneNode(true);
    copy.querySelectorAll(".kbd").forEach(function (k) { k.remove(); });
    return copy.textContent.replace(/\s+/g, " ").trim();
  }

  // What still stands between a selected dismiss and confirming it: a reason, or the "Other" text.
  function missingForDismiss(form) {
    const reasons = form.querySelectorAll('input[name="reason"]');
    if (!reasons.length) return null;
    const chosen = form.querySelector('input[name="reason"]:checked');
    if (!chosen) return reasons[0];
    const text = form.querySelector("#reason_text");
    if (chosen.value === "other" && text && !text.value.trim()) return text;
    return null;
  }

  // Focus the button for the selected action, or the field it still needs.
  function advance(form) {
    const action = form.dataset.choice;
    if (!action) return false;
    const button = form.querySelector('button[type="submit"][name="action"][value="' + action + '"]');
    if (!button) return false;
    const name = label(button);
    const missing = action === "dismiss" ? missingForDismiss(form) : null;
    if (missing) {
      missing.focus();
      status(form, name + " selected: " + (missing.type === "radio"
        ? "choose a reason (1–4 or the arrow keys), then press Enter."
        : "type the other reason, then press Enter."));
      return true;
    }
    button.focus();
    status(form, name + " selected: press Enter to confirm, or Tab to change your mind.");
    return true;
  }

  function choose(form, action) {
    form.querySelectorAll(".is-chosen").forEach(function (b) { b.classList.remove("is-chosen"); });
    const button = form.querySelector('button[type="submit"][name="action"][value="' + action + '"]');
    if (!button || button.disabled) return;
    form.dataset.choice = action;
    button.classList.add("is-chosen");
    advance(form);
  }

  function activate(element, key) {
    const form = element.closest("form.decision-form");
    if (form && CHOICE_KEYS[key] && element.getAttribute("name") === "action") {
      choose(form, CHOICE_KEYS[key]);  // select only: Enter on the focused button confirms
      return;
    }
    const tag = element.tagName;
    if (tag === "INPUT" && (element.type === "radio" || element.type === "checkbox")) {
      element.focus();
      element.click();
      // A reason belongs to a dismiss: go on to its button, or drop a selected escalate.
      if (form && element.name === "reason" && form.dataset.choice === "dismiss") advance(form);
      else if (form && element.name === "reason" && form.dataset.choice) clearChoice(form);
      return;
    }
    if (tag === "BUTTON" || tag === "A" || tag === "INPUT") {
      element.focus();
      element.click();
      return;
    }
    // A group (e.g. the confidence fieldset): focus its chosen option so arrow keys move it.
    const inner = element.querySelector("input:checked") || element.querySelector("input, button, select, textarea");
    if (inner) inner.focus();
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing) return;
    if (event.ctrlKey || event.metaKey || event.altKey || event.shiftKey || event.repeat) return;
    const target = event.target;

    // Enter in a field of a decision form: never an implicit submit (which would send whichever
    // button comes first); go to the selected action's button instead.
    if (event.key === "Enter" && target && target.tagName === "INPUT" && target.type !== "submit"
        && target.type !== "button") {
      const form = target.closest("form.decision-form");
      if (form) {
        event.preventDefault();
        if (!advance(form) && enabled()) status(form, "Press E or D, or Tab to a button, to decide.");
      }
      return;
    }

    if (!enabled() || isTyping(target)) return;
    const key = (event.key || "").toLowerCase();
    if (key.length !== 1) return;
    const element = document.querySelector('[data-shortcut="' + key + '"]');
    if (!element || element.closest("[disabled]") || element.disabled) return;
    event.preventDefault();
    activate(element, key);
  });

  // Leaving the selected button (Tab, a click elsewhere) keeps the choice but not the "confirm" cue;
  // focus back on a different action button drops the choice.
  document.addEventListener("focusin", function (event) {
    const target = event.target;
    const form = target && target.closest ? target.closest("form.decision-form") : null;
    if (!form || !form.dataset.choice) return;
    if (target.getAttribute("name") === "action" && target.value !== form.dataset.choice) clearChoice(form);
  });

  document.addEventListener("change", function (event) {
    const target = event.target;
    if (target && target.matches && target.matches("[data-shortcut-toggle]")) setShortcutsOn(target.checked);
  });

  // After an htmx swap, move focus to what changed (the feedback, an error summary, the alert),
  // so keyboard and screen-reader users land on the result rather than on a removed button.
  document.addEventListener("htmx:afterSwap", function (event) {
    sync();
    const root = event.detail && event.detail.target ? event.detail.target : document;
    const scope = root.isConnected ? root : document;
    const focusable = scope.querySelector("[data-autofocus]") || document.querySelector("[data-autofocus]");
    if (focusable) {
      focusable.focus({ preventScroll: false });
      if (typeof focusable.scrollIntoView === "function") focusable.scrollIntoView({ block: "start" });
    }
  });

  // Another tab turned shortcuts on or off.
  window.addEventListener("storage", function (event) {
    if (event.key === STORAGE_KEY) sync();
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", sync);
  else sync();
})();

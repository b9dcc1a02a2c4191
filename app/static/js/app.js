// Small progressive enhancements; every page works without this file.
// Keyboard shortcuts: any element with data-shortcut="k" is activated by key K when the user is
// not typing. On the case page: E = escalate, D = dismiss, 1–4 = dismiss reason, C = confidence
// (then arrow keys), N = next case. A radio, checkbox or range still allows shortcuts; text fields
// do not, so typing a reason never triggers one.
(function () {
  "use strict";

  const NON_TEXT_INPUTS = ["radio", "checkbox", "range", "button", "submit", "reset"];

  function isTyping(target) {
    if (!target || !target.tagName) return false;
    if (target.isContentEditable) return true;
    const tag = target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    if (tag === "INPUT") return NON_TEXT_INPUTS.indexOf((target.type || "text").toLowerCase()) === -1;
    return false;
  }

  function activate(element) {
    const tag = element.tagName;
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
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    if (isTyping(event.target)) return;
    const key = (event.key || "").toLowerCase();
    if (key.length !== 1) return;
    const element = document.querySelector('[data-shortcut="' + key + '"]');
    if (!element || element.closest("[disabled]") || element.disabled) return;
    event.preventDefault();
    activate(element);
  });

  // After an htmx swap, move focus to what changed (the feedback, an error summary, the alert),
  // so keyboard and screen-reader users land on the result rather than on a removed button.
  document.addEventListener("htmx:afterSwap", function (event) {
    const root = event.detail && event.detail.target ? event.detail.target : document;
    const scope = root.isConnected ? root : document;
    const focusable = scope.querySelector("[data-autofocus]") || document.querySelector("[data-autofocus]");
    if (focusable) {
      focusable.focus({ preventScroll: false });
      if (typeof focusable.scrollIntoView === "function") focusable.scrollIntoView({ block: "start" });
    }
  });
})();

// Small progressive enhancements; every page works without this file.
// Keyboard shortcuts on the case page: E = escalate, D = dismiss (when not typing).
document.addEventListener("keydown", function (event) {
  const target = event.target;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) return;
  const key = event.key.toLowerCase();
  const button = document.querySelector('[data-shortcut="' + key + '"]');
  if (button) {
    event.preventDefault();
    button.focus();
    button.click();
  }
});

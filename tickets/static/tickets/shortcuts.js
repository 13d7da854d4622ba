// Keyboard shortcuts of the console; "?" lists them (tickets/partials/_shortcuts.html).
// Elements they act on carry data-shortcut="...". Nothing fires while a person types in a
// field, or with Ctrl, Alt or Meta held (the browser's own shortcuts).
(function () {
  "use strict";
  var help = document.getElementById("shortcuts-help");
  if (!help || !window.bootstrap) return;
  var SEQUENCE_MS = 1500;
  var pending = null, pendingTimer = null;

  function typing(target) {
    if (!target || !target.closest) return false;
    if (target.isContentEditable) return true;
    return Boolean(target.closest("input, textarea, select, [contenteditable]"));
  }

  function target(name) {
    return document.querySelector('[data-shortcut="' + name + '"]');
  }

  function go(url) {
    if (!url) return false;
    window.location.assign(url);
    return true;
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll('[data-shortcut="row"]'));
  }

  function currentRow(all) {
    return all.findIndex(function (row) { return row.classList.contains("table-active"); });
  }

  function moveRow(step) {
    var all = rows();
    if (!all.length) return false;
    var index = currentRow(all);
    index = index < 0 ? (step > 0 ? 0 : all.length - 1)
      : Math.min(all.length - 1, Math.max(0, index + step));
    all.forEach(function (row, i) {
      row.classList.toggle("table-active", i === index);
      if (i === index) row.setAttribute("aria-current", "true"); else row.removeAttribute("aria-current");
    });
    var link = all[index].querySelector("a[href]");
    if (link) link.focus({ preventScroll: true });
    all[index].scrollIntoView({ block: "nearest" });
    return true;
  }

  function openRow() {
    var all = rows();
    var index = currentRow(all);
    var link = index >= 0 ? all[index].querySelector("a[href]") : null;
    return link ? go(link.href) : false;
  }

  function compose(kind) {
    var choice = target(kind), box = target("compose");
    if (!choice || !box) return false;
    choice.checked = true;
    choice.dispatchEvent(new Event("change", { bubbles: true }));
    box.scrollIntoView({ block: "center" });
    box.focus();
    return true;
  }

  function press(name) {
    var element = target(name);
    if (!element) return false;
    element.click();
    return true;
  }

  function focus(name) {
    var element = target(name);
    if (!element) return false;
    element.focus();
    if (element.select) element.select();
    return true;
  }

  var keys = {
    "?": function () { window.bootstrap.Modal.getOrCreateInstance(help).show(); return true; },
    "/": function () { return focus("search"); },
    r: function () { return compose("reply"); },
    n: function () { return compose("note"); },
    a: function () { return press("take"); },
    s: function () { return press("save-classification"); },
    j: function () { return moveRow(1); },
    k: function () { return moveRow(-1); },
    Enter: function () { return openRow(); },
  };
  var afterG = {
    q: function () { return go(help.dataset.queueUrl); },
    n: function () { return go(help.dataset.newUrl); },
  };

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) {
      // Esc leaves the field, so that the shortcuts work again.
      if (event.key === "Escape" && !help.classList.contains("show")) event.target.blur();
      return;
    }
    if (help.classList.contains("show")) return; // the modal handles Esc itself
    var key = event.key;
    if (pending === "g") {
      pending = null;
      window.clearTimeout(pendingTimer);
      if (afterG[key] && afterG[key]()) event.preventDefault();
      return;
    }
    if (key === "g") {
      pending = "g";
      pendingTimer = window.setTimeout(function () { pending = null; }, SEQUENCE_MS);
      event.preventDefault();
      return;
    }
    // Enter on a focused link or button does what it always does.
    if (key === "Enter" && event.target.closest && event.target.closest("a, button")) return;
    if (Object.prototype.hasOwnProperty.call(keys, key) && keys[key]()) event.preventDefault();
  });
})();

// The console's reply / work-note composer: canned replies filled by the server, and an
// autocomplete of colleagues after "@" in work notes. The form works without it.
(function () {
  "use strict";
  var form = document.querySelector("[data-composer]");
  if (!form) return;
  var body = form.querySelector("textarea[name=body]");
  var canned = form.querySelector("[data-canned-select]");
  var cannedError = form.querySelector("[data-canned-error]");
  var list = form.querySelector("[data-mention-list]");
  if (!body) return;

  function insert(text) {
    // At the caret, on a line of its own when the box already has text.
    var start = body.selectionStart, end = body.selectionEnd;
    var before = body.value.slice(0, start), after = body.value.slice(end);
    if (before && !/\n$/.test(before)) text = "\n" + text;
    if (after && !/^\n/.test(after)) text = text + "\n";
    body.value = before + text + after;
    var caret = before.length + text.length;
    body.focus();
    body.setSelectionRange(caret, caret);
    body.dispatchEvent(new Event("input", { bubbles: true }));
  }

  if (canned) {
    canned.addEventListener("change", function () {
      var url = canned.value;
      if (!url) return;
      if (cannedError) cannedError.hidden = true;
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) throw new Error(response.status);
          return response.json();
        })
        .then(function (reply) { insert(reply.text); })
        .catch(function () { if (cannedError) cannedError.hidden = false; })
        .finally(function () { canned.value = ""; });
    });
  }

  // --- @mentions ---------------------------------------------------------------------
  if (!list || !form.dataset.colleaguesUrl) return;
  var MENTION_AT_CARET = /(^|[^\w@.+-])@([\w.+-]{0,30})$/;
  var sequence = 0, timer = null, active = -1, results = [];

  function isNote() {
    var note = form.querySelector("input[name=visibility][value=internal]");
    return !note || note.checked;
  }

  function mentionAtCaret() {
    if (body.selectionStart !== body.selectionEnd) return null;
    var match = MENTION_AT_CARET.exec(body.value.slice(0, body.selectionStart));
    return match ? { prefix: match[2], start: body.selectionStart - match[2].length - 1 } : null;
  }

  function close() {
    list.hidden = true;
    list.replaceChildren();
    results = [];
    active = -1;
    body.removeAttribute("aria-activedescendant");
    body.setAttribute("aria-expanded", "false");
  }

  function highlight(index) {
    active = index;
    Array.prototype.forEach.call(list.children, function (item, i) {
      item.classList.toggle("active", i === index);
      item.setAttribute("aria-selected", i === index ? "true" : "false");
    });
    if (index >= 0) body.setAttribute("aria-activedescendant", list.children[index].id);
  }

  function render(found) {
    results = found;
    list.replaceChildren();
    found.forEach(function (colleague, i) {
      var item = document.createElement("li");
      item.className = "list-group-item list-group-item-action py-1";
      item.id = "mention-option-" + i;
      item.setAttribute("role", "option");
      item.dataset.login = colleague.login;
      var login = document.createElement("strong");
      login.textContent = "@" + colleague.login;
      item.append(login, " " + colleague.name);
      list.append(item);
    });
    list.hidden = found.length === 0;
    body.setAttribute("aria-expanded", found.length ? "true" : "false");
    highlight(found.length ? 0 : -1);
  }

  function suggest() {
    var mention = isNote() ? mentionAtCaret() : null;
    if (!mention) { close(); return; }
    var mine = ++sequence;
    var url = form.dataset.colleaguesUrl + "?q=" + encodeURIComponent(mention.prefix);
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : { results: [] }; })
      .then(function (data) { if (mine === sequence) render(data.results || []); })
      .catch(close);
  }

  function pick(index) {
    var colleague = results[index];
    var mention = mentionAtCaret();
    if (!colleague || !mention) { close(); return; }
    var caret = body.selectionStart;
    var text = "@" + colleague.login + " ";
    body.value = body.value.slice(0, mention.start) + text + body.value.slice(caret);
    var position = mention.start + text.length;
    body.setSelectionRange(position, position);
    close();
    body.focus();
  }

  body.setAttribute("aria-controls", list.id);
  body.setAttribute("aria-autocomplete", "list");
  body.setAttribute("aria-expanded", "false");
  body.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(suggest, 150);
  });
  body.addEventListener("keydown", function (event) {
    if (list.hidden || !results.length) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      var step = event.key === "ArrowDown" ? 1 : -1;
      highlight((active + step + results.length) % results.length);
    } else if (event.key === "Enter" || event.key === "Tab") {
      pick(active < 0 ? 0 : active);
    } else if (event.key === "Escape") {
      close();
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
  });
  body.addEventListener("blur", function () { window.setTimeout(close, 200); });
  list.addEventListener("mousedown", function (event) {
    // Before the box loses its focus (and its caret).
    var item = event.target.closest("[role=option]");
    if (!item) return;
    event.preventDefault();
    pick(Array.prototype.indexOf.call(list.children, item));
  });
  form.addEventListener("change", function (event) {
    if (event.target.name === "visibility" && !isNote()) close();
  });
})();

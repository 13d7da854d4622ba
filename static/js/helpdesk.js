// Small behaviours of the help desk pages; everything works without them.
(function () {
  "use strict";
  // Filter a <select> by the text typed into the search box tied to it (data-filter-select).
  document.addEventListener("input", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("[data-filter-select]")) return;
    var select = document.getElementById(box.dataset.filterSelect);
    if (!select) return;
    var needle = box.value.trim().toLowerCase();
    Array.prototype.forEach.call(select.options, function (option) {
      option.hidden = option.value !== "" && needle !== "" && option.text.toLowerCase().indexOf(needle) === -1;
    });
  });
  // Show the resolution fields only when "solved on first contact" is ticked.
  function syncToggles() {
    document.querySelectorAll("[data-toggle-target]").forEach(function (box) {
      var target = document.getElementById(box.dataset.toggleTarget);
      if (target) target.hidden = !box.checked;
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("[data-toggle-target]")) syncToggles();
  });
  document.addEventListener("DOMContentLoaded", syncToggles);
  // Forms marked data-submit-once send once: a second click while the page is leaving is
  // ignored and the buttons are disabled. The server answers a repeated ticket creation
  // with the same ticket anyway (a one-time token); this spares people the second request.
  function submitButtons(form) {
    return form.querySelectorAll("button[type=submit], button:not([type]), input[type=submit]");
  }
  function release(form) {
    delete form.dataset.submitting;
    form.removeAttribute("aria-busy");
    submitButtons(form).forEach(function (button) { button.disabled = false; });
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("[data-submit-once]")) return;
    if (form.dataset.submitting) {
      event.preventDefault();
      return;
    }
    if (event.defaultPrevented) return;  // another script handles this submission
    form.dataset.submitting = "1";
    form.setAttribute("aria-busy", "true");
    // Disabled after the browser has taken the clicked button's value into the submission.
    window.setTimeout(function () {
      if (!form.dataset.submitting) return;
      submitButtons(form).forEach(function (button) { button.disabled = true; });
    }, 0);
  });
  // The browser refused the input (a required field): the form was not sent.
  document.addEventListener("invalid", function (event) {
    var form = event.target.form;
    if (form && form.matches("[data-submit-once]")) release(form);
  }, true);
  // Back to this page from the next one: it may come from the cache with its buttons off.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submit-once]").forEach(release);
  });
})();

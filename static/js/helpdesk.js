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
})();

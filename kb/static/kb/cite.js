/* The ticket page's knowledge-base card: "Cite in the resolution" opens the Resolve form and
 * adds the article's reference, title and address to its notes (what the caller reads and
 * what later readers of the ticket follow). */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-kb-cite]");
    if (!button) { return; }
    var summary = document.querySelector("details.action > summary[data-action='resolve']");
    if (!summary) { return; }
    var details = summary.parentElement;
    details.open = true;
    var notes = details.querySelector("textarea[name='notes']");
    if (!notes) { return; }
    var line = button.getAttribute("data-kb-cite");
    if (notes.value.indexOf(line) === -1) {
      notes.value = notes.value.replace(/\s*$/, "") + (notes.value.trim() ? "\n" : "") + line;
    }
    notes.focus();
    details.scrollIntoView({ block: "nearest" });
  });
})();

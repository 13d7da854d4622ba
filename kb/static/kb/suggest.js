// Portal, new ticket: "No, file my ticket" hides the suggested articles and stops asking for
// more; what the user typed stays in the form, and the focus goes on to the details.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-kb-dismiss]");
    if (!button) return;
    var box = document.getElementById("kb-suggestions");
    if (!box) return;
    box.dataset.dismissed = "true";
    box.innerHTML = "";
    var next = document.getElementById("id_description");
    if (next) next.focus();
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    var box = document.getElementById("kb-suggestions");
    if (box && event.detail.elt === box && box.dataset.dismissed === "true") event.preventDefault();
  });
})();

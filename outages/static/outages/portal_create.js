// The portal's new-ticket form: when the user picks a service with an active outage, say so
// under the service field and offer "Add me to the outage" (outages:for_service renders it).
(function () {
  "use strict";
  var box = document.getElementById("outage-for-service");
  if (!box) { return; }
  var select = document.getElementById(box.dataset.select);
  if (!select) { return; }
  // Shown under the service field, where the user looks after picking.
  var field = select.closest(".mb-2") || select.parentNode;
  field.appendChild(box);
  var shown = null;
  function update() {
    var value = select.value;
    if (value === shown) { return; }
    shown = value;
    if (!value) { box.innerHTML = ""; return; }
    fetch(box.dataset.url + "?service=" + encodeURIComponent(value), {
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" }
    }).then(function (response) {
      return response.ok ? response.text() : "";
    }).then(function (html) {
      if (shown === value) { box.innerHTML = html; }
    });
  }
  select.addEventListener("change", update);
  update();
})();

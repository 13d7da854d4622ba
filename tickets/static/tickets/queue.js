/* The console's queue page: tickets that arrive while it is open.
 *
 * The app that owns the console's websocket (cti) dispatches a "console:ticket" event on the
 * document for each ticket created in, or moved to, one of the agent's support groups
 * (detail: {event: "created" | "moved", ticket: {number, title, channel, channel_label,
 * group_id, priority, status, open, assignee_id, service_id, url, ...}}). When the queue and
 * filters shown would include that ticket, a notice offers to show it; "Show" refreshes the
 * list through its own htmx request (the one the list's minute poll makes) and marks the new
 * rows. Without the websocket the page keeps working: the poll still brings them in.
 *
 * Tags are not in the pushed ticket: a list filtered by tags is left alone, like a search.
 * The selection for bulk actions is further below.
 */
(function () {
  "use strict";
  var notice = document.getElementById("queue-news");
  var list = document.getElementById("ticket-list");
  var filters = document.getElementById("queue-filters");
  if (!notice || !list || !filters) { return; }
  var text = notice.querySelector(".queue-news__text");
  var show = notice.querySelector(".queue-news__show");
  var userId = Number(notice.dataset.userId);
  var waiting = {};   // number -> ticket, arrived and not yet in the list
  var arrived = {};   // number -> true, to mark the rows once the list shows them

  function value(name) {
    var field = filters.elements.namedItem(name);
    return field ? String(field.value || "") : "";
  }

  // The server's filters of the queue page (tickets/views/console.py console_queue), applied
  // to one ticket. A search text cannot be judged here: such a list is left alone.
  function wouldShow(ticket) {
    var queue = value("queue") || "groups";
    if (value("q").trim() || value("tags").trim()) { return false; }
    if (queue !== "all" && !ticket.open) { return false; }
    if (queue === "mine" && ticket.assignee_id !== userId) { return false; }
    if (queue === "unassigned" && ticket.assignee_id !== null) { return false; }
    var checks = [
      ["state", ticket.status], ["priority", ticket.priority], ["group", ticket.group_id],
      ["service", ticket.service_id], ["channel", ticket.channel]
    ];
    return checks.every(function (check) {
      var wanted = value(check[0]);
      return wanted === "" || wanted === String(check[1] === null ? "" : check[1]);
    });
  }

  function render() {
    var numbers = Object.keys(waiting);
    notice.hidden = numbers.length === 0;
    text.textContent = notice.dataset.text.replace("%(count)s", numbers.length);
    notice.title = numbers.map(function (number) {
      var ticket = waiting[number];
      return number + " · " + ticket.channel_label + " · " + ticket.title;
    }).join("\n");
  }

  document.addEventListener("console:ticket", function (event) {
    var ticket = event.detail && event.detail.ticket;
    if (!ticket || !wouldShow(ticket)) { return; }
    if (list.querySelector('tr[data-number="' + CSS.escape(ticket.number) + '"]')) { return; }
    waiting[ticket.number] = ticket;
    render();
  });

  show.addEventListener("click", function () {
    if (window.htmx) {
      window.htmx.trigger(list, "queue-refresh");
    } else {
      window.location.reload();
    }
  });

  // Any refresh of the list (the notice's, the poll's, a filter's) shows what arrived.
  list.addEventListener("htmx:afterSwap", function (event) {
    if (event.target !== list) { return; }
    Object.keys(waiting).forEach(function (number) { arrived[number] = true; });
    waiting = {};
    render();
    Object.keys(arrived).forEach(function (number) {
      var row = list.querySelector('tr[data-number="' + CSS.escape(number) + '"]');
      if (row) { row.classList.add("queue-row--new", "table-info"); }
    });
  });
})();

/* Bulk selection: a checkbox per row and one for the whole page, an action bar saying how
 * many are selected, and the fields of the chosen action. The checkboxes belong to the bar's
 * form (form="bulk-form") though they sit in the list, which htmx replaces on every refresh:
 * the selection is kept across refreshes for the rows still listed. Texts come from the
 * template (data-selected-text). Without JavaScript the bar stays visible and works for the
 * actions that need no choice among the selected tickets.
 */
(function () {
  "use strict";
  var bar = document.getElementById("bulk-form");
  var list = document.getElementById("ticket-list");
  if (!bar || !list) { return; }
  var count = bar.querySelector(".bulk-bar__count");
  var action = bar.querySelector("#bulk-action");
  var survivor = bar.querySelector("#bulk-survivor");
  var kept = {};  // ticket id -> true, selected before a refresh of the list

  function boxes() { return Array.prototype.slice.call(list.querySelectorAll(".bulk-select")); }
  function idOf(box) { return box.value.split(":")[0]; }

  function syncFields() {
    var chosen = action.value;
    bar.querySelectorAll("[data-bulk-for]").forEach(function (group) {
      var on = group.dataset.bulkFor === chosen;
      group.hidden = !on;
      group.querySelectorAll("input, select").forEach(function (field) { field.disabled = !on; });
    });
  }

  function render() {
    var all = boxes();
    var checked = all.filter(function (box) { return box.checked; });
    kept = {};
    checked.forEach(function (box) { kept[idOf(box)] = true; });
    all.forEach(function (box) {
      var row = box.closest("tr");
      if (row) { row.classList.toggle("is-selected", box.checked); }
    });
    count.textContent = bar.dataset.selectedText.replace("%(count)s", checked.length);
    bar.hidden = checked.length === 0;
    var master = list.querySelector(".bulk-select-all");
    if (master) {
      master.checked = all.length > 0 && checked.length === all.length;
      master.indeterminate = checked.length > 0 && checked.length < all.length;
    }
    var previous = survivor.value;
    survivor.textContent = "";
    checked.forEach(function (box) {
      var option = document.createElement("option");
      option.value = idOf(box);
      option.textContent = box.dataset.label;
      survivor.appendChild(option);
    });
    if (previous && kept[previous]) { survivor.value = previous; }
  }

  list.addEventListener("change", function (event) {
    var target = event.target;
    if (target.classList.contains("bulk-select-all")) {
      boxes().forEach(function (box) { box.checked = target.checked; });
    }
    if (target.classList.contains("bulk-select-all") || target.classList.contains("bulk-select")) {
      render();
    }
  });

  list.addEventListener("htmx:afterSwap", function (event) {
    if (event.target !== list) { return; }
    boxes().forEach(function (box) { box.checked = Boolean(kept[idOf(box)]); });
    render();
  });

  action.addEventListener("change", syncFields);

  bar.querySelector(".bulk-bar__clear").addEventListener("click", function () {
    boxes().forEach(function (box) { box.checked = false; });
    render();
  });

  bar.addEventListener("submit", function (event) {
    if (action.value === "merge" && !window.confirm(bar.dataset.mergeText)) {
      event.preventDefault();
    }
  });

  syncFields();
  render();
})();

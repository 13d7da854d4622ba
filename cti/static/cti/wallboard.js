/* The supervisors' wallboard: a websocket to ws/wallboard/ that receives snapshots.
 *
 * The server sends the whole wallboard ("snapshot": agents, queues, today's figures,
 * alarms) at connect and again, at most once a second, when calls or presence change; the
 * page never polls. Durations ("in this state for 3:12", the longest wait) are counted here
 * from the snapshot's timestamps, corrected by the server's "now" for this computer's clock.
 * A dropped socket reconnects with back-off (0.5 s doubling to 30 s, with jitter) and the
 * page says "reconnecting"; the snapshot after the reconnect replaces everything.
 * A supervisor changes an agent's status with a POST (data-presence-url); the snapshot that
 * follows shows it.
 */
(function () {
  "use strict";
  var root = document.getElementById("wallboard");
  if (!root || !window.WebSocket) { return; }
  var text = root.dataset;
  var link = root.querySelector(".wallboard__link");
  var updated = root.querySelector(".wallboard__updated");
  var alarms = root.querySelector(".wallboard__alarms");
  var queueBody = root.querySelector(".wallboard__queues tbody");
  var agentBody = root.querySelector(".wallboard__agents tbody");
  var notice = root.querySelector(".wallboard__notice");
  var stateOptions = root.querySelector(".wallboard__states").options;
  var csrf = root.querySelector(".wallboard-csrf").value;
  var CLOSE_FORBIDDEN = 4403;
  var BADGE = {
    available: "text-bg-success", busy: "text-bg-danger",
    after_call_work: "text-bg-warning", away: "text-bg-secondary", offline: "text-bg-light"
  };
  var socket = null;
  var attempt = 0;
  var skew = 0;  // server clock minus this computer's, in ms
  var language = document.documentElement.lang || undefined;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : whole;
    });
  }

  function element(tag, className, content) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (content !== undefined && content !== null) { node.textContent = content; }
    return node;
  }

  function setLink(state, label) {
    link.textContent = label;
    link.className = "wallboard__link badge " +
      (state === "live" ? "text-bg-success" : state === "lost" ? "text-bg-warning" : "text-bg-secondary");
    root.dataset.connected = state === "live" ? "true" : "false";
  }

  function duration(since) {
    if (!since) { return ""; }
    var seconds = Math.max(0, Math.floor((Date.now() + skew - Date.parse(since)) / 1000));
    var hours = Math.floor(seconds / 3600);
    var minutes = Math.floor((seconds % 3600) / 60);
    var rest = seconds % 60;
    var pad = function (value) { return (value < 10 ? "0" : "") + value; };
    return hours ? hours + ":" + pad(minutes) + ":" + pad(rest) : minutes + ":" + pad(rest);
  }

  function tick() {
    root.querySelectorAll("[data-since]").forEach(function (node) {
      node.textContent = duration(node.dataset.since);
    });
  }

  function figure(name, value) {
    var node = root.querySelector('[data-figure="' + name + '"]');
    if (node) { node.textContent = value; }
  }

  function percent(value) {
    return value === null || value === undefined ? "–" :
      value.toLocaleString(language, { maximumFractionDigits: 1 }) + "%";
  }

  function renderToday(today) {
    figure("answered", today.answered);
    figure("missed", today.missed);
    figure("abandoned", today.abandoned);
    figure("service_level", percent(today.service_level));
    figure("service_level_detail", fill(text.textOf, { part: today.answered_in_time, whole: today.ended }));
    figure("window_title", fill(text.textWindow, { minutes: today.window_minutes }));
    figure("lost_share", percent(today.lost_share));
    figure("window_detail", fill(text.textOf, { part: today.window_lost, whole: today.window_calls }));
    var lostBox = root.querySelector('[data-figure="lost_share"]').parentNode;
    lostBox.classList.toggle("wallboard__figure--alarm", today.lost_alarm);
  }

  // The alarms are a live region: redrawn (and announced) only when they change, not with
  // every snapshot.
  var shownAlarms = null;

  function renderAlarms(list) {
    var key = JSON.stringify(list.map(function (alarm) { return alarm.text; }));
    if (key === shownAlarms) { return; }
    shownAlarms = key;
    alarms.replaceChildren();
    root.dataset.alarms = String(list.length);
    if (!list.length) {
      alarms.appendChild(element("p", "small text-success mb-0 wallboard__no-alarm", text.textNoAlarms));
    }
    list.forEach(function (alarm) {
      var box = element("div", "alert alert-danger py-2 mb-1 fw-semibold wallboard__alarm", alarm.text);
      box.dataset.kind = alarm.kind;
      alarms.appendChild(box);
    });
  }

  function emptyRow(columns, message) {
    var row = element("tr");
    var cell = element("td", "text-body-secondary", message);
    cell.colSpan = columns;
    row.appendChild(cell);
    return row;
  }

  function renderQueues(queues) {
    queueBody.replaceChildren();
    if (!queues.length) { queueBody.appendChild(emptyRow(5, text.textNoQueues)); }
    queues.forEach(function (queue) {
      var row = element("tr", queue.alarm ? "table-danger" : "");
      row.dataset.queueId = queue.id === null ? "none" : String(queue.id);
      row.appendChild(element("th", "", queue.name)).scope = "row";
      var waiting = row.appendChild(element("td", "text-end fw-semibold", queue.waiting));
      waiting.dataset.field = "waiting";
      var wait = row.appendChild(element("td", "text-end font-monospace"));
      wait.dataset.field = "longest-wait";
      if (queue.longest_wait_since) { wait.dataset.since = queue.longest_wait_since; }
      var talking = row.appendChild(element("td", "text-end", queue.talking));
      talking.dataset.field = "talking";
      var free = row.appendChild(element("td", "text-end",
        fill(text.textOf, { part: queue.available, whole: queue.members })));
      free.dataset.field = "available";
      queueBody.appendChild(row);
    });
  }

  function stateSelect(agent) {
    var form = element("form", "d-flex gap-1 wallboard__set");
    form.dataset.userId = String(agent.user_id);
    form.dataset.version = String(agent.version);
    var select = element("select", "form-select form-select-sm");
    select.name = "state";
    select.setAttribute("aria-label", fill(text.textSetLabel, { name: agent.name }));
    var settable = Array.prototype.some.call(stateOptions, function (option) {
      return option.value === agent.state;
    });
    if (!settable) {
      // Busy (set by calls) or offline: shown, not offered.
      var current = element("option", "", agent.label);
      current.value = agent.state;
      current.disabled = true;
      current.selected = true;
      select.appendChild(current);
    }
    Array.prototype.forEach.call(stateOptions, function (option) {
      var copy = element("option", "", option.textContent);
      copy.value = option.value;
      copy.selected = option.value === agent.state;
      select.appendChild(copy);
    });
    var busy = agent.state === "busy" && agent.call_with;
    select.disabled = !!busy;
    var button = element("button", "btn btn-sm btn-outline-primary", text.textSet);
    button.type = "submit";
    button.disabled = !!busy;
    // The visible "Set" starts the accessible name; whose status it sets is read after it.
    button.appendChild(element("span", "visually-hidden", " " + fill(text.textSetLabel, { name: agent.name })));
    form.appendChild(select);
    form.appendChild(button);
    return form;
  }

  function renderAgents(agents) {
    agentBody.replaceChildren();
    if (!agents.length) { agentBody.appendChild(emptyRow(5, text.textNoAgents)); }
    agents.forEach(function (agent) {
      var row = element("tr");
      row.dataset.userId = String(agent.user_id);
      row.dataset.state = agent.state;
      row.appendChild(element("th", "fw-normal", agent.name)).scope = "row";
      var stateCell = row.appendChild(element("td"));
      stateCell.appendChild(element("span", "badge " + (BADGE[agent.state] || "text-bg-light"), agent.label));
      var since = row.appendChild(element("td", "text-end font-monospace"));
      if (agent.since) { since.dataset.since = agent.since; }
      row.appendChild(element("td", "wallboard__call",
        agent.call_with ? fill(text.textOnCallWith, { party: agent.call_with }) : ""));
      row.appendChild(element("td")).appendChild(stateSelect(agent));
      agentBody.appendChild(row);
    });
  }

  function render(snapshot) {
    skew = Date.parse(snapshot.now) - Date.now();
    renderAlarms(snapshot.alarms);
    renderToday(snapshot.today);
    renderQueues(snapshot.queues);
    renderAgents(snapshot.agents);
    updated.textContent = fill(text.textUpdated, {
      time: new Date(Date.parse(snapshot.now)).toLocaleTimeString(language)
    });
    root.dataset.snapshots = String(Number(root.dataset.snapshots || 0) + 1);
    tick();
  }

  agentBody.addEventListener("submit", function (event) {
    var form = event.target.closest(".wallboard__set");
    if (!form) { return; }
    event.preventDefault();
    var name = form.closest("tr").querySelector("th").textContent;
    var body = new URLSearchParams();
    body.set("state", form.elements.state.value);
    body.set("version", form.dataset.version);
    fetch(text.presenceUrl.replace("/0/", "/" + form.dataset.userId + "/"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString()
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        notice.className = "wallboard__notice small mb-1 " + (response.ok ? "text-success" : "text-danger");
        notice.textContent = response.ok ? fill(text.textSetDone, { name: name }) :
          (data.error || text.textSetFailed);
      });
    }).catch(function () {
      notice.className = "wallboard__notice small mb-1 text-danger";
      notice.textContent = text.textSetFailed;
    });
  });

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + text.wsPath);
    socket.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (error) { return; }
      if (message.type === "snapshot") {
        attempt = 0;
        setLink("live", text.textLive);
        render(message);
      }
    };
    socket.onclose = function (event) {
      if (event.code === CLOSE_FORBIDDEN && event.reason === "signed_out") {
        setLink("off", text.textSignedOut);
        window.location.assign(text.loginUrl + "?next=" + encodeURIComponent(window.location.pathname));
        return;
      }
      if (event.code === CLOSE_FORBIDDEN) {
        setLink("off", text.textForbidden);
        return;
      }
      setLink("lost", text.textReconnecting);
      var delay = Math.min(30000, 500 * Math.pow(2, attempt)) * (0.5 + Math.random() / 2);
      attempt += 1;
      window.setTimeout(connect, delay);
    };
  }

  setLink("off", text.textConnecting);
  connect();
  window.setInterval(tick, 1000);
})();

/* The console's telephone widget: a websocket to ws/console/ that shows caller cards.
 *
 * The server sends: hello (own user id and presence, the colleagues in the agent's queues
 * with theirs), screen_pop / call_update with
 * action "show" (card HTML, replaces any card of the same call) or "close", presence, echo.
 * On every (re)connect the server sends the cards the database says must be shown, so
 * reconnecting with back-off never loses a ringing call.
 * ticket: a ticket arrived in the queue of one of the agent's support groups (created there
 * or moved there); re-dispatched on the document as a "console:ticket" event, which the
 * pages that show queues listen to without knowing this script.
 */
(function () {
  "use strict";
  var root = document.getElementById("cti-console");
  if (!root || !window.WebSocket) { return; }
  var cards = root.querySelector(".cti-console__cards");
  var link = root.querySelector(".cti-console__link");
  var presence = root.querySelector(".cti-console__presence");
  var team = root.querySelector(".cti-console__team");
  var teamList = root.querySelector(".cti-console__team-list");
  var teamCount = root.querySelector(".cti-console__team-count");
  var notice = root.querySelector(".cti-console__notice");
  var members = {};  // colleague's user id -> {name, state, label}
  var STATE_BADGE = {
    available: "text-bg-success", busy: "text-bg-danger",
    after_call_work: "text-bg-warning", away: "text-bg-secondary"
  };
  var csrf = (root.querySelector(".cti-csrf") || {}).value || "";
  var text = root.dataset;
  var socket = null;
  var userId = null;
  var attempt = 0;
  var stopped = false;
  var CLOSE_FORBIDDEN = 4403;

  function setLink(ok, label) {
    link.textContent = label;
    link.className = "cti-console__link badge " + (ok ? "text-bg-success" : "text-bg-secondary");
    root.dataset.connected = ok ? "true" : "false";
  }

  // The messages of one call can overtake each other (each event is pushed by the server
  // process that handled it): a card never steps back, e.g. to ringing once it was answered
  // or closed. Highest state seen per call id; a close counts as ended.
  var STATE_RANK = { ringing: 0, answered: 1, ended: 2 };
  var seenRank = {};

  function isStale(message) {
    var rank = message.action === "close" ? 2 : (STATE_RANK[message.call.state] || 0);
    var seen = seenRank[message.call.id];
    if (seen !== undefined && rank < seen) { return true; }
    seenRank[message.call.id] = rank;
    return false;
  }

  function cardFor(callId) {
    return cards.querySelector('.cti-card[data-call-id="' + callId + '"]');
  }

  function showCard(message) {
    var holder = document.createElement("div");
    holder.innerHTML = message.html;
    var card = holder.querySelector(".cti-card");
    if (!card) { return; }
    card.querySelectorAll('input[name="csrfmiddlewaretoken"]').forEach(function (input) {
      input.value = csrf;
    });
    card.querySelectorAll("form").forEach(function (form) {
      var next = document.createElement("input");
      next.type = "hidden"; next.name = "next";
      next.value = window.location.pathname + window.location.search;
      form.appendChild(next);
    });
    var old = cardFor(message.call.id);
    if (old) {
      // Keep what the agent was typing into the card while the call changes state.
      old.querySelectorAll("input[type=text], input[type=email]").forEach(function (input) {
        var twin = card.querySelector('form[action="' + input.form.getAttribute("action") +
          '"] input[name="' + input.name + '"]');
        if (twin && input.value) { twin.value = input.value; }
      });
      old.replaceWith(card);
    } else {
      cards.prepend(card);
    }
    card.classList.add("cti-card--new");
    root.classList.add("cti-console--has-cards");
  }

  function closeCard(message) {
    var card = cardFor(message.call.id);
    if (!card) { return; }
    var status = card.querySelector(".cti-card__status");
    var answeredElsewhere = message.call.answered_by && message.call.answered_by !== userId;
    if (status) {
      status.textContent = answeredElsewhere ? text.textAnsweredElsewhere
        : (message.call.outcome_label ? text.textClosed + ": " + message.call.outcome_label : text.textClosed);
      status.className = "cti-card__status badge text-bg-secondary";
    }
    card.classList.add("cti-card--closing");
    card.dataset.callState = "closed";
    window.setTimeout(function () { removeCard(card); }, 4000);
  }

  function removeCard(card) {
    card.remove();
    if (!cards.querySelector(".cti-card")) { root.classList.remove("cti-console--has-cards"); }
  }

  // The version of the agent's presence this console shows; sent back with a choice so
  // that the server refuses a choice made from an older view (the PBX made the agent busy
  // meanwhile). While busy (on a call) the status cannot be chosen: the hang-up ends it.
  var presenceVersion = null;

  function setPresence(state) {
    if (!state) { return; }
    if (typeof state.version === "number") {
      if (presenceVersion !== null && state.version < presenceVersion) { return; }
      presenceVersion = state.version;
    }
    presence.value = state.state;
    presence.dataset.state = state.state;
    presence.disabled = state.state === "busy" || root.dataset.connected !== "true";
  }

  function showNotice(message) {
    notice.textContent = message;
    notice.hidden = false;
    window.clearTimeout(notice.timer);
    notice.timer = window.setTimeout(function () { notice.hidden = true; }, 8000);
  }

  // The team list: the colleagues in the agent's queues with their presence, from the
  // hello message, then kept up to date by their presence messages.
  function renderTeam() {
    var ids = Object.keys(members).sort(function (a, b) {
      return members[a].name.localeCompare(members[b].name);
    });
    var available = 0;
    teamList.textContent = "";
    ids.forEach(function (id) {
      var member = members[id];
      if (member.state === "available") { available += 1; }
      var item = document.createElement("li");
      item.dataset.userId = id;
      item.dataset.state = member.state;
      var badge = document.createElement("span");
      badge.className = "badge me-1 " + (STATE_BADGE[member.state] || "text-bg-secondary");
      badge.textContent = member.label;
      item.appendChild(badge);
      item.appendChild(document.createTextNode(member.name));
      teamList.appendChild(item);
    });
    teamCount.textContent = available + "/" + ids.length;
    teamCount.title = text.textAvailable + ": " + available;
    team.hidden = ids.length === 0;
  }

  function updateMember(message) {
    var known = members[message.user_id];
    if (!known && !message.name) { return; }
    members[message.user_id] = {
      name: message.name || known.name, state: message.state, label: message.label
    };
    renderTeam();
  }

  function handle(message) {
    switch (message.type) {
      case "hello":
        userId = message.user_id;
        presenceVersion = null;
        setPresence(message.presence || { state: "away", version: 0 });
        members = {};
        (message.team || []).forEach(function (member) { members[member.user_id] = member; });
        renderTeam();
        // After a reconnect: cards of calls that ended while we were away are stale.
        cards.querySelectorAll(".cti-card").forEach(function (card) {
          var live = card.dataset.callState === "ringing" || card.dataset.callState === "answered";
          if (live && (message.calls || []).indexOf(Number(card.dataset.callId)) === -1) {
            removeCard(card);
          }
        });
        break;
      case "screen_pop":
      case "call_update":
        if (isStale(message)) { break; }
        if (message.action === "show") { showCard(message); } else { closeCard(message); }
        break;
      case "ticket":
        document.dispatchEvent(new CustomEvent("console:ticket", {
          detail: { event: message.event, ticket: message.ticket, userId: userId }
        }));
        break;
      case "presence":
        if (message.user_id === userId) { setPresence(message); } else { updateMember(message); }
        document.dispatchEvent(new CustomEvent("cti:presence", { detail: message }));
        break;
      case "error":
        if (message.code === "presence_conflict") { showNotice(message.error); }
        break;
      default:
        break;
    }
    document.dispatchEvent(new CustomEvent("cti:message", { detail: message }));
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + text.wsPath);
    socket.onopen = function () {
      attempt = 0;
      setLink(true, text.textConnected);
    };
    socket.onmessage = function (event) {
      try { handle(JSON.parse(event.data)); } catch (error) { console.error(error); }
    };
    socket.onclose = function (event) {
      presence.disabled = true;
      if (event.code === CLOSE_FORBIDDEN && event.reason === "signed_out") {
        // Signed out (in another tab, or the session expired): to the sign-in page, and
        // back here afterwards.
        stopped = true;
        setLink(false, text.textSignedOut);
        window.location.assign(text.loginUrl + "?next=" +
          encodeURIComponent(window.location.pathname + window.location.search));
        return;
      }
      if (event.code === CLOSE_FORBIDDEN || stopped) {
        setLink(false, text.textForbidden);
        return;
      }
      setLink(false, text.textDisconnected);
      // Exponential back-off with jitter, capped at 30 s, so a restart of the servers
      // is not met by every console at the same instant.
      var delay = Math.min(30000, 500 * Math.pow(2, attempt)) * (0.5 + Math.random() / 2);
      attempt += 1;
      window.setTimeout(connect, delay);
    };
  }

  presence.addEventListener("change", function () {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({
        type: "presence", state: presence.value, version: presenceVersion
      }));
    }
  });

  cards.addEventListener("click", function (event) {
    if (event.target.classList.contains("cti-card__dismiss")) {
      var card = event.target.closest(".cti-card");
      if (card) { removeCard(card); }
    }
  });

  window.addEventListener("beforeunload", function () { stopped = true; });
  window.ctiConsole = { handle: handle };
  connect();
})();

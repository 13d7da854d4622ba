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
 *
 * Cards are shown for live calls only (ringing, answered). When a call ends its card goes
 * and the "Recent calls" list is reloaded from the server (GET data-recent-url: the agent's
 * last ended calls, rendered in the agent's language), so the list is the same on every
 * page and after a reload, and a missed call stays in it, marked, until handled. A card
 * the agent was typing into is kept (ended) until they dismiss it.
 * After-call work shows a running timer; the server ends it (cti.services.presence) and
 * the presence message that follows stops the timer.
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
  var afterCallWork = root.querySelector(".cti-console__after-call-work");
  var recentList = root.querySelector(".cti-console__recent-list");
  var toggle = root.querySelector(".cti-console__toggle");
  var toggleCount = root.querySelector(".cti-console__toggle-count");
  var narrow = window.matchMedia("(max-width: 991.98px)");
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

  // Other apps add to the card's open tickets without cti knowing them: an element of the
  // widget with data-cti-card-tool (from the helpdesk.ui slot phone_tools) names a URL that
  // returns a fragment for ?tickets=<numbers> (the knowledge base: the scripts offered for
  // them). Loaded once the call is answered, not on the ring that many agents see.
  var cardTools = Array.prototype.map.call(
    root.querySelectorAll("[data-cti-card-tool]"),
    function (element) { return element.dataset.ctiCardTool; }
  );

  function ticketToolsLoad(card) {
    if (card.dataset.callState === "ringing") { return; }
    card.querySelectorAll(".cti-card__ticket-tools[data-tickets]").forEach(function (holder) {
      cardTools.forEach(function (url) {
        var query = (url.indexOf("?") === -1 ? "?" : "&") + "tickets=" + encodeURIComponent(holder.dataset.tickets);
        window.fetch(url + query, { credentials: "same-origin" }).then(function (response) {
          if (!response.ok) { throw new Error("card tool " + response.status); }
          return response.text();
        }).then(function (html) {
          var part = document.createElement("div");
          part.innerHTML = html;
          holder.appendChild(part);
        }).catch(function (error) { console.error(error); });
      });
    });
  }

  function cardFromHtml(html) {
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var card = holder.querySelector(".cti-card");
    if (!card) { return null; }
    ticketToolsLoad(card);
    card.querySelectorAll('input[name="csrfmiddlewaretoken"]').forEach(function (input) {
      input.value = csrf;
    });
    card.querySelectorAll("form").forEach(function (form) {
      var next = document.createElement("input");
      next.type = "hidden"; next.name = "next";
      next.value = window.location.pathname + window.location.search;
      form.appendChild(next);
    });
    return card;
  }

  // Whether the agent has started something on the card (a ticket title, a name): such a
  // card stays when its call ends, so that nothing typed is lost.
  function hasInput(card) {
    if (card.contains(document.activeElement) && document.activeElement.matches("input, select, textarea")) {
      return true;
    }
    return Array.prototype.some.call(
      card.querySelectorAll("input[type=text], input[type=email], input[type=search], textarea"),
      function (input) { return input.value.trim() !== ""; }
    );
  }

  function showCard(message) {
    var old = cardFor(message.call.id);
    if (message.call.state === "ended") {
      // The call is over: its card leaves the live cards for the recent calls, unless the
      // agent was typing into it.
      if (old && hasInput(old)) {
        old.dataset.callState = "ended";
        old.classList.remove("cti-card--ringing", "cti-card--answered");
        old.classList.add("cti-card--ended");
        var status = old.querySelector(".cti-card__status");
        var fresh = cardFromHtml(message.html);
        var freshStatus = fresh && fresh.querySelector(".cti-card__status");
        if (status && freshStatus) { status.replaceWith(freshStatus); }
      } else if (old) {
        removeCard(old);
      }
      recentRefresh(message.call.id);
      return;
    }
    var card = cardFromHtml(message.html);
    if (!card) { return; }
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
      if (message.call.state === "ringing") { expand(); }
    }
    card.classList.add("cti-card--new");
    root.classList.add("cti-console--has-cards");
    countLive();
  }

  // The call ended, or a colleague answered it: the card goes (one kept for what the agent
  // typed says why), and the recent calls are reloaded.
  function closeCard(message) {
    var card = cardFor(message.call.id);
    if (card && hasInput(card)) {
      var status = card.querySelector(".cti-card__status");
      var answeredElsewhere = message.call.answered_by && message.call.answered_by !== userId;
      if (status) {
        status.textContent = answeredElsewhere ? text.textAnsweredElsewhere : text.textClosed;
        status.className = "cti-card__status badge text-bg-secondary";
      }
      card.dataset.callState = "closed";
    } else if (card) {
      removeCard(card);
    }
    recentRefresh(message.call.id);
  }

  function removeCard(card) {
    card.remove();
    if (!cards.querySelector(".cti-card")) { root.classList.remove("cti-console--has-cards"); }
    countLive();
  }

  function countLive() {
    var live = cards.querySelectorAll(
      '.cti-card[data-call-state="ringing"], .cti-card[data-call-state="answered"]').length;
    toggleCount.textContent = String(live);
    toggleCount.hidden = live === 0;
  }

  // Narrow screens: the widget is a bar at the bottom whose calls can be hidden.
  function setCollapsed(collapsed) {
    root.classList.toggle("cti-console--collapsed", collapsed);
    toggle.setAttribute("aria-expanded", collapsed ? "false" : "true");
  }

  function expand() { setCollapsed(false); }

  // The recent calls, from the server (the agent's last ended calls). ``endedId``: the
  // call that has just ended, highlighted when it arrives.
  var recentTimer = null;
  var recentPending = [];
  function recentRefresh(endedId) {
    if (endedId) { recentPending.push(String(endedId)); }
    window.clearTimeout(recentTimer);
    recentTimer = window.setTimeout(recentLoad, 150);
  }

  function recentLoad() {
    var highlight = recentPending;
    recentPending = [];
    window.fetch(text.recentUrl, {
      credentials: "same-origin", headers: { "X-Requested-With": "XMLHttpRequest" }
    }).then(function (response) {
      if (!response.ok) { throw new Error("recent calls: HTTP " + response.status); }
      return response.text();
    }).then(function (html) {
      // Cards opened under recent calls move into the new list as they are (the same
      // elements): what the agent is typing into one stays, focus included.
      var open = {};
      recentList.querySelectorAll('.cti-recent__card[aria-expanded="true"]').forEach(function (button) {
        var item = button.closest(".cti-recent__item");
        var holder = item.querySelector(".cti-recent__card-holder");
        open[item.dataset.callId] = Array.prototype.slice.call(holder.childNodes);
      });
      var focused = document.activeElement;
      recentList.innerHTML = html;
      recentList.querySelectorAll(".cti-recent__item").forEach(function (item) {
        if (highlight.indexOf(item.dataset.callId) !== -1) { item.classList.add("cti-recent__item--new"); }
        if (open[item.dataset.callId]) {
          var holder = item.querySelector(".cti-recent__card-holder");
          open[item.dataset.callId].forEach(function (node) { holder.appendChild(node); });
          item.querySelector(".cti-recent__card").setAttribute("aria-expanded", "true");
        }
      });
      if (focused && focused !== document.activeElement && document.contains(focused)) { focused.focus(); }
      root.dataset.recentLoaded = "true";
    }).catch(function (error) { console.error(error); });
  }

  // "Card" on a recent call: its full card (to file a ticket linked to the call, attach
  // the number ...) opens under it, and closes again.
  function recentCardToggle(button) {
    var callId = button.closest(".cti-recent__item").dataset.callId;
    var holder = button.closest(".cti-recent__item").querySelector(".cti-recent__card-holder");
    if (button.getAttribute("aria-expanded") === "true") {
      holder.textContent = "";
      button.setAttribute("aria-expanded", "false");
      return;
    }
    window.fetch(button.dataset.cardUrl, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) { throw new Error("card: HTTP " + response.status); }
      return response.text();
    }).then(function (html) {
      var card = cardFromHtml(html);
      if (!card) { return; }
      var dismiss = card.querySelector(".cti-card__dismiss");
      if (dismiss) { dismiss.remove(); }
      // The list may have been loaded again while the card was on its way (a call ended,
      // after-call work ended): the card goes under the call's item as the list is now.
      var item = recentList.querySelector('.cti-recent__item[data-call-id="' + callId + '"]');
      if (!item) { return; }
      var current = item.querySelector(".cti-recent__card-holder");
      current.textContent = "";
      current.appendChild(card);
      item.querySelector(".cti-recent__card").setAttribute("aria-expanded", "true");
    }).catch(function (error) { console.error(error); });
  }

  // After-call work: a running timer from the moment it started ("After-call work 0:42"),
  // and when it ends by itself. The end itself is the server's (a presence message).
  var afterCallWorkTimer = null;
  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var minutes = Math.floor(seconds / 60);
    var rest = seconds % 60;
    return minutes + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function afterCallWorkShow(state) {
    window.clearInterval(afterCallWorkTimer);
    afterCallWorkTimer = null;
    if (state.state !== "after_call_work" || !state.changed_at) {
      afterCallWork.hidden = true;
      afterCallWork.textContent = "";
      return;
    }
    var since = Date.parse(state.changed_at);
    var endsAt = state.ends_at ? new Date(state.ends_at) : null;
    afterCallWork.title = endsAt ? text.textAfterCallWorkEnds.replace(
      "{time}", endsAt.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })) : "";
    function tick() {
      afterCallWork.textContent = text.textAfterCallWork.replace(
        "{elapsed}", clock((Date.now() - since) / 1000));
    }
    tick();
    afterCallWork.hidden = false;
    afterCallWorkTimer = window.setInterval(tick, 1000);
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
    afterCallWorkShow(state);
  }

  // Presence labels in the language of the page (the server's message may be in another).
  function presenceLabel(state, fallback) {
    return root.getAttribute("data-presence-" + state) || fallback || state;
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
      badge.textContent = presenceLabel(member.state, member.label);
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

  // "X mentioned you in INC-…": a toast at the bottom left, clear of navigation and cards.
  function showMention(message) {
    var stack = document.getElementById("console-toasts");
    if (!stack) {
      stack = document.createElement("div");
      stack.id = "console-toasts";
      stack.className = "toast-container position-fixed bottom-0 start-0 p-3";
      document.body.append(stack);
    }
    var toast = document.createElement("div");
    toast.className = "toast show";
    toast.setAttribute("role", "status");
    toast.dataset.testid = message.kind === "sla" ? "sla-toast" : "mention-toast";
    if (message.level) { toast.classList.add("border-" + message.level); }
    var body = document.createElement("div");
    body.className = "toast-body d-flex gap-2 align-items-start";
    var textBox = document.createElement("div");
    textBox.className = "me-auto";
    var link = document.createElement("a");
    link.href = message.url;
    link.textContent = message.link;
    // The ticket number on one line ("INC-" and "000123" apart read badly).
    var parts = message.text.split(message.number);
    var number = document.createElement("span");
    number.className = "text-nowrap";
    number.textContent = message.number;
    textBox.append(parts[0]);
    if (parts.length > 1) { textBox.append(number, parts.slice(1).join(message.number)); }
    textBox.append(document.createElement("br"), message.title + " · ", link);
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close";
    close.setAttribute("aria-label", message.close);
    close.addEventListener("click", function () { toast.remove(); });
    body.append(textBox, close);
    toast.append(body);
    stack.append(toast);
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
        recentRefresh();
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
      case "mention":
      case "notice":
        showMention(message);
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
      if (card) {
        var live = card.dataset.callState === "ringing" || card.dataset.callState === "answered";
        removeCard(card);
        if (!live) { recentRefresh(); }
      }
    }
  });

  recentList.addEventListener("click", function (event) {
    var button = event.target.closest(".cti-recent__card");
    if (button) { recentCardToggle(button); }
  });

  toggle.addEventListener("click", function () {
    setCollapsed(!root.classList.contains("cti-console--collapsed"));
  });
  // On a narrow screen the calls start hidden (a ringing call opens them).
  setCollapsed(narrow.matches);

  // The column starts under the navbar: its height is the window's less the navbar's
  // (which wraps on some widths and languages).
  var navbar = document.querySelector("body > nav");
  function navbarMeasure() {
    if (navbar) {
      document.documentElement.style.setProperty("--cti-nav-height", navbar.offsetHeight + "px");
    }
  }
  navbarMeasure();
  if (navbar && window.ResizeObserver) { new window.ResizeObserver(navbarMeasure).observe(navbar); }

  window.addEventListener("beforeunload", function () { stopped = true; });
  window.ctiConsole = { handle: handle };
  recentRefresh();
  connect();
})();

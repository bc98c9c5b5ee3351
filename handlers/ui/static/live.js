// Live updates for the incident list and an incident's page, without a reload.
//
// The page subscribes to /ui/events (server-sent events: one per timeline entry, from any
// replica). On each event (and on every (re)connection, which may have missed some) it
// fetches its own URL again and swaps in the sections that changed: the elements carrying
// data-part, matched by id. The server renders and escapes them; this script never builds
// markup from event data. Without JavaScript the page still works: it just does not move.
(function () {
  "use strict";
  var main = document.getElementById("main");
  if (!main || !window.EventSource || !window.fetch || !window.DOMParser) {
    return;
  }
  var page = main.getAttribute("data-page");
  if (page !== "incidents" && page !== "incident") {
    return;
  }
  var incident = main.getAttribute("data-incident-id");
  var source = "/ui/events" + (incident ? "?incident=" + encodeURIComponent(incident) : "");
  var status = document.getElementById("live-status");
  var pending = null;
  var inFlight = false;
  var again = false;

  function say(text, state) {
    if (status) {
      status.textContent = text;
      status.setAttribute("data-state", state);
    }
  }

  function swap(fresh) {
    var parts = main.querySelectorAll("[data-part]");
    for (var i = 0; i < parts.length; i++) {
      var old = parts[i];
      var next = old.id ? fresh.getElementById(old.id) : null;
      if (next && next.outerHTML !== old.outerHTML) {
        // Keep the reader's place: only the changed sections are replaced.
        old.replaceWith(document.importNode(next, true));
      }
    }
    var freshMain = fresh.getElementById("main");
    if (freshMain) {
      var seq = freshMain.getAttribute("data-last-seq");
      if (seq !== null) {
        main.setAttribute("data-last-seq", seq);
      }
      if (freshMain.getAttribute("data-open") === "true") {
        main.setAttribute("data-open", "true");
      } else {
        main.removeAttribute("data-open");
      }
    }
    document.title = fresh.title || document.title;
  }

  function refresh() {
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.redirected || response.status === 303 || response.status === 401) {
          signedOut = true;
          say("Signed out: reload to sign in again", "off");
          return null;
        }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html) {
          swap(new DOMParser().parseFromString(html, "text/html"));
          main.setAttribute("data-refreshed", String(Date.now()));
        }
      })
      .catch(function () {
        say("Reconnecting…", "retrying");
      })
      .then(function () {
        inFlight = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  function soon() {
    // A burst of entries (a storm, a batch) costs one fetch, not one per entry.
    if (pending === null) {
      pending = window.setTimeout(function () {
        pending = null;
        refresh();
      }, 250);
    }
  }

  // EventSource reconnects by itself after a dropped stream, but gives up for good on any
  // answer that is not a stream (a 503 while the database is away or the replica is full,
  // a redirect to sign-in): then this script connects again, later each time.
  var backoff = 1000;
  var signedOut = false;

  function connect() {
    var events = new EventSource(source);
    events.addEventListener("open", function () {
      backoff = 1000;
      say("Live", "live");
      soon(); // whatever happened while (re)connecting
    });
    events.addEventListener("message", soon);
    events.addEventListener("error", function () {
      if (events.readyState !== EventSource.CLOSED) {
        say("Reconnecting…", "retrying");
        return;
      }
      events.close();
      refresh(); // finds out whether the session ended
      if (signedOut) {
        return;
      }
      say("Reconnecting…", "retrying");
      var wait = backoff * (0.5 + Math.random());
      backoff = Math.min(backoff * 2, 60000);
      window.setTimeout(function () {
        if (!signedOut) {
          connect();
        }
      }, wait);
    });
  }

  connect();

  // An open incident's graph goes on moving with nothing on the timeline: look again every
  // minute (the bot draws it at most once a minute; only a changed section is swapped).
  window.setInterval(function () {
    if (!signedOut && main.getAttribute("data-open") === "true") {
      refresh();
    }
  }, 60000);
})();

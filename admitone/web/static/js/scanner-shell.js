// The gate scanner's offline shell (docs/offline-scanner.md): registers the service worker
// that keeps the page usable after a reload with no network, asks for persistent storage,
// and says at all times whether the device is online or offline.
//
// Online or offline is decided by the browser's online/offline events and by what the
// page's own requests meet: a request that fails for want of a network says "offline"
// (navigator.onLine stays true on a network that is up but goes nowhere), any answer
// from the server says "online". While offline with navigator.onLine true, a light probe
// (GET /healthz) notices the way back: after 1, 2 and 5 seconds, then every 10 (a request
// that began before the network came back may fail just after the "online" event).
//
// It is the seam for the rest of the offline scanner (the ticket bundle, the queue of
// offline scans, their upload: issue 16), which scanner.js and later modules reach
// through window.AdmitOneScanner:
//   isOnline()                   the current state;
//   onNetworkChange(fn)          fn(online) at each change;
//   sawNetwork(ok)               a request reached the server (true) or failed (false);
//   decideOffline                null here; a module that can decide on a ticket alone
//                                sets it to fn(code) -> Promise of a result, and the
//                                scanner calls it when the network fails.
"use strict";

(function () {
  var element = document.getElementById("network-status");
  if (!element) { return; }
  var label = document.getElementById("network-status-text");
  var detail = document.getElementById("network-status-detail");
  var PROBE_SECONDS = [1, 2, 5, 10];
  var online = null;
  var listeners = [];
  var probeTimer = null;
  var probes = 0;

  function text(name) { return element.getAttribute("data-text-" + name) || ""; }

  function set(state) {
    if (state === online) { return; }
    online = state;
    probes = 0;
    element.setAttribute("data-state", state ? "online" : "offline");
    label.textContent = text(state ? "online" : "offline");
    detail.hidden = state;
    listeners.forEach(function (listener) {
      try { listener(state); } catch (e) { /* one listener's fault is not the others' */ }
    });
    schedule();
  }

  function probe() {
    return fetch(element.getAttribute("data-probe-url"), { cache: "no-store", credentials: "omit" })
      .then(function () { set(true); }, function () {
        if (online) { set(false); } else { schedule(); }
      });
  }

  function schedule() {
    window.clearTimeout(probeTimer);
    // With navigator.onLine false the browser's "online" event says when to look again.
    if (online === false && navigator.onLine) {
      var seconds = PROBE_SECONDS[Math.min(probes, PROBE_SECONDS.length - 1)];
      probes += 1;
      probeTimer = window.setTimeout(probe, seconds * 1000);
    }
  }

  window.addEventListener("offline", function () { set(false); });
  window.addEventListener("online", function () { set(true); probe(); });

  window.AdmitOneScanner = {
    isOnline: function () { return online !== false; },
    onNetworkChange: function (listener) { listeners.push(listener); },
    sawNetwork: function (ok) { set(Boolean(ok)); },
    decideOffline: null
  };
  set(navigator.onLine !== false);

  // Plain http to another machine (a site relay without TLS) is no secure context: the
  // browser gives the page no camera, no service worker and no WebCrypto, so it can only
  // send typed codes online. Said on screen rather than left to fail one by one.
  var insecure = document.getElementById("insecure-context");
  if (insecure && window.isSecureContext === false) { insecure.hidden = false; }

  // Kept storage is not evicted under pressure (the offline bundle and queue will need it).
  if (navigator.storage && navigator.storage.persist) {
    navigator.storage.persist().then(function (granted) {
      element.setAttribute("data-storage-persisted", granted ? "true" : "false");
    }).catch(function () { /* best effort */ });
  }

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(element.getAttribute("data-sw-url"), {
      scope: element.getAttribute("data-sw-scope")
    }).catch(function () {
      element.setAttribute("data-offline-ready", "false");
    });
    navigator.serviceWorker.ready.then(function () {
      element.setAttribute("data-offline-ready", "true");
    });
  }
})();

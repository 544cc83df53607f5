// "My wallet" with no network (issue 17, point 9; admitone/web/pages/wallet.py): the
// pages register the offline apps' worker (/wallet-sw.js, scope /wallets), which keeps
// the last copy of each wallet page, its pass QR drawn in it. Offline, the page says it
// is a copy, and whether its pass is still young enough for the stands' offline checks
// (the pass's not_after: stands without a network refuse it after that).
"use strict";

(function () {
  var app = document.getElementById("wallet-app");
  if (!app) { return; }

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(app.getAttribute("data-sw-url"), {
      scope: app.getAttribute("data-sw-scope")
    }).catch(function () {
      app.setAttribute("data-offline-ready", "false");
    });
    navigator.serviceWorker.ready.then(function () {
      app.setAttribute("data-offline-ready", "true");
    });
  }

  var offlineNote = document.getElementById("wallet-offline");
  var tooOld = document.getElementById("pass-too-old");
  var pass = document.querySelector("[data-pass-not-after]");

  function show() {
    var offline = navigator.onLine === false;
    if (offlineNote) { offlineNote.hidden = !offline; }
    if (tooOld && pass) {
      var notAfter = Date.parse(pass.getAttribute("data-pass-not-after"));
      tooOld.hidden = !(offline && !isNaN(notAfter) && notAfter <= Date.now());
    }
  }
  window.addEventListener("online", show);
  window.addEventListener("offline", show);
  show();
})();

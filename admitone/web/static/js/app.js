// Admit One pages: small progressive enhancements. Every page works without them.
"use strict";

(function () {
  // Submit a form as soon as its <select data-autosubmit> changes (language switcher).
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target && target.matches && target.matches("select[data-autosubmit]") && target.form) {
      target.form.submit();
    }
  });

  // Ask first where a click cannot be taken back: <button data-confirm="Remove ...?">
  // (or the form's own data-confirm). Without script the action happens as before.
  document.addEventListener("submit", function (event) {
    var source = event.submitter && event.submitter.hasAttribute("data-confirm")
      ? event.submitter : event.target;
    var question = source && source.getAttribute && source.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });

  // Countdown of a hold: <span data-countdown="ISO instant" data-expired-text="...">.
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function startCountdown(element) {
    var end = Date.parse(element.getAttribute("data-countdown"));
    if (isNaN(end)) { return; }
    function tick() {
      var left = Math.max(0, Math.round((end - Date.now()) / 1000));
      element.textContent = Math.floor(left / 60) + ":" + pad(left % 60);
      if (left <= 0) {
        var expired = element.getAttribute("data-expired-text");
        if (expired) { element.textContent = expired; }
        var form = document.querySelector("[data-disable-on-expiry]");
        if (form) {
          form.querySelectorAll("button, input[type=submit]").forEach(function (b) { b.disabled = true; });
        }
        return;
      }
      window.setTimeout(tick, 1000);
    }
    tick();
  }
  document.querySelectorAll("[data-countdown]").forEach(startCountdown);

  // Signed out (<body data-signed-out>): the copies of wallet pages kept for offline use
  // (js/wallet.js) are deleted, so a shared phone keeps no one's pass.
  if (document.body.hasAttribute("data-signed-out") && window.caches) {
    window.caches.keys().then(function (names) {
      names.forEach(function (name) {
        if (name.indexOf("admitone-wallet-") === 0) { window.caches.delete(name); }
      });
    }).catch(function () { /* no storage: nothing kept */ });
  }
})();

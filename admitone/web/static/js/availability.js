// Live availability on the event page: re-read the public API every 20 s and update
// the "N tickets left" lines (the server still decides at checkout).
"use strict";

(function () {
  var form = document.querySelector("form[data-availability]");
  if (!form || !window.fetch) { return; }
  var url = form.getAttribute("data-availability");
  // The sentences come translated from the page (gettext), with a %(count)s slot.
  var leftText = form.getAttribute("data-text-left") || "%(count)s";
  var soldOutText = form.getAttribute("data-text-sold-out") || "";

  function refresh() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (!body || !body.data) { return; }
        body.data.ticket_types.forEach(function (t) {
          var row = form.querySelector('[data-ticket-type="' + t.id + '"]');
          if (!row) { return; }
          var line = row.querySelector('[data-role="availability"]');
          if (!line || !t.on_sale && !t.sold_out) { return; }
          line.textContent = t.sold_out ? soldOutText : leftText.replace("%(count)s", String(t.available));
          var select = row.querySelector("select");
          if (select) {
            Array.prototype.forEach.call(select.options, function (option) {
              option.disabled = Number(option.value) > t.available;
            });
          }
        });
      })
      .catch(function () { /* offline: keep what we show */ });
  }
  window.setInterval(refresh, 20000);
})();

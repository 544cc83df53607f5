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
  var mayComeBackText = form.getAttribute("data-text-may-come-back") || soldOutText;

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
          line.textContent = t.may_come_back ? mayComeBackText
            : t.sold_out ? soldOutText : leftText.replace("%(count)s", String(t.available));
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

// The running total under the quantities: what the chosen tickets cost together.
(function () {
  var form = document.querySelector("form[data-availability]");
  var total = form && form.querySelector('[data-role="total"]');
  if (!total || !window.Intl) { return; }
  var amount = total.querySelector('[data-role="total-amount"]');
  var digits = Number(total.getAttribute("data-minor-digits") || "2");
  var money = new Intl.NumberFormat(total.getAttribute("data-locale") || undefined, {
    style: "currency", currency: total.getAttribute("data-currency") || "EUR"
  });

  function update() {
    var minor = 0;
    Array.prototype.forEach.call(form.querySelectorAll("[data-price-minor]"), function (row) {
      var select = row.querySelector("select");
      if (select) { minor += Number(row.getAttribute("data-price-minor")) * Number(select.value); }
    });
    total.hidden = minor === 0;
    amount.textContent = money.format(minor / Math.pow(10, digits));
  }
  form.addEventListener("change", update);
  update();
})();

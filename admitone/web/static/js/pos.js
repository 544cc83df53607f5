// The cashier's till (issue 17, points 5 and 6; docs/cashless.md, "The till page"): a
// cart of the stand's products, the wallet pass scanned (js/qr-camera.js) or typed, and the
// charge through POST /api/v1/pos/charges with the login's token and an Idempotency-Key
// drawn on the device per sale; the receipt, the reversal of the last sale, the register.
//
// Offline, as the gate scanner (and with its pieces: js/scanner-shell.js for the service
// worker and online/offline, js/offline-core.js for base32, Ed25519 and IndexedDB): once
// paired as a point-of-sale device (POST /api/v1/pos/devices) the page keeps the stand's
// bundle (GET /api/v1/pos/bundle, with its cursor) in IndexedDB, and when the network is
// gone, or a charge's request fails or times out, it decides the sale itself: the pass's
// signature, its not_after, the passes to refuse, the cap per sale and this device's own
// spend on the pass against the pass's cap. The sale is queued durably (strict
// durability) BEFORE the result is shown, under the SAME key as the online try, and
// uploaded (POST /api/v1/pos/offline-batches) when the network is back; an item the
// server refuses stays, marked, under "Needs attention".
//
// IndexedDB, one database per stand ("admitone-pos-<stand id>"):
//   meta    device (with its token), bundle (event, key, caps, products), cursor,
//           last_sync, clock_offset_ms, seq (the device's last sale number), rejected;
//   passes  [pass_id] -> {pass_id, blocked}: the passes to refuse offline;
//   queue   [idempotency_key] -> the offline sales still to upload (and their pass id).
"use strict";

(function () {
  var root = document.getElementById("pos");
  var core = window.AdmitOneOfflineCore;
  if (!root || !core) { return; }
  var shell = window.AdmitOneScanner || null;

  var ONLINE_WAIT_MS = 2500;    // then a charge is decided here (when paired)
  var SYNC_SECONDS = 15;
  var BATCH = 500;
  var PASS_BYTES = 109;         // admitone/cashless/passes.py
  var PASS_BODY = 45;
  var KEPT = { booked: true, booked_with_debt: true, duplicate: true };

  var standId = root.getAttribute("data-stand-id");
  var currency = root.getAttribute("data-currency");
  var unitName = root.getAttribute("data-unit-name");
  var lang = document.documentElement.lang || undefined;
  var csrf = root.getAttribute("data-csrf");
  var token = root.getAttribute("data-token") || "";
  var tokenMinutes = Number(root.getAttribute("data-token-minutes") || "15");
  var tokenAt = Date.now();
  var reversalMinutes = Number(root.getAttribute("data-reversal-minutes") || "10");

  function text(name) { return root.getAttribute("data-text-" + name) || ""; }
  function fill(template, values) {
    Object.keys(values).forEach(function (name) { template = template.replace("%(" + name + ")s", values[name]); });
    return template;
  }
  function $(id) { return document.getElementById(id); }

  // --- money: minor units of the event's currency, the unit name beside ------------------
  var formatter = new Intl.NumberFormat(lang, { style: "currency", currency: currency });
  var digits = formatter.resolvedOptions().maximumFractionDigits;
  function money(minor) { return formatter.format(minor / Math.pow(10, digits)); }
  function moneyWithUnit(minor) { return money(minor) + (unitName ? " (" + unitName + ")" : ""); }
  // "12.50", "12,50", "12": minor units, or null.
  function parseAmount(value) {
    var cleaned = (value || "").trim().replace(/\s/g, "").replace(",", ".");
    if (!/^\d{1,9}(\.\d+)?$/.test(cleaned)) { return null; }
    var parts = cleaned.split(".");
    var fraction = (parts[1] || "");
    if (fraction.length > digits) { return null; }
    while (fraction.length < digits) { fraction += "0"; }
    return Number(parts[0]) * Math.pow(10, digits) + Number(fraction || "0");
  }
  // pos.vat_included: total x rate / (10000 + rate), half up (away from zero below zero).
  function vatIncluded(total, rate) {
    if (total < 0) { return -vatIncluded(-total, rate); }
    var divisor = 10000 + rate;
    return Math.floor((2 * total * rate + divisor) / (2 * divisor));
  }
  function percent(rateBp) { return (rateBp / 100).toLocaleString(lang) + " %"; }

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) { return "pos-" + window.crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return "pos-" + core.hex(bytes);
  }

  // --- the network: every request says whether the server was reached -------------------
  function netFetch(url, options) {
    return fetch(url, options).then(function (response) {
      if (shell) { shell.sawNetwork(true); }
      return response;
    }, function (error) {
      if (shell) { shell.sawNetwork(false); }
      throw error;
    });
  }

  function answerOf(response) {
    return response.json().catch(function () { return null; }).then(function (body) {
      return { status: response.status, body: body };
    });
  }

  // A kept page (service worker) has no token, or one too old: asked at /scan/token; its
  // CSRF token too old, the page's own HTML gives fresh ones (as the scanner does).
  function tokensFromPage() {
    return netFetch(window.location.pathname, {
      credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" }
    }).then(function (response) {
      if (!response.ok || response.redirected) { throw new Error("page " + response.status); }
      return response.text();
    }).then(function (html) {
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("pos");
      if (!fresh || !fresh.getAttribute("data-token")) { throw new Error("no token"); }
      csrf = fresh.getAttribute("data-csrf");
      return { access_token: fresh.getAttribute("data-token") };
    });
  }

  function refreshToken() {
    return netFetch(root.getAttribute("data-token-url"), {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, Accept: "application/json" }
    }).then(function (response) {
      if (response.status === 403) { return tokensFromPage(); }
      if (!response.ok) { throw new Error("token " + response.status); }
      return response.json();
    }).then(function (body) {
      token = body.access_token;
      tokenAt = Date.now();
      return token;
    });
  }

  function freshToken() {
    if (!token || Date.now() - tokenAt > (tokenMinutes - 1) * 60000) { return refreshToken(); }
    return Promise.resolve(token);
  }

  // A write of the login (a charge, a reversal, the register), with its key; a 401 gets a
  // fresh token once (the write was not done, its key is still free). `timeoutMs`: the
  // request is given up after it (a network failure for the caller).
  function loginPost(url, body, key, timeoutMs, retried) {
    var controller = timeoutMs && window.AbortController ? new window.AbortController() : null;
    var timer = controller ? window.setTimeout(function () { controller.abort(); }, timeoutMs) : null;
    return freshToken().then(function (bearer) {
      return netFetch(url, {
        method: "POST", credentials: "omit", cache: "no-store",
        headers: {
          "Content-Type": "application/json", Accept: "application/json",
          Authorization: "Bearer " + bearer, "Idempotency-Key": key
        },
        body: JSON.stringify(body),
        signal: controller ? controller.signal : undefined
      });
    }).then(function (response) {
      window.clearTimeout(timer);
      if (response.status === 401 && !retried) {
        return refreshToken().then(function () { return loginPost(url, body, key, timeoutMs, true); });
      }
      return answerOf(response);
    }, function (error) {
      window.clearTimeout(timer);
      throw error;
    });
  }

  function errorText(error) {
    if (!error) { return text("error"); }
    if (error.code === "INSUFFICIENT_FUNDS" && error.details && typeof error.details.missing_minor === "number") {
      return fill(text("missing"), {
        amount: moneyWithUnit(error.details.missing_minor),
        required: money(error.details.required_minor),
        available: money(error.details.available_minor)
      });
    }
    return text("code-" + error.code) || error.message || text("error");
  }

  // --- the cart ---------------------------------------------------------------------------
  var products = {};
  Array.prototype.forEach.call(document.querySelectorAll(".pos-product"), function (button) {
    var id = button.getAttribute("data-product-id");
    products[id] = {
      id: id,
      name: button.getAttribute("data-name"),
      price_minor: Number(button.getAttribute("data-price-minor")),
      vat_rate_bp: Number(button.getAttribute("data-vat-rate-bp")),
      deposit: button.getAttribute("data-deposit") === "true"
    };
  });
  var cart = [];                 // [{id, quantity}] in the order first added

  function lineOf(id) {
    for (var i = 0; i < cart.length; i += 1) { if (cart[i].id === id) { return cart[i]; } }
    return null;
  }

  function add(id, step) {
    var product = products[id];
    if (!product) { return; }
    var line = lineOf(id);
    if (!line) { line = { id: id, quantity: 0 }; cart.push(line); }
    line.quantity += step;
    // Only a deposit (a cup given back) goes below zero.
    if (line.quantity < 0 && !product.deposit) { line.quantity = 0; }
    cart = cart.filter(function (item) { return item.quantity !== 0; });
    renderCart();
  }

  function total() {
    return cart.reduce(function (sum, line) { return sum + line.quantity * products[line.id].price_minor; }, 0);
  }

  function smallButton(label, name, onClick) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button button-ghost button-small";
    button.textContent = label;
    button.setAttribute("aria-label", name);
    button.addEventListener("click", onClick);
    return button;
  }

  function renderCart() {
    var body = $("pos-cart-lines");
    body.textContent = "";
    cart.forEach(function (line) {
      var product = products[line.id];
      var row = document.createElement("tr");
      row.setAttribute("data-product-id", line.id);
      var name = document.createElement("td");
      name.textContent = product.name;
      var quantity = document.createElement("td");
      quantity.appendChild(smallButton("\u2212", "\u2212 " + product.name, function () { add(line.id, -1); }));
      var count = document.createElement("span");
      count.className = "pos-quantity";
      count.textContent = " " + line.quantity + " ";
      quantity.appendChild(count);
      quantity.appendChild(smallButton("+", "+ " + product.name, function () { add(line.id, 1); }));
      var amount = document.createElement("td");
      amount.textContent = money(line.quantity * product.price_minor);
      row.appendChild(name);
      row.appendChild(quantity);
      row.appendChild(amount);
      body.appendChild(row);
    });
    var sum = total();
    $("pos-total").textContent = money(sum);
    $("pos-total").setAttribute("data-total-minor", String(sum));
  }

  Array.prototype.forEach.call(document.querySelectorAll(".pos-product"), function (button) {
    button.addEventListener("click", function () { add(button.getAttribute("data-product-id"), 1); });
  });
  Array.prototype.forEach.call(document.querySelectorAll(".pos-return"), function (button) {
    button.addEventListener("click", function () { add(button.getAttribute("data-product-id"), -1); });
  });
  $("pos-clear").addEventListener("click", function () { cart = []; renderCart(); });

  // --- IndexedDB and the offline state ----------------------------------------------------
  var database = window.indexedDB ? core.openDatabase("admitone-pos-" + standId, 1, function (db) {
    db.createObjectStore("meta");
    db.createObjectStore("passes", { keyPath: "pass_id" });
    db.createObjectStore("queue", { keyPath: "idempotency_key" });
  }) : null;
  var META_KEYS = ["device", "bundle", "cursor", "last_sync", "clock_offset_ms", "seq", "rejected"];
  var meta = {};
  var publicKey = null;
  var keyError = false;
  var queued = [];               // the queue's items, in memory
  var syncing = null;

  function paired() { return Boolean(meta.device && meta.device.token && !meta.rejected); }
  function ready() { return paired() && Boolean(meta.bundle) && Boolean(publicKey); }

  function loadState() {
    return database.tx(["meta", "queue"], "readonly").then(function (t) {
      var store = t.objectStore("meta");
      return Promise.all(META_KEYS.map(function (key) { return core.request(store.get(key)); })
        .concat([core.request(t.objectStore("queue").getAll())]));
    }).then(function (values) {
      META_KEYS.forEach(function (key, index) { meta[key] = values[index]; });
      queued = values[META_KEYS.length] || [];
      return importKey();
    });
  }

  function putMeta(values) {
    return database.tx(["meta"], "readwrite", true).then(function (t) {
      var store = t.objectStore("meta");
      Object.keys(values).forEach(function (key) { store.put(values[key], key); meta[key] = values[key]; });
      return core.done(t);
    });
  }

  function importKey() {
    if (!meta.bundle) { publicKey = null; return Promise.resolve(); }
    return core.importPublicKey(meta.bundle.public_key).then(function (key) { publicKey = key; keyError = false; },
      function () { publicKey = null; keyError = true; });
  }

  // --- the offline decision ---------------------------------------------------------------

  // admitone/cashless/passes.py parse_pass: 175 characters of canonical base32, version
  // 0x02; {eventId, passId, notAfter (ms), walletCap, saleCap, body, signature} or null.
  function parsePass(value) {
    var bytes = core.base32Bytes((value || "").trim(), PASS_BYTES);
    if (!bytes || bytes[0] !== 0x02) { return null; }
    var view = new DataView(bytes.buffer);
    return {
      eventId: core.uuidOf(core.hex(bytes.subarray(1, 17))),
      passId: core.uuidOf(core.hex(bytes.subarray(17, 33))),
      notAfter: view.getUint32(33) * 1000,
      walletCap: view.getUint32(37),
      saleCap: view.getUint32(41),
      body: bytes.slice(0, PASS_BODY),
      signature: bytes.slice(PASS_BODY)
    };
  }

  function refusal(name, values) {
    var error = new Error(name);
    error.offlineRefusal = fill(text("offline-" + name), values || {});
    return error;
  }

  // Decides `sale` ({key, pass, lines}) here and queues it; resolves with what to show, or
  // rejects with error.offlineRefusal (nothing queued: the attendee pays another way).
  function decideOffline(sale) {
    var catalogue = {};
    (meta.bundle.products || []).forEach(function (product) { catalogue[product.id] = product; });
    var claims = parsePass(sale.pass);
    if (!claims) {
      return Promise.reject(refusal(/^[\s\-0-9A-Za-z]{10,14}$/.test(sale.pass) ? "typed" : "invalid"));
    }
    if (claims.eventId !== meta.bundle.event_id) { return Promise.reject(refusal("invalid")); }
    return core.verifySignature(publicKey, claims.signature, claims.body).then(function (genuine) {
      if (!genuine) { throw refusal("invalid"); }
      var now = Date.now() + (meta.clock_offset_ms || 0);
      if (now > claims.notAfter) { throw refusal("expired"); }
      var lines = sale.lines.map(function (line) {
        var product = catalogue[line.product_id];
        if (!product || !product.active) { throw refusal("product"); }
        return { product_id: line.product_id, quantity: line.quantity, unit_price_minor: product.price_minor,
          name: product.name, vat_rate_bp: product.vat_rate_bp };
      });
      var amount = lines.reduce(function (sum, line) { return sum + line.quantity * line.unit_price_minor; }, 0);
      if (amount <= 0) { throw refusal("product"); }
      var saleCap = Math.min(claims.saleCap, meta.bundle.offline_sale_cap_minor);
      if (amount > saleCap) { throw refusal("sale-cap", { amount: money(saleCap) }); }
      var walletCap = Math.min(claims.walletCap, meta.bundle.offline_wallet_cap_minor);
      return database.tx(["meta", "passes", "queue"], "readwrite", true).then(function (t) {
        var passes = t.objectStore("passes");
        var queue = t.objectStore("queue");
        var store = t.objectStore("meta");
        return Promise.all([
          core.request(passes.get(claims.passId)),
          core.request(queue.getAll()),
          core.request(store.get("seq"))
        ]).then(function (read) {
          var state = read[0];
          if (state && state.blocked) { t.abort(); throw refusal("blocked"); }
          // This device's spend on the pass since its last upload, this sale included.
          var spent = read[1].filter(function (item) { return item.pass_id === claims.passId; })
            .reduce(function (sum, item) { return sum + item.amount_minor; }, 0);
          if (spent + amount > walletCap) {
            t.abort();
            throw refusal("wallet-cap", { amount: money(Math.max(walletCap - spent, 0)) });
          }
          var seq = (read[2] || 0) + 1;
          var item = {
            idempotency_key: sale.key,
            device_seq: seq,
            occurred_at: new Date().toISOString(),
            pass: sale.pass.trim(),
            pass_id: claims.passId,
            amount_minor: amount,
            lines: lines
          };
          queue.put(item);
          store.put(seq, "seq");
          // The sale is on disk before it is shown as paid.
          return core.done(t).then(function () {
            meta.seq = seq;
            queued.push(item);
            renderStatus();
            return item;
          });
        });
      });
    });
  }

  // --- the result and the receipt --------------------------------------------------------
  var lastSale = null;           // {entryId, at, key (of its reversal)}

  function showResult(kind, title, detail, receipt, note) {
    var result = $("pos-result");
    result.setAttribute("data-kind", kind);
    $("pos-result-title").textContent = title;
    $("pos-result-detail").textContent = detail || "";
    $("pos-result-note").textContent = note || "";
    var block = $("pos-receipt");
    block.hidden = !receipt;
    if (receipt) {
      var list = $("pos-receipt-lines");
      list.textContent = "";
      receipt.lines.forEach(function (line) {
        var li = document.createElement("li");
        li.textContent = line.quantity + " \u00d7 " + line.name + " \u2014 " + money(line.total_minor);
        list.appendChild(li);
      });
      $("pos-receipt-total").textContent = fill(text("total"), { amount: moneyWithUnit(receipt.total_minor) });
      $("pos-receipt-vat").textContent = receipt.vat_by_rate.filter(function (rate) { return rate.vat_minor; })
        .map(function (rate) { return fill(text("vat"), { rate: percent(rate.vat_rate_bp), amount: money(rate.vat_minor) }); })
        .join(" · ");
      var balance = $("pos-receipt-balance");
      balance.textContent = receipt.balance_minor === null ? text("balance-unknown")
        : fill(text("balance-after"), { amount: moneyWithUnit(receipt.balance_minor) });
      balance.setAttribute("data-balance-minor", receipt.balance_minor === null ? "" : String(receipt.balance_minor));
    }
    $("pos-reverse").hidden = !(kind === "paid" && lastSale && lastSale.entryId);
    result.hidden = false;
    result.focus();
  }

  function vatByRate(lines) {
    var rates = {};
    lines.forEach(function (line) {
      var total = line.quantity * line.unit_price_minor;
      var rate = rates[line.vat_rate_bp] || (rates[line.vat_rate_bp] = { vat_rate_bp: line.vat_rate_bp, total_minor: 0, vat_minor: 0 });
      rate.total_minor += total;
      rate.vat_minor += vatIncluded(total, line.vat_rate_bp);
    });
    return Object.keys(rates).sort(function (a, b) { return a - b; }).map(function (rate) { return rates[rate]; });
  }

  function paidOnline(data) {
    lastSale = { entryId: data.entry_id, at: Date.now(), key: null };
    root.setAttribute("data-last-entry-id", data.entry_id);
    showResult("paid", text("paid"), moneyWithUnit(data.amount_minor), {
      lines: data.lines, total_minor: data.receipt.total_minor, vat_by_rate: data.receipt.vat_by_rate,
      balance_minor: data.receipt.balance_minor
    });
    cart = [];
    renderCart();
  }

  function paidOffline(item) {
    lastSale = null;
    showResult("paid", text("paid"), moneyWithUnit(item.amount_minor), {
      lines: item.lines.map(function (line) {
        return { name: line.name, quantity: line.quantity, total_minor: line.quantity * line.unit_price_minor };
      }),
      total_minor: item.amount_minor, vat_by_rate: vatByRate(item.lines), balance_minor: null
    }, text("decided-offline"));
    root.setAttribute("data-last-offline-key", item.idempotency_key);
    cart = [];
    renderCart();
  }

  function refusedWith(detail) { showResult("refused", text("refused"), detail, null, ""); }

  // --- the charge -------------------------------------------------------------------------
  var charging = false;
  var passInput = $("pos-pass");

  function charge() {
    if (charging) { return; }
    var shown = passInput.value.trim();
    if (!cart.length) { refusedWith(text("empty-cart")); return; }
    if (!shown) { refusedWith(text("no-pass")); return; }
    charging = true;
    var sale = {
      key: newKey(),
      pass: shown,
      lines: cart.map(function (line) { return { product_id: line.id, quantity: line.quantity }; })
    };
    function here() {
      if (!ready()) { refusedWith(text(paired() ? "error" : "offline-not-ready")); return null; }
      return decideOffline(sale).then(paidOffline, function (error) {
        refusedWith(error && error.offlineRefusal ? error.offlineRefusal : text("error"));
      });
    }
    var attempt;
    if (ready() && shell && !shell.isOnline()) {
      attempt = Promise.resolve(here());
    } else {
      attempt = loginPost(root.getAttribute("data-charges-url"),
        { stand_id: standId, pass: sale.pass, lines: sale.lines }, sale.key, ready() ? ONLINE_WAIT_MS : 0, false)
        .then(function (answer) {
          var data = answer.body && answer.body.data;
          if (data) { paidOnline(data); } else { refusedWith(errorText(answer.body && answer.body.error)); }
        }, function () {
          // No answer (the server may or may not have the sale): decided here under the
          // same key, so that it is booked once whichever way it arrived.
          return here();
        });
    }
    attempt.then(function () { charging = false; }, function () { charging = false; });
  }

  $("pos-charge-form").addEventListener("submit", function (event) {
    event.preventDefault();
    charge();
  });
  $("pos-next").addEventListener("click", function () {
    $("pos-result").hidden = true;
    passInput.value = "";
    passInput.focus();
  });

  $("pos-reverse").addEventListener("click", function () {
    if (!lastSale || !lastSale.entryId) { return; }
    if (Date.now() - lastSale.at > reversalMinutes * 60000) {
      refusedWith(text("code-REVERSAL_WINDOW_CLOSED"));
      return;
    }
    lastSale.key = lastSale.key || newKey();  // kept for a retry of this reversal
    var url = root.getAttribute("data-reverse-url").replace("ENTRY_ID", encodeURIComponent(lastSale.entryId));
    loginPost(url, {}, lastSale.key, 0, false).then(function (answer) {
      var data = answer.body && answer.body.data;
      if (data) {
        lastSale = null;
        showResult("reversed", fill(text("reversed"), { amount: moneyWithUnit(data.amount_minor) }),
          data.balance_minor === null ? "" : fill(text("balance-after"), { amount: moneyWithUnit(data.balance_minor) }), null, "");
      } else {
        refusedWith(errorText(answer.body && answer.body.error));
      }
    }, function () { refusedWith(text("error")); });
  });

  // --- the camera -------------------------------------------------------------------------
  var cameraButton = $("pos-camera");
  var cameraStatus = $("pos-camera-status");
  cameraButton.addEventListener("click", function () {
    if (!window.AdmitOneCamera) { cameraStatus.textContent = text("no-camera"); return; }
    cameraButton.disabled = true;
    window.AdmitOneCamera.start($("pos-video"), {
      paused: function () { return charging || !$("pos-result").hidden; },
      onCode: function (code) {
        if (code === passInput.value.trim()) { return; }
        passInput.value = code;
        if ($("pos-topup-pass")) { $("pos-topup-pass").value = code; }
        root.setAttribute("data-last-decoded", String(Date.now()));
        if (cart.length) { charge(); }
      }
    }).then(function (camera) {
      cameraButton.hidden = true;
      cameraStatus.textContent = text("camera-on");
      root.setAttribute("data-decoder", camera.name);
    }).catch(function () {
      cameraButton.disabled = false;
      cameraStatus.textContent = text("no-camera");
    });
  });

  // --- the cash register -----------------------------------------------------------------
  var registerId = root.getAttribute("data-register-id") || null;
  var registerError = $("pos-register-error");

  function registerShown(open) {
    $("pos-register-open").hidden = open;
    $("pos-register-close").hidden = !open;
    root.setAttribute("data-register-id", registerId || "");
  }

  $("pos-register-open").addEventListener("submit", function (event) {
    event.preventDefault();
    var float = parseAmount($("pos-float").value);
    if (float === null) { registerError.textContent = text("bad-amount"); return; }
    registerError.textContent = "";
    loginPost(root.getAttribute("data-registers-url"), { stand_id: standId, opening_float_minor: float }, newKey(), 0, false)
      .then(function (answer) {
        var data = answer.body && answer.body.data;
        if (!data) { registerError.textContent = errorText(answer.body && answer.body.error); return; }
        registerId = data.id;
        registerShown(true);
        $("pos-register-state").textContent = fill(text("register-opened"), {
          time: new Date(data.opened_at).toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" }),
          amount: money(data.opening_float_minor)
        });
      }, function () { registerError.textContent = text("error"); });
  });

  var closeKey = null;           // kept for a retry of the same close
  $("pos-register-close").addEventListener("submit", function (event) {
    event.preventDefault();
    var counted = parseAmount($("pos-counted").value);
    if (counted === null) { registerError.textContent = text("bad-amount"); return; }
    registerError.textContent = "";
    closeKey = closeKey || newKey();
    var url = root.getAttribute("data-close-url").replace("REGISTER_ID", encodeURIComponent(registerId));
    loginPost(url, { counted_minor: counted }, closeKey, 0, false).then(function (answer) {
      var data = answer.body && answer.body.data;
      if (!data) {
        closeKey = null;
        registerError.textContent = errorText(answer.body && answer.body.error);
        return;
      }
      closeKey = null;
      registerId = null;
      registerShown(false);
      var state = $("pos-register-state");
      state.textContent = fill(text("register-closed"), {
        expected: money(data.expected_minor), counted: money(data.counted_minor),
        difference: (data.difference_minor > 0 ? "+" : "") + money(data.difference_minor)
      });
      state.setAttribute("data-difference-minor", String(data.difference_minor));
    }, function () { registerError.textContent = text("error"); });
  });

  // --- a desk's top-ups (online only: money coming in is the server's to book) -------------
  var topupForm = $("pos-topup-form");
  var topupKey = null;           // kept for a retry of the same top-up
  if (topupForm) {
    topupForm.addEventListener("input", function () { topupKey = null; });
    topupForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var error = $("pos-topup-error");
      var result = $("pos-topup-result");
      error.textContent = "";
      result.textContent = "";
      var amount = parseAmount($("pos-topup-amount").value);
      var shown = $("pos-topup-pass").value.trim();
      var method = topupForm.querySelector("input[name=method]:checked").value;
      if (amount === null || amount <= 0) { error.textContent = text("bad-amount"); return; }
      if (!shown) { error.textContent = text("no-pass"); return; }
      if (method === "cash" && !registerId) { error.textContent = text("topup-register"); return; }
      if (shell && !shell.isOnline()) { error.textContent = text("topup-offline"); return; }
      var body = { stand_id: standId, pass: shown, amount_minor: amount, method: method };
      if (method === "cash") { body.register_id = registerId; }
      topupKey = topupKey || newKey();
      loginPost(root.getAttribute("data-topups-url"), body, topupKey, 0, false).then(function (answer) {
        var data = answer.body && answer.body.data;
        if (!data) {
          topupKey = null;
          error.textContent = errorText(answer.body && answer.body.error);
          return;
        }
        topupKey = null;
        result.textContent = fill(text("topped-up"), {
          amount: moneyWithUnit(data.amount_minor), balance: moneyWithUnit(data.balance_minor)
        }) + (data.debt_paid_minor ? " " + fill(text("debt-paid"), { amount: money(data.debt_paid_minor) }) : "");
        result.setAttribute("data-balance-minor", String(data.balance_minor));
        $("pos-topup-amount").value = "";
        $("pos-topup-pass").value = "";
      }, function () { error.textContent = text("error"); });
    });
  }

  // --- pairing, sync, upload ---------------------------------------------------------------

  function deviceFetch(url, options) {
    options = options || {};
    options.credentials = "omit";
    options.cache = "no-store";
    options.headers = Object.assign({ Accept: "application/json", Authorization: "Bearer " + meta.device.token },
      options.headers || {});
    return netFetch(url, options).then(function (response) {
      return answerOf(response).then(function (answer) {
        if (response.status === 401) {
          putMeta({ rejected: true }).then(render, render);
          throw new Error("device token refused");
        }
        if (!response.ok) {
          var error = new Error("HTTP " + response.status);
          error.status = response.status;
          error.body = answer.body;
          throw error;
        }
        return answer.body;
      });
    });
  }

  function download() {
    var url = root.getAttribute("data-bundle-url") + (meta.cursor ? "?cursor=" + encodeURIComponent(meta.cursor) : "");
    return deviceFetch(url).then(function (body) {
      var data = body.data;
      return database.tx(["meta", "passes"], "readwrite", true).then(function (t) {
        var passes = t.objectStore("passes");
        if (data.full) { passes.clear(); }
        data.passes.forEach(function (state) { passes.put({ pass_id: state.pass_id, blocked: state.blocked }); });
        var bundle = {
          event_id: data.event_id, stand_id: data.stand_id, currency: data.currency, unit_name: data.unit_name,
          public_key: data.public_key, offline_wallet_cap_minor: data.offline_wallet_cap_minor,
          offline_sale_cap_minor: data.offline_sale_cap_minor, products: data.products
        };
        var values = {
          bundle: bundle, cursor: data.cursor, last_sync: new Date().toISOString(),
          clock_offset_ms: Math.round(Date.parse(data.server_time) - Date.now())
        };
        var store = t.objectStore("meta");
        Object.keys(values).forEach(function (key) { store.put(values[key], key); });
        return core.done(t).then(function () {
          var keyChanged = !meta.bundle || meta.bundle.public_key !== bundle.public_key;
          Object.keys(values).forEach(function (key) { meta[key] = values[key]; });
          return keyChanged ? importKey() : null;
        });
      });
    });
  }

  // Only what the server booked (or had booked) leaves the queue; a refused sale stays,
  // marked, and is sent again only from "Sync now".
  function acknowledge(results) {
    var byKey = {};
    results.forEach(function (result) { byKey[result.idempotency_key] = result; });
    return database.tx(["queue"], "readwrite", true).then(function (t) {
      var queue = t.objectStore("queue");
      queued.forEach(function (item) {
        var result = byKey[item.idempotency_key];
        if (!result) { return; }
        if (KEPT[result.status]) {
          queue.delete(item.idempotency_key);
        } else {
          item.attention = result.error || { code: result.status, message: "" };
          queue.put(item);
        }
      });
      return core.done(t);
    }).then(function () {
      queued = queued.filter(function (item) {
        var result = byKey[item.idempotency_key];
        return !(result && KEPT[result.status]);
      });
    });
  }

  function upload(includeAttention) {
    var pending = queued.filter(function (item) { return includeAttention || !item.attention; })
      .sort(function (a, b) { return a.device_seq - b.device_seq; });
    function next() {
      if (!pending.length) { return null; }
      var batch = pending.splice(0, BATCH);
      return deviceFetch(root.getAttribute("data-batches-url"), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          device_time: new Date().toISOString(),
          sales: batch.map(function (item) {
            return { idempotency_key: item.idempotency_key, device_seq: item.device_seq, occurred_at: item.occurred_at,
              pass: item.pass, lines: item.lines.map(function (line) {
                return { product_id: line.product_id, quantity: line.quantity, unit_price_minor: line.unit_price_minor };
              }) };
          })
        })
      }).then(function (body) { return acknowledge(body.data.results); }).then(next);
    }
    return Promise.resolve(next());
  }

  function sync(options) {
    if (!database || !paired()) { return Promise.resolve(false); }
    if (syncing) { return syncing; }
    root.setAttribute("data-syncing", "true");
    syncing = upload(options && options.retryAttention).then(download)
      .then(function () { return true; }, function () { return false; })
      .then(function (ok) {
        syncing = null;
        root.setAttribute("data-syncing", "false");
        render();
        return ok;
      });
    return syncing;
  }

  $("pos-pair").addEventListener("submit", function (event) {
    event.preventDefault();
    var name = $("pos-device-name").value.trim();
    var errorLine = $("pos-pair-error");
    errorLine.textContent = "";
    // A pairing is not a sale: its key is only there because every POS write takes one.
    loginPost(root.getAttribute("data-devices-url"), { stand_id: standId, name: name }, newKey(), 0, false)
      .then(function (answer) {
        var data = answer.body && answer.body.data;
        if (!data || !data.token) { throw Object.assign(new Error("refused"), { body: answer.body }); }
        return putMeta({ device: { id: data.id, name: data.name, token: data.token }, rejected: false, cursor: null });
      })
      .then(function () { render(); return sync(); })
      .catch(function (error) {
        var refused = error && error.body && error.body.error;
        errorLine.textContent = refused ? errorText(refused) : text("pair-failed");
      });
  });
  $("pos-sync").addEventListener("click", function () { sync({ retryAttention: true }); });

  // --- what the page shows ---------------------------------------------------------------
  function formatTime(iso) {
    try { return new Date(iso).toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" }); } catch (e) { return iso; }
  }

  function renderStatus() {
    var waiting = queued.filter(function (item) { return !item.attention; }).length;
    var attention = queued.filter(function (item) { return item.attention; });
    root.setAttribute("data-queue", String(waiting));
    root.setAttribute("data-attention", String(attention.length));
    $("pos-status-queue").textContent = paired() || waiting ? fill(text("status-queue"), { count: String(waiting) }) : text("status-unpaired");
    $("pos-status-sync").textContent = meta.last_sync ? fill(text("status-sync"), { time: formatTime(meta.last_sync) }) : (paired() ? text("status-never") : "");
    $("pos-status").setAttribute("data-last-sync", meta.last_sync || "");
    var list = $("pos-attention");
    list.textContent = "";
    attention.forEach(function (item) {
      var li = document.createElement("li");
      li.textContent = formatTime(item.occurred_at) + " · " + money(item.amount_minor) + " · " +
        (item.attention.code || "") + (item.attention.message ? ": " + item.attention.message : "");
      list.appendChild(li);
    });
    $("pos-attention-section").hidden = attention.length === 0;
  }

  function render() {
    root.setAttribute("data-paired", paired() ? "true" : "false");
    root.setAttribute("data-ready", ready() ? "true" : "false");
    $("pos-pair").hidden = paired();
    $("pos-paired").hidden = !meta.device;
    $("pos-rejected").hidden = !meta.rejected;
    $("pos-unsupported").hidden = !keyError;
    if (meta.device) { $("pos-device").textContent = fill(text("paired-as"), { name: meta.device.name || "" }); }
    var detail = $("network-status-detail");
    if (detail) {
      if (!detail.hasAttribute("data-text-default")) { detail.setAttribute("data-text-default", detail.textContent); }
      detail.textContent = ready() ? text("offline-ready") : detail.getAttribute("data-text-default");
    }
    renderStatus();
  }

  renderCart();
  if (!database) { render(); return; }
  var timer = null;
  function tick() {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      (shell && shell.isOnline() ? sync() : Promise.resolve()).then(tick, tick);
    }, SYNC_SECONDS * 1000);
  }
  loadState().then(function () {
    render();
    if (shell) {
      shell.onNetworkChange(function (online) {
        if (!online) { return; }
        if (!token) { refreshToken().catch(function () { /* asked again at the next charge */ }); }
        sync();
      });
    }
    tick();
    if (!token && (!shell || shell.isOnline())) { refreshToken().catch(function () { /* at the next charge */ }); }
    return !shell || shell.isOnline() ? sync() : null;
  }).catch(function () { root.setAttribute("data-ready", "false"); })
    .then(function () { root.setAttribute("data-started", "true"); });
})();

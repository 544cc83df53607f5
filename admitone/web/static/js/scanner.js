// Gate scanner: reads QR codes with the camera (BarcodeDetector where the browser has
// it, the vendored jsQR in a worker otherwise), or a typed/pasted code, and sends each one
// to the check-in API; or finds a ticket by name, e-mail or order code and admits it. The
// scan is for the check-in list picked on the page and is an entry or an exit. The
// answer fills the screen with its own colour, symbol and tone: green admitted, amber
// already admitted (by whom, when, where), red not a ticket. The scanner comes back by
// itself after a few seconds, or at once on a tap. Supervisors may undo an admission.
// The offline shell (service worker, online/offline) is js/scanner-shell.js, loaded first.
//
// data-auth says where the page's API tokens come from: "login" (upstream), the page's
// login, renewed at data-token-url; "device" (a site relay, which knows no logins), only
// the token of this browser once paired as a device (js/scanner-offline.js pairs it), and
// nothing that needs a staff login (search, counts, undo: their addresses are absent).
"use strict";

(function () {
  var root = document.getElementById("scanner");
  if (!root) { return; }

  var deviceAuth = root.getAttribute("data-auth") === "device";
  var scanUrl = root.getAttribute("data-scan-url");
  var statsUrl = root.getAttribute("data-stats-url");
  var tokenUrl = root.getAttribute("data-token-url");
  var csrf = root.getAttribute("data-csrf");
  // Empty when the page comes from the service worker's cache, which never keeps a token
  // (docs/offline-scanner.md): a fresh one is asked for once the network is there.
  var token = root.getAttribute("data-token") || "";
  var tokenMinutes = Number(root.getAttribute("data-token-minutes") || "15");
  var tokenAt = Date.now();
  var shell = window.AdmitOneScanner || null;

  var searchUrl = root.getAttribute("data-search-url");
  var undoUrl = root.getAttribute("data-undo-url");
  var mayUndo = root.getAttribute("data-may-undo") === "true";
  var overlay = document.getElementById("scan-result");
  var overlaySymbol = document.getElementById("scan-result-symbol");
  var overlayExtra = document.getElementById("scan-result-extra");
  var undoButton = document.getElementById("scan-undo");
  var searchForm = document.getElementById("search-form");
  var searchInput = document.getElementById("search-query");
  var searchStatus = document.getElementById("search-status");
  var searchResults = document.getElementById("search-results");
  var returnTimer = null;
  var undoTicket = null;
  var overlayTitle = document.getElementById("scan-result-title");
  var overlayDetail = document.getElementById("scan-result-detail");
  var nextButton = document.getElementById("scan-next");
  var form = document.getElementById("manual-form");
  var codeInput = document.getElementById("manual-code");
  var gateInput = document.getElementById("gate-name");
  var video = document.getElementById("scanner-video");
  var cameraButton = document.getElementById("camera-start");
  var cameraStatus = document.getElementById("camera-status");
  var listSelect = document.getElementById("checkin-list");
  var kindInputs = document.querySelectorAll('input[name="scan-kind"]');

  // The check-in list and the kind (entry or exit) every scan is sent with; the list
  // also chooses the counts, the search's admissions and what an undo undoes.
  function listId() { return listSelect ? listSelect.value : ""; }
  function scanKind() {
    for (var i = 0; i < kindInputs.length; i += 1) {
      if (kindInputs[i].checked) { return kindInputs[i].value; }
    }
    return "entry";
  }
  function withList(url) {
    var id = listId();
    if (!id) { return url; }
    return url + (url.indexOf("?") === -1 ? "?" : "&") + "list_id=" + encodeURIComponent(id);
  }

  var refusedHere = 0;
  var busy = false;
  var lastCode = null;
  var lastCodeAt = 0;

  function text(name) { return root.getAttribute("data-text-" + name) || ""; }

  function nonce() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  // The gate name is remembered on this device.
  try {
    gateInput.value = window.localStorage.getItem("admitone.gate") || "";
    gateInput.addEventListener("change", function () {
      window.localStorage.setItem("admitone.gate", gateInput.value.trim());
    });
  } catch (e) { /* private mode: no storage */ }

  // Every request of the page goes through here, so the shell knows whether the server
  // can be reached: an answer (any status) is "online", a network failure "offline".
  function netFetch(url, options) {
    return fetch(url, options).then(function (response) {
      if (shell) { shell.sawNetwork(true); }
      return response;
    }, function (error) {
      if (shell) { shell.sawNetwork(false); }
      throw error;
    });
  }

  // A page copy kept offline may carry a CSRF token too old for /scan/token (12 hours),
  // or one from before a new login: the page as the server renders it now has both fresh.
  function tokensFromPage() {
    return netFetch(window.location.pathname, {
      credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" }
    }).then(function (response) {
      if (!response.ok || response.redirected) { throw new Error("page " + response.status); }
      return response.text();
    }).then(function (html) {
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("scanner");
      if (!fresh || !fresh.getAttribute("data-token")) { throw new Error("no token"); }
      csrf = fresh.getAttribute("data-csrf");
      return { access_token: fresh.getAttribute("data-token") };
    });
  }

  function refreshToken() {
    return netFetch(tokenUrl, {
      method: "POST",
      credentials: "same-origin",
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
    // Renew a minute before the access token would expire.
    if (!token || Date.now() - tokenAt > (tokenMinutes - 1) * 60000) { return refreshToken(); }
    return Promise.resolve(token);
  }

  // The offline mode (js/scanner-offline.js), when this browser is paired as a device and
  // holds the event's bundle: scans then go online with the device's token, and a scan
  // whose request fails (or takes longer than ONLINE_WAIT_MS) is decided here with the
  // same nonce, so that the server stores it once whichever way it arrives.
  var ONLINE_WAIT_MS = 2500;
  function offlineMode() {
    var mode = shell && shell.offline;
    return mode && mode.ready() ? mode : null;
  }

  // The device's token once paired (the offline mode need not be ready: a relay's page
  // scans with it from the moment it is paired), else null.
  function pairedToken() {
    return shell && shell.offline ? shell.offline.deviceToken() : null;
  }

  // scan: {nonce, kind, list_id, gate}. The device's token when paired, else the login's
  // (with data-auth "device" there is no login: an unpaired page sends nothing).
  function postScan(code, scan, retried) {
    var mode = offlineMode();
    var deviceToken = (mode || deviceAuth) && !retried ? pairedToken() : null;
    if (deviceAuth && !deviceToken) { return Promise.resolve({ status: 0, body: null, unpaired: true }); }
    var bearerPromise = deviceToken ? Promise.resolve(deviceToken) : freshToken();
    var controller = mode && window.AbortController ? new window.AbortController() : null;
    var timeout = controller ? window.setTimeout(function () { controller.abort(); }, ONLINE_WAIT_MS) : null;
    return bearerPromise.then(function (bearer) {
      var body = { qr: code, nonce: scan.nonce, kind: scan.kind };
      if (scan.gate) { body.gate = scan.gate; }
      if (scan.list_id) { body.list_id = scan.list_id; }
      return netFetch(scanUrl, {
        method: "POST",
        credentials: "omit",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          Authorization: "Bearer " + bearer
        },
        body: JSON.stringify(body),
        signal: controller ? controller.signal : undefined
      });
    }).then(function (response) {
      window.clearTimeout(timeout);
      if (response.status === 401 && !retried) {
        // A revoked device, or an expired login token: the login's fresh token, once
        // (the scan was not stored, so its nonce is still free). No login to fall back
        // on with data-auth "device": the page says to pair again.
        return response.json().catch(function () { return {}; }).then(function (refusal) {
          if (deviceToken && refusal && refusal.error && refusal.error.code === "DEVICE_TOKEN_INVALID") {
            shell.offline.deviceRejected();
          }
          if (deviceAuth) { return { status: response.status, body: refusal }; }
          return refreshToken().then(function () { return postScan(code, scan, true); });
        });
      }
      return response.json().then(function (body) { return { status: response.status, body: body }; });
    }, function (error) {
      window.clearTimeout(timeout);
      throw error;
    });
  }

  function formatTime(iso) {
    try {
      return new Date(iso).toLocaleTimeString(document.documentElement.lang || undefined, { hour: "2-digit", minute: "2-digit" });
    } catch (e) { return iso; }
  }

  function fill(template, name, value) { return template.replace("%(" + name + ")s", value); }

  // --- tones: Web Audio, made on the spot (no audio file) -------------------------------
  var audio = null;
  function tone(frequency, start, length, wave) {
    var oscillator = audio.createOscillator();
    var gain = audio.createGain();
    oscillator.type = wave;
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, audio.currentTime + start);
    gain.gain.exponentialRampToValueAtTime(0.3, audio.currentTime + start + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + start + length);
    oscillator.connect(gain);
    gain.connect(audio.destination);
    oscillator.start(audio.currentTime + start);
    oscillator.stop(audio.currentTime + start + length + 0.02);
  }
  function beep(kind) {
    try {
      var Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) { return; }
      audio = audio || new Context();
      if (audio.state === "suspended") { audio.resume(); }
      if (kind === "admitted") {          // one short high tone
        tone(1320, 0, 0.15, "sine");
      } else if (kind === "already") {    // two middle tones
        tone(660, 0, 0.12, "square");
        tone(660, 0.2, 0.12, "square");
      } else {                            // a low falling buzz
        tone(300, 0, 0.2, "sawtooth");
        tone(200, 0.22, 0.35, "sawtooth");
      }
    } catch (e) { /* no sound: the screen says it all */ }
  }

  var SYMBOLS = { admitted: "\u2713", already: "\u21BB", refused: "\u2715", undone: "\u21B6" };

  // kind: "admitted", "already", "refused" or "undone"; result: the API's result.
  function show(kind, result, title, detail, extra) {
    var began = Number(root.getAttribute("data-scan-started") || "0");
    if (began) {
      // The time from the code to its result on screen (the offline tests read it).
      overlay.setAttribute("data-elapsed-ms", (window.performance.now() - began).toFixed(1));
      root.removeAttribute("data-scan-started");
    }
    overlay.classList.remove("admitted", "already", "refused", "undone");
    overlay.classList.add(kind === "undone" ? "admitted" : kind);
    overlay.setAttribute("data-kind", kind);
    overlay.setAttribute("data-result", result);
    overlaySymbol.textContent = SYMBOLS[kind];
    overlayTitle.textContent = title;
    overlayDetail.textContent = detail || "";
    overlayExtra.textContent = extra || "";
    undoButton.hidden = !(mayUndo && undoTicket);
    overlay.hidden = false;
    nextButton.focus();
    beep(kind === "undone" ? "admitted" : kind);
    if (navigator.vibrate) { navigator.vibrate(kind === "admitted" ? 80 : [120, 80, 120]); }
    window.clearTimeout(returnTimer);
    // Back to scanning by itself; longer when a supervisor may want to undo.
    // (Read at each result: a test may hold the screen to check it.)
    var seconds = Number(root.getAttribute("data-return-seconds") || "4");
    returnTimer = window.setTimeout(hide, (undoButton.hidden ? seconds : seconds * 2) * 1000);
  }

  function hide() {
    window.clearTimeout(returnTimer);
    overlay.hidden = true;
    busy = false;
    undoTicket = null;
    codeInput.value = "";
    codeInput.focus();
  }

  function errorText(error) {
    return (error && text("code-" + error.code)) || text("error");
  }

  function admissionText(admission) {
    if (!admission) { return ""; }
    var parts = [fill(text("already-at"), "time", formatTime(admission.at))];
    if (admission.gate) { parts.push(fill(text("at-gate"), "gate", admission.gate)); }
    if (admission.by) { parts.push(fill(text("by"), "name", admission.by)); }
    return parts.join(" ");
  }

  function authorizedFetch(url, options, retried) {
    return freshToken().then(function (bearer) {
      options.credentials = "omit";
      options.headers = Object.assign({ Accept: "application/json", Authorization: "Bearer " + bearer }, options.headers || {});
      return netFetch(url, options);
    }).then(function (response) {
      if (response.status === 401 && !retried) {
        return refreshToken().then(function () { return authorizedFetch(url, options, true); });
      }
      return response.json().then(function (body) { return { status: response.status, body: body }; });
    });
  }

  function updateCounts() {
    if (!statsUrl) { return; }
    freshToken().then(function (bearer) {
      return netFetch(withList(statsUrl), { headers: { Authorization: "Bearer " + bearer, Accept: "application/json" }, credentials: "omit" });
    }).then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (!body || !body.data) { return; }
        root.querySelector('[data-count="admitted"]').textContent = body.data.admitted;
        root.querySelector('[data-count="total"]').textContent = body.data.total;
        var progress = root.querySelector('[data-count="progress"]');
        progress.max = body.data.total || 1;
        progress.value = body.data.admitted;
      })
      .catch(function () { /* counts refresh on the next scan */ });
  }

  function handleCode(code, fromCamera) {
    code = (code || "").trim();
    if (!code || busy) { return; }
    // The camera sees the same code many times a second: ignore its repeats for 3 s.
    // A typed code is always sent: staff re-check on purpose.
    if (fromCamera && code === lastCode && Date.now() - lastCodeAt < 3000) { return; }
    lastCode = code;
    lastCodeAt = Date.now();
    busy = true;
    root.setAttribute("data-scan-started", String(window.performance.now()));
    var scan = { nonce: nonce(), kind: scanKind(), list_id: listId(), gate: gateInput.value.trim() };
    var mode = offlineMode();
    function decideHere() {
      return shell.decideOffline(code, scan).then(function (decision) {
        if (decision.kind !== "admitted") { refusedHere += 1; }
        root.querySelector('[data-count="refused"]').textContent = refusedHere;
        show(decision.kind, decision.result, decision.title, decision.detail, decision.extra);
      }, function () { show("refused", "error", text("refused"), text("error")); });
    }
    // Known to be offline: no request to wait for.
    if (mode && !shell.isOnline()) { decideHere(); return; }
    postScan(code, scan, false).then(function (answer) {
      var data = answer.body && answer.body.data;
      if (mode && data) {
        mode.recordOnline({ nonce: scan.nonce, qr: code, kind: scan.kind, list_id: data.list_id || scan.list_id,
          result: data.result, ticket_id: data.ticket ? data.ticket.id : null, gate: scan.gate });
      }
      if (!data) {
        refusedHere += 1;
        show("refused", "error", text("refused"),
          answer.unpaired ? text("pair-first") : errorText(answer.body && answer.body.error));
      } else if (data.accepted) {
        var who = data.ticket ? data.ticket.holder_name + " — " + data.ticket.ticket_type.name : "";
        show("admitted", data.result, text(data.admitted ? "admitted" : "exited"), who);
      } else if (data.result === "already_admitted") {
        refusedHere += 1;
        undoTicket = data.ticket ? data.ticket.id : null;
        show("already", data.result, text("already_admitted"),
          data.ticket ? data.ticket.holder_name + " — " + data.ticket.ticket_type.name : "",
          admissionText(data.first_admission));
      } else {
        refusedHere += 1;
        show("refused", data.result, text(data.result) || data.message, text("refused"));
      }
      root.querySelector('[data-count="refused"]').textContent = refusedHere;
      updateCounts();
    }).catch(function () {
      // The request failed or hung (no answer: the server may or may not have it). With
      // the offline mode ready, the scan is decided here with the same nonce and queued
      // (js/scanner-offline.js); decideOffline answers {kind, result, title, detail, extra}.
      if (offlineMode() && shell.decideOffline) { decideHere(); return; }
      show("refused", "error", text("refused"), text("error"));
    });
  }

  // The offline mode pairs this browser as a device with the login's token (at a relay it
  // logs in through the relay instead).
  if (shell && !deviceAuth) {
    shell.staffFetch = function (url, options) { return authorizedFetch(url, options || {}, false); };
  }

  // --- a supervisor undoes a mistaken admission ------------------------------------------
  function undoAdmission(ticketId) {
    window.clearTimeout(returnTimer);
    busy = true;
    authorizedFetch(withList(undoUrl.replace("TICKET_ID", encodeURIComponent(ticketId))), { method: "POST" }, false)
      .then(function (answer) {
        undoTicket = null;
        var data = answer.body && answer.body.data;
        if (data) {
          show("undone", "undone", text("undone"), fill(text("undone-detail"), "name", data.holder_name));
          updateCounts();
        } else {
          var error = answer.body && answer.body.error;
          show("refused", "error", text("refused"), errorText(error));
        }
      }).catch(function () { show("refused", "error", text("refused"), text("error")); });
  }

  // --- finding a ticket by name, e-mail or order code -------------------------------------
  function button(label, className, onClick) {
    var element = document.createElement("button");
    element.type = "button";
    element.className = className;
    element.textContent = label;
    element.addEventListener("click", onClick);
    return element;
  }

  function renderResults(tickets) {
    searchResults.textContent = "";
    searchStatus.textContent = tickets.length ? "" : text("no-match");
    tickets.forEach(function (ticket) {
      var item = document.createElement("li");
      item.className = "search-result";
      item.setAttribute("data-ticket-id", ticket.id);
      var about = document.createElement("div");
      var name = document.createElement("p");
      name.className = "search-result-name";
      name.textContent = ticket.holder_name;
      var meta = document.createElement("p");
      meta.className = "search-result-meta";
      var facts = [ticket.ticket_type_name, fill(text("order"), "code", ticket.order_code)];
      if (ticket.status !== "valid") { facts.push(text("not-valid")); }
      if (ticket.admission) { facts.push(text("already_admitted") + ": " + admissionText(ticket.admission)); }
      meta.textContent = facts.join(" · ");
      about.appendChild(name);
      about.appendChild(meta);
      item.appendChild(about);
      var actions = document.createElement("div");
      actions.className = "search-result-actions";
      if (ticket.status === "valid" && !ticket.admission) {
        actions.appendChild(button(text("admit"), "button", function () {
          searchResults.textContent = "";
          searchInput.value = "";
          handleCode(ticket.id, false);
        }));
      } else if (ticket.admission && mayUndo) {
        actions.appendChild(button(text("undo"), "button button-ghost", function () {
          searchResults.textContent = "";
          undoAdmission(ticket.id);
        }));
      }
      item.appendChild(actions);
      searchResults.appendChild(item);
    });
  }

  if (searchForm) {
    searchForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var query = searchInput.value.trim();
      if (!query) { return; }
      authorizedFetch(withList(searchUrl + "?q=" + encodeURIComponent(query)), { method: "GET" }, false)
        .then(function (answer) {
          if (answer.body && answer.body.data) { renderResults(answer.body.data); return; }
          searchResults.textContent = "";
          var error = answer.body && answer.body.error;
          searchStatus.textContent = errorText(error);
        }).catch(function () { searchStatus.textContent = text("error"); });
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    handleCode(codeInput.value, false);
  });
  if (listSelect) { listSelect.addEventListener("change", updateCounts); }
  nextButton.addEventListener("click", hide);
  undoButton.addEventListener("click", function (event) {
    event.stopPropagation();
    if (undoTicket) { undoAdmission(undoTicket); }
  });
  // A tap anywhere on the result returns at once.
  overlay.addEventListener("click", function (event) {
    if (event.target !== undoButton) { hide(); }
  });
  document.addEventListener("keydown", function (event) {
    if (!overlay.hidden && document.activeElement !== undoButton &&
        (event.key === "Escape" || event.key === "Enter")) {
      event.preventDefault();
      hide();
    }
  });

  // --- network: a page opened from the cache has no token; counts may be old --------------
  function catchUp() {
    if (!token && !deviceAuth) { refreshToken().catch(function () { /* asked again at the next scan */ }); }
    updateCounts();
  }
  if (shell) {
    shell.onNetworkChange(function (online) { if (online) { catchUp(); } });
  }
  if (!token && !deviceAuth && (!shell || shell.isOnline())) { catchUp(); }

  // --- camera: js/qr-camera.js (shared with the point of sale) ---------------------------
  cameraButton.addEventListener("click", function () {
    if (!window.AdmitOneCamera) {
      cameraStatus.textContent = text("no-camera");
      return;
    }
    cameraButton.disabled = true;
    window.AdmitOneCamera.start(video, {
      // None while a result is on screen.
      paused: function () { return busy || !overlay.hidden; },
      onCode: function (code) {
        root.setAttribute("data-last-decoded", String(Date.now()));
        handleCode(code, true);
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
})();

// Gate scanner: reads QR codes with the camera (BarcodeDetector where the browser has
// it, the vendored jsQR otherwise), or a typed/pasted code, and sends each one to the
// check-in API. The answer fills the screen: green admitted, red refused with the reason.
"use strict";

(function () {
  var root = document.getElementById("scanner");
  if (!root) { return; }

  var scanUrl = root.getAttribute("data-scan-url");
  var statsUrl = root.getAttribute("data-stats-url");
  var tokenUrl = root.getAttribute("data-token-url");
  var csrf = root.getAttribute("data-csrf");
  var token = root.getAttribute("data-token");
  var tokenMinutes = Number(root.getAttribute("data-token-minutes") || "15");
  var tokenAt = Date.now();

  var overlay = document.getElementById("scan-result");
  var overlayTitle = document.getElementById("scan-result-title");
  var overlayDetail = document.getElementById("scan-result-detail");
  var nextButton = document.getElementById("scan-next");
  var form = document.getElementById("manual-form");
  var codeInput = document.getElementById("manual-code");
  var gateInput = document.getElementById("gate-name");
  var video = document.getElementById("scanner-video");
  var cameraButton = document.getElementById("camera-start");
  var cameraStatus = document.getElementById("camera-status");

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

  function refreshToken() {
    return fetch(tokenUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, Accept: "application/json" }
    }).then(function (response) {
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
    if (Date.now() - tokenAt > (tokenMinutes - 1) * 60000) { return refreshToken(); }
    return Promise.resolve(token);
  }

  function postScan(code, retried) {
    return freshToken().then(function (bearer) {
      var body = { qr: code, nonce: nonce() };
      var gate = gateInput.value.trim();
      if (gate) { body.gate = gate; }
      return fetch(scanUrl, {
        method: "POST",
        credentials: "omit",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          Authorization: "Bearer " + bearer
        },
        body: JSON.stringify(body)
      });
    }).then(function (response) {
      if (response.status === 401 && !retried) {
        return refreshToken().then(function () { return postScan(code, true); });
      }
      return response.json().then(function (body) { return { status: response.status, body: body }; });
    });
  }

  function formatTime(iso) {
    try {
      return new Date(iso).toLocaleTimeString(document.documentElement.lang || undefined, { hour: "2-digit", minute: "2-digit" });
    } catch (e) { return iso; }
  }

  function show(admitted, title, detail) {
    overlay.classList.remove("admitted", "refused");
    overlay.classList.add(admitted ? "admitted" : "refused");
    overlay.setAttribute("data-result", admitted ? "admitted" : "refused");
    overlayTitle.textContent = title;
    overlayDetail.textContent = detail;
    overlay.hidden = false;
    nextButton.focus();
    if (navigator.vibrate) { navigator.vibrate(admitted ? 80 : [120, 80, 120]); }
  }

  function hide() {
    overlay.hidden = true;
    busy = false;
    codeInput.value = "";
    codeInput.focus();
  }

  function updateCounts() {
    freshToken().then(function (bearer) {
      return fetch(statsUrl, { headers: { Authorization: "Bearer " + bearer, Accept: "application/json" }, credentials: "omit" });
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
    postScan(code, false).then(function (answer) {
      var data = answer.body && answer.body.data;
      if (!data) {
        refusedHere += 1;
        show(false, text("refused"), text("error"));
      } else if (data.admitted) {
        var who = data.ticket ? data.ticket.holder_name + " — " + data.ticket.ticket_type.name : "";
        show(true, text("admitted"), who);
      } else {
        refusedHere += 1;
        var reason = text(data.result) || data.message;
        if (data.result === "already_admitted" && data.first_admission) {
          reason += " — " + text("already-at").replace("%(time)s", formatTime(data.first_admission.at)) +
            (data.first_admission.gate ? " (" + data.first_admission.gate + ")" : "");
        }
        show(false, text("refused"), reason);
      }
      root.querySelector('[data-count="refused"]').textContent = refusedHere;
      updateCounts();
    }).catch(function () {
      show(false, text("refused"), text("error"));
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    handleCode(codeInput.value, false);
  });
  nextButton.addEventListener("click", hide);
  document.addEventListener("keydown", function (event) {
    if (!overlay.hidden && (event.key === "Escape" || event.key === "Enter")) {
      event.preventDefault();
      hide();
    }
  });

  // --- camera ------------------------------------------------------------------------
  var canvas = document.createElement("canvas");
  var context = canvas.getContext("2d", { willReadFrequently: true });
  var detector = null;

  function decodeFrame() {
    if (video.readyState < 2) { return Promise.resolve(null); }
    if (detector) {
      return detector.detect(video).then(function (codes) {
        return codes.length ? codes[0].rawValue : null;
      }).catch(function () { return null; });
    }
    if (typeof window.jsQR !== "function") { return Promise.resolve(null); }
    var width = video.videoWidth;
    var height = video.videoHeight;
    if (!width || !height) { return Promise.resolve(null); }
    canvas.width = width;
    canvas.height = height;
    context.drawImage(video, 0, 0, width, height);
    var image = context.getImageData(0, 0, width, height);
    var found = window.jsQR(image.data, width, height, { inversionAttempts: "dontInvert" });
    return Promise.resolve(found ? found.data : null);
  }

  function loop() {
    if (video.hidden) { return; }
    var next = function () { window.setTimeout(loop, 150); };
    if (busy || !overlay.hidden) { next(); return; }
    decodeFrame().then(function (code) {
      if (code) { handleCode(code, true); }
      next();
    });
  }

  function chooseDecoder() {
    if (!("BarcodeDetector" in window)) { return Promise.resolve(null); }
    return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      return formats.indexOf("qr_code") >= 0 ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
    }).catch(function () { return null; });
  }

  cameraButton.addEventListener("click", function () {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      cameraStatus.textContent = text("no-camera");
      return;
    }
    cameraButton.disabled = true;
    chooseDecoder().then(function (found) {
      detector = found;
      return navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    }).then(function (stream) {
      video.srcObject = stream;
      video.hidden = false;
      cameraButton.hidden = true;
      cameraStatus.textContent = text("camera-on");
      root.setAttribute("data-decoder", detector ? "barcode-detector" : "jsqr");
      return video.play();
    }).then(loop).catch(function () {
      cameraButton.disabled = false;
      cameraStatus.textContent = text("no-camera");
    });
  });
})();

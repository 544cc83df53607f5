// The camera reading QR codes, shared by the gate scanner (js/scanner.js) and the point of
// sale (js/pos.js). Decoders (docs/offline-scanner.md, "The camera decoder"): the browser's
// BarcodeDetector where it has one for QR codes (Android, macOS, ChromeOS); elsewhere
// (desktop Linux and Windows Chromium, Firefox) the vendored jsQR 1.4.0 in a dedicated
// worker (js/qr-worker.js). jsQR rather than zxing-wasm or qr-scanner: no change to the CSP
// (zxing-wasm's WebAssembly needs 'wasm-unsafe-eval' and would fetch its .wasm from a CDN
// unless told otherwise; qr-scanner starts its worker from a blob: URL, which needs
// worker-src blob:), 57 KB compressed, served by the app like every script. A decode takes
// some 20 ms on a slow laptop: in the worker, never on the page's thread. The page only
// copies a frame, scaled down to at most MAX_SIDE pixels, a few times a second.
//
// window.AdmitOneCamera.start(video, {onCode(text), paused()}): asks for the camera, shows
// the video and decodes one frame at a time (FRAME_MS after the previous decode; none while
// paused() or the page is hidden). Resolves with {name} (the decoder: "barcode-detector"
// or "jsqr-worker"); rejects without a camera. The <video> names the decoder's files:
// data-decoder-url (jsQR.js) and data-decoder-worker-url (qr-worker.js).
"use strict";

(function () {
  var FRAME_MS = 200;
  var MAX_SIDE = 800;

  function nativeDetector(video) {
    if (!("BarcodeDetector" in window)) { return Promise.resolve(null); }
    return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      if (formats.indexOf("qr_code") < 0) { return null; }
      var native = new window.BarcodeDetector({ formats: ["qr_code"] });
      return {
        name: "barcode-detector",
        detect: function () {
          return native.detect(video).then(function (codes) {
            return codes.length ? codes[0].rawValue : null;
          }).catch(function () { return null; });
        }
      };
    }).catch(function () { return null; });
  }

  function workerDetector(video) {
    var canvas = document.createElement("canvas");
    var context = canvas.getContext("2d", { willReadFrequently: true });
    var worker = new Worker(video.getAttribute("data-decoder-worker-url"));
    var waiting = {};
    var sent = 0;
    var failed = false;
    function settleAll() {
      Object.keys(waiting).forEach(function (id) { waiting[id](null); delete waiting[id]; });
    }
    worker.onmessage = function (event) {
      var message = event.data || {};
      if (message.type === "error") { failed = true; settleAll(); }
      if (message.type === "decoded" && waiting[message.id]) {
        waiting[message.id](message.text || null);
        delete waiting[message.id];
      }
    };
    worker.onerror = function () { failed = true; settleAll(); };
    worker.postMessage({ type: "load", url: video.getAttribute("data-decoder-url") });
    return {
      name: "jsqr-worker",
      detect: function () {
        if (failed) { return Promise.resolve(null); }
        var scale = Math.min(1, MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
        var width = Math.round(video.videoWidth * scale);
        var height = Math.round(video.videoHeight * scale);
        if (!width || !height) { return Promise.resolve(null); }
        canvas.width = width;
        canvas.height = height;
        context.drawImage(video, 0, 0, width, height);
        var pixels = context.getImageData(0, 0, width, height).data.buffer;
        sent += 1;
        var id = sent;
        return new Promise(function (resolve) {
          waiting[id] = resolve;
          // Transferred, not copied: the page keeps no reference to the frame.
          worker.postMessage({ type: "decode", id: id, width: width, height: height, pixels: pixels }, [pixels]);
        });
      }
    };
  }

  function start(video, options) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return Promise.reject(new Error("no camera"));
    }
    var detector = null;
    // One frame at a time: the next is taken FRAME_MS after the previous one was decoded.
    function loop() {
      if (video.hidden) { return; }
      var next = function () { window.setTimeout(loop, FRAME_MS); };
      if (options.paused() || document.hidden || video.readyState < 2) { next(); return; }
      detector.detect().then(function (code) {
        if (code) { options.onCode(code); }
        next();
      }, next);
    }
    return nativeDetector(video).then(function (found) {
      detector = found || workerDetector(video);
      return navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    }).then(function (stream) {
      video.srcObject = stream;
      video.hidden = false;
      return video.play();
    }).then(function () {
      loop();
      return { name: detector.name };
    });
  }

  window.AdmitOneCamera = { start: start };
})();

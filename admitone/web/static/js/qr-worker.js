// The gate scanner's QR decoder, off the page's main thread: a dedicated worker that runs
// the vendored jsQR (vendor/jsqr/jsQR.js) on the pixels of one camera frame at a time.
// A same-origin worker script, so the CSP's default-src 'self' covers it (no blob: worker,
// no WebAssembly): docs/offline-scanner.md.
//
// Messages in:  {type: "load", url}  once, the versioned address of jsQR.js;
//               {type: "decode", id, width, height, pixels}  an RGBA ArrayBuffer (transferred).
// Messages out: {type: "loaded"} or {type: "error"}; {type: "decoded", id, text|null}.
"use strict";

self.onmessage = function (event) {
  var message = event.data || {};
  if (message.type === "load") {
    try {
      self.importScripts(message.url);
      self.postMessage({ type: typeof self.jsQR === "function" ? "loaded" : "error" });
    } catch (e) {
      self.postMessage({ type: "error" });
    }
    return;
  }
  if (message.type === "decode") {
    var text = null;
    if (typeof self.jsQR === "function") {
      try {
        var pixels = new Uint8ClampedArray(message.pixels);
        // Printed and on-screen tickets are dark on light: skip the inverted pass.
        var found = self.jsQR(pixels, message.width, message.height, { inversionAttempts: "dontInvert" });
        text = found ? found.data : null;
      } catch (e) { text = null; }
    }
    self.postMessage({ type: "decoded", id: message.id, text: text });
  }
};

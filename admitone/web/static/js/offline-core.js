// What the offline web apps share (docs/offline-scanner.md, "Shared pieces"): the gate
// scanner (js/scanner-offline.js) and the point of sale (js/pos.js) both decode signed
// base32 payloads, check Ed25519 signatures with WebCrypto against the event's public key,
// and keep their bundle and queue in IndexedDB. One copy of each, here, loaded before them.
//
// window.AdmitOneOfflineCore:
//   base32Bytes(text, length)      the bytes of `length` of canonical upper-case RFC 4648
//                                  base32 without padding (spare bits zero), or null;
//   hex(bytes), uuidOf(hex32)      formatting;
//   base64Bytes(text)              a base64 string's bytes;
//   importPublicKey(base64)        Promise of the Ed25519 CryptoKey (raw 32 bytes);
//   verifySignature(key, signature, body)  Promise of true or false, never a rejection;
//   openDatabase(name, version, upgrade)   {tx(stores, mode, strict), request, done}:
//                                  `strict` writes ask for durability "strict" (on disk
//                                  before the transaction completes);
//   request(req), done(tx)         an IDBRequest or IDBTransaction as a Promise.
"use strict";

(function () {
  var B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

  function hex(bytes) {
    var out = "";
    for (var i = 0; i < bytes.length; i += 1) { out += (bytes[i] + 256).toString(16).slice(1); }
    return out;
  }

  function uuidOf(hex32) {
    return hex32.slice(0, 8) + "-" + hex32.slice(8, 12) + "-" + hex32.slice(12, 16) + "-" +
      hex32.slice(16, 20) + "-" + hex32.slice(20);
  }

  // One spelling per payload, as the server's parsers (base64.b32decode, then re-encoded
  // and compared): any other character, length, or a non-zero spare bit is refused.
  function base32Bytes(text, length) {
    if (typeof text !== "string" || text.length !== Math.ceil(length * 8 / 5)) { return null; }
    var bytes = new Uint8Array(length);
    var buffer = 0;
    var bits = 0;
    var at = 0;
    for (var i = 0; i < text.length; i += 1) {
      var value = B32.indexOf(text.charAt(i));
      if (value < 0) { return null; }
      buffer = (buffer << 5) | value;
      bits += 5;
      if (bits >= 8) {
        bits -= 8;
        bytes[at] = (buffer >> bits) & 0xff;
        at += 1;
      }
      buffer &= (1 << bits) - 1;
    }
    if (at !== length || buffer !== 0) { return null; }
    return bytes;
  }

  function base64Bytes(value) {
    var raw = window.atob(value);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }

  function importPublicKey(base64) {
    // No WebCrypto outside a secure context (plain http to a relay on the LAN).
    if (!window.crypto || !window.crypto.subtle) { return Promise.reject(new Error("no WebCrypto")); }
    return window.crypto.subtle.importKey("raw", base64Bytes(base64), { name: "Ed25519" }, false, ["verify"]);
  }

  function verifySignature(key, signature, body) {
    if (!key) { return Promise.resolve(false); }
    return window.crypto.subtle.verify({ name: "Ed25519" }, key, signature, body)
      .catch(function () { return false; });
  }

  function request(req) {
    return new Promise(function (resolve, reject) {
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }

  function done(tx) {
    return new Promise(function (resolve, reject) {
      tx.oncomplete = function () { resolve(); };
      tx.onerror = function () { reject(tx.error); };
      tx.onabort = function () { reject(tx.error || new Error("aborted")); };
    });
  }

  function openDatabase(name, version, upgrade) {
    var dbPromise = new Promise(function (resolve, reject) {
      var open = window.indexedDB.open(name, version);
      open.onupgradeneeded = function (event) { upgrade(open.result, event.oldVersion); };
      open.onsuccess = function () { resolve(open.result); };
      open.onerror = function () { reject(open.error); };
      open.onblocked = function () { reject(new Error("blocked")); };
    });
    return {
      ready: dbPromise,
      tx: function (stores, mode, strict) {
        return dbPromise.then(function (db) {
          return db.transaction(stores, mode, strict ? { durability: "strict" } : undefined);
        });
      },
      request: request,
      done: done
    };
  }

  window.AdmitOneOfflineCore = {
    base32Bytes: base32Bytes,
    hex: hex,
    uuidOf: uuidOf,
    base64Bytes: base64Bytes,
    importPublicKey: importPublicKey,
    verifySignature: verifySignature,
    openDatabase: openDatabase,
    request: request,
    done: done
  };
})();

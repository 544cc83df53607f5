// The gate scanner's offline mode (issue 16, points 4 to 6; docs/offline-scanner.md, the
// contract in docs/gates.md): this browser is paired as a device of the event, keeps the
// event's bundle (its public key, lists, tickets, revocations, presences) and its own scans
// in IndexedDB, decides alone when the network is gone, and uploads what it decided when
// the network is back.
//
// Loaded after scanner-shell.js and js/offline-core.js (the base32, Ed25519 and IndexedDB
// pieces it shares with the point of sale) and before scanner.js (all `defer`). It plugs into the
// shell's seam, window.AdmitOneScanner:
//   decideOffline(code, scan)  decides a scan here (WebCrypto Ed25519, the bundle, this
//                              device's own scans), queues it durably, then answers
//                              {kind, result, title, detail, extra}; scan = {nonce, list_id,
//                              kind} (the nonce of an online try that failed is reused);
//   offline                    {ready(), deviceToken(), recordOnline(...), sync(),
//                              deviceRejected()} for scanner.js.
// The pure pieces (payload and typed-code parsing, the decision rules) are on
// window.AdmitOneOffline for the browser tests.
//
// What is where in IndexedDB (one database per event, "admitone-scanner-<event id>"):
//   meta       device (with its token: never in the service worker's cache), event,
//              public_key, lists, ticket_types, full, cursor (of the last complete sync),
//              resume_cursor (of a sync cut off half way), last_sync, bundle_time,
//              sync_started_at, clock_offset_ms, conflicts;
//   tickets    [id] -> {id, type, name, status}  (status "revoked": the revocations);
//   presences  [list:ticket] -> the server's state at the last sync;
//   scans      [nonce] -> every scan this device made (its own state, kept);
//   queue      [nonce] -> the scans still to upload; written with durability "strict" in
//              the same transaction as `scans`, BEFORE the result is shown; an item leaves
//              it only when the server acknowledged it (stored, already_stored,
//              conflict); a refused item stays, marked, and is shown as needing attention.
"use strict";

(function () {
  var DB_VERSION = 1;
  var BATCH = 500;              // the contract's largest batch
  var SYNC_SECONDS = 15;        // the timer between syncs while online
  var STATUS_SECONDS = 30;      // the status line's ages are redrawn this often
  var ACKNOWLEDGED = { stored: true, already_stored: true, conflict: true };
  var PAYLOAD_CHARS = 181;      // base32 of 113 bytes, no padding
  var BODY_BYTES = 49;          // version + ticket id + event id + ticket type id
  // The longest QR text the server takes (checkin/schemas.py MAX_QR_TEXT): a longer one is
  // no ticket, refused here, and uploaded cut to this length.
  var MAX_QR_TEXT = 8192;

  // --- pure pieces: the payload, the typed code, the rules --------------------------------

  // The shared pieces (js/offline-core.js, loaded before this file): base32, Ed25519, IndexedDB.
  var core = window.AdmitOneOfflineCore;
  var hex = core.hex;
  var uuidOf = core.uuidOf;

  // admitone/tickets/signing.py parse_payload: 181 characters of upper-case RFC 4648 base32
  // without padding, canonical (the one spare bit is zero), version byte 0x01. Returns
  // {ticketId, eventId, typeId, body, signature} (not yet trusted) or null.
  function parsePayload(text) {
    if (typeof text !== "string") { return null; }
    text = text.trim();
    if (text.length !== PAYLOAD_CHARS) { return null; }
    var bytes = core.base32Bytes(text, 113);
    if (!bytes || bytes[0] !== 0x01) { return null; }
    return {
      ticketId: uuidOf(hex(bytes.subarray(1, 17))),
      eventId: uuidOf(hex(bytes.subarray(17, 33))),
      typeId: uuidOf(hex(bytes.subarray(33, 49))),
      body: bytes.slice(0, BODY_BYTES),
      signature: bytes.slice(BODY_BYTES)
    };
  }

  // admitone/checkin/service.py parse_ticket_code: the ticket id typed from the text under
  // the QR ("Ticket 3f2a…", "Billet …"), any case, with or without separators.
  var CODE_LABEL = /^\s*(?:ticket|billet)\b\s*[:#]?/i;
  var CODE_SEPARATORS = /[\s\-_.:/]+/g;
  function parseTypedCode(text) {
    if (typeof text !== "string" || text.length > 100) { return null; }
    var cleaned = text.replace(CODE_LABEL, "").replace(CODE_SEPARATORS, "").toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(cleaned)) { return null; }
    return uuidOf(cleaned);
  }

  // A ticket's state on a list as this device knows it: the server's presence at the last
  // sync, then this device's accepted scans the server had not yet counted in it (those
  // not acknowledged before that sync began), in the order they were made.
  function combinePresence(serverPresence, ownScans, syncStartedAt) {
    var presence = null;
    if (serverPresence && (serverPresence.inside || serverPresence.entries > 0)) {
      presence = {
        inside: serverPresence.inside,
        entries: serverPresence.entries,
        last_entry_at: serverPresence.last_entry_at,
        gate: null
      };
    }
    ownScans.filter(function (scan) {
      return scan.accepted && !(scan.acked_at && syncStartedAt && scan.acked_at < syncStartedAt);
    }).sort(function (a, b) { return a.scanned_at < b.scanned_at ? -1 : 1; }).forEach(function (scan) {
      if (scan.kind === "entry") {
        presence = presence || { inside: false, entries: 0, last_entry_at: null, gate: null };
        presence.inside = true;
        presence.entries += 1;
        presence.last_entry_at = scan.scanned_at;
        presence.gate = scan.gate || null;
      } else if (presence) {
        presence.inside = false;
      }
    });
    return presence;
  }

  // checkin/service.py decide, on what the device holds. state: {ticket: {status, type} or
  // null, list: {all_ticket_types, ticket_type_ids, allow_reentry, valid_from,
  // valid_until} or null, presence: combinePresence(...)}; now: a Date (server clock).
  function decide(state, kind, now) {
    var ticket = state.ticket;
    var rules = state.list;
    var presence = state.presence;
    if (!ticket || !rules) { return "not_found"; }
    if (kind === "exit") { return presence && presence.inside ? "exited" : "not_inside"; }
    if (ticket.status === "revoked") { return "revoked"; }
    // ticket_type_ids null: every type (the bundle's lists; all_ticket_types also read).
    var allTypes = rules.all_ticket_types || rules.ticket_type_ids === null || rules.ticket_type_ids === undefined;
    if (!allTypes && rules.ticket_type_ids.indexOf(ticket.type) < 0) {
      return "wrong_list";
    }
    if ((rules.valid_from && now < new Date(rules.valid_from)) ||
        (rules.valid_until && now > new Date(rules.valid_until))) {
      return "outside_window";
    }
    if (!presence) { return "admitted"; }
    if (presence.inside || !rules.allow_reentry) { return "already_admitted"; }
    return "admitted";
  }

  var importPublicKey = core.importPublicKey;

  function verifySignature(key, claims) {
    return core.verifySignature(key, claims.signature, claims.body);
  }

  window.AdmitOneOffline = {
    parsePayload: parsePayload,
    parseTypedCode: parseTypedCode,
    combinePresence: combinePresence,
    decide: decide,
    // Whether `code` is a payload signed by the key (base64 of its raw 32 bytes).
    verify: function (publicKeyBase64, code) {
      var claims = parsePayload(code);
      if (!claims) { return Promise.resolve(false); }
      return importPublicKey(publicKeyBase64).then(function (key) { return verifySignature(key, claims); });
    }
  };

  var root = document.getElementById("offline");
  var scanner = document.getElementById("scanner");
  var shell = window.AdmitOneScanner;
  if (!root || !scanner || !shell || !window.indexedDB) { return; }

  var eventId = scanner.getAttribute("data-event-id");
  var devicesUrl = root.getAttribute("data-devices-url");
  var bundleUrl = root.getAttribute("data-bundle-url");
  var batchesUrl = root.getAttribute("data-batches-url");

  function text(name) { return root.getAttribute("data-text-" + name) || scanner.getAttribute("data-text-" + name) || ""; }
  function fill(template, name, value) { return template.replace("%(" + name + ")s", value); }

  // --- IndexedDB --------------------------------------------------------------------------

  var request = core.request;
  var done = core.done;
  var database = core.openDatabase("admitone-scanner-" + eventId, DB_VERSION, function (db) {
    db.createObjectStore("meta");
    db.createObjectStore("tickets", { keyPath: "id" });
    db.createObjectStore("presences", { keyPath: "key" });
    var scans = db.createObjectStore("scans", { keyPath: "nonce" });
    scans.createIndex("by_ticket", "tkey");
    db.createObjectStore("queue", { keyPath: "nonce" });
  });
  var tx = database.tx;

  function putMeta(values, strict) {
    return tx(["meta"], "readwrite", strict).then(function (t) {
      var store = t.objectStore("meta");
      Object.keys(values).forEach(function (key) { store.put(values[key], key); });
      return done(t);
    });
  }

  var META_KEYS = ["device", "event", "public_key", "lists", "ticket_types", "full", "cursor",
    "resume_cursor", "last_sync", "bundle_time", "sync_started_at", "clock_offset_ms",
    "conflicts", "device_rejected"];

  function loadMeta() {
    return tx(["meta"], "readonly").then(function (t) {
      var store = t.objectStore("meta");
      return Promise.all(META_KEYS.map(function (key) { return request(store.get(key)); }));
    }).then(function (values) {
      var meta = {};
      META_KEYS.forEach(function (key, index) { meta[key] = values[index]; });
      return meta;
    });
  }

  // --- state in memory --------------------------------------------------------------------

  var meta = {};
  var publicKey = null;          // the event's CryptoKey, imported once
  var typeNames = {};
  var queueCount = 0;
  var attention = [];            // queue items the server refused
  var syncing = null;
  var keyError = false;

  function paired() { return Boolean(meta.device && meta.device.token && !meta.device_rejected); }
  function ready() { return paired() && Boolean(publicKey) && Boolean(meta.lists); }

  function importKey() {
    if (!meta.public_key) { publicKey = null; return Promise.resolve(); }
    return importPublicKey(meta.public_key).then(function (key) { publicKey = key; keyError = false; }, function () {
      // A browser without WebCrypto Ed25519 (Chrome before 137): no offline decisions.
      publicKey = null;
      keyError = true;
    });
  }

  function applyMeta(values) {
    Object.keys(values).forEach(function (key) { meta[key] = values[key]; });
    typeNames = {};
    (meta.ticket_types || []).forEach(function (type) { typeNames[type.id] = type.name; });
  }

  function countQueue() {
    return tx(["queue"], "readonly").then(function (t) {
      return request(t.objectStore("queue").getAll());
    }).then(function (items) {
      queueCount = items.filter(function (item) { return !item.attention; }).length;
      attention = items.filter(function (item) { return item.attention; });
      render();
    });
  }

  // --- the decision -----------------------------------------------------------------------

  function listRules(listId) {
    var lists = meta.lists || [];
    for (var i = 0; i < lists.length; i += 1) {
      if (listId ? lists[i].id === listId : lists[i].is_default) { return lists[i]; }
    }
    return null;
  }

  function serverNow() { return new Date(Date.now() + (meta.clock_offset_ms || 0)); }

  // What the code names: {refusal} or {ticketId, typeId (signed, or null when typed)}.
  function identify(code) {
    var claims = parsePayload(code);
    if (!claims) {
      var typed = parseTypedCode(code);
      return Promise.resolve(typed ? { ticketId: typed, typeId: null } : { refusal: "invalid_signature" });
    }
    if (claims.eventId !== meta.event.id) {
      // Offline only this event's key is here, so a genuine ticket of another event and a
      // forged one naming another event cannot be told apart: both are refused as "for
      // another event" (online, a forged one says invalid_signature).
      return Promise.resolve({ refusal: "wrong_event" });
    }
    return verifySignature(publicKey, claims).then(function (ok) {
      return ok ? { ticketId: claims.ticketId, typeId: claims.typeId, signed: true } : { refusal: "invalid_signature" };
    });
  }

  function localState(ticketId, listId) {
    return tx(["tickets", "presences", "scans"], "readonly").then(function (t) {
      var key = listId + ":" + ticketId;
      return Promise.all([
        request(t.objectStore("tickets").get(ticketId)),
        request(t.objectStore("presences").get(key)),
        request(t.objectStore("scans").index("by_ticket").getAll(key))
      ]);
    });
  }

  function formatTime(iso) {
    try {
      return new Date(iso).toLocaleTimeString(document.documentElement.lang || undefined, { hour: "2-digit", minute: "2-digit" });
    } catch (e) { return iso; }
  }

  var ACCEPTED = { admitted: true, exited: true };

  // Decides a scan with no server, stores it (scans + queue, one strict transaction) and
  // only then answers what to show. scan: {nonce, list_id, kind, gate}.
  function decideOffline(code, scan) {
    var started = window.performance.now();
    if (!ready()) { return Promise.reject(new Error("not ready")); }
    code = (code || "").trim();
    var rules = listRules(scan.list_id);
    var sent = code.length > MAX_QR_TEXT ? code.slice(0, MAX_QR_TEXT) : code;
    var listId = rules ? rules.id : (scan.list_id || "");
    var kind = scan.kind === "exit" ? "exit" : "entry";
    var now = serverNow();
    var ticketRow = null;
    var presence = null;
    return identify(code).then(function (found) {
      if (found.refusal) { return { result: found.refusal, ticketId: null }; }
      return localState(found.ticketId, listId).then(function (rows) {
        ticketRow = rows[0] || null;
        var ticket = null;
        if (ticketRow) {
          ticket = { status: ticketRow.status, type: ticketRow.type };
        } else if (found.signed) {
          // A genuinely signed ticket the bundle does not hold: a bundle of revocations
          // only (a large event) never holds valid tickets, and a full bundle misses those
          // sold since its last sync. The signature proves it was issued; the type is the
          // signed one.
          ticket = { status: "valid", type: found.typeId };
        }
        presence = combinePresence(
          rows[1] || null, rows[2] || [], meta.sync_started_at || null
        );
        return { result: decide({ ticket: ticket, list: rules, presence: presence }, kind, now), ticketId: found.ticketId };
      });
    }).then(function (decision) {
      var record = {
        nonce: scan.nonce,
        qr: sent,
        list_id: listId,
        kind: kind,
        scanned_at: new Date().toISOString(),
        result: decision.result
      };
      var own = Object.assign({}, record, {
        ticket_id: decision.ticketId,
        tkey: decision.ticketId ? listId + ":" + decision.ticketId : "",
        accepted: Boolean(ACCEPTED[decision.result]),
        gate: scan.gate || (meta.device && meta.device.gate) || null,
        online: false,
        acked_at: null,
        status: "queued"
      });
      // The scan is on disk before anyone is let in.
      return tx(["scans", "queue"], "readwrite", true).then(function (t) {
        t.objectStore("scans").put(own);
        t.objectStore("queue").put(record);
        return done(t);
      }).then(function () {
        queueCount += 1;
        render();
        var answer = present(decision.result, ticketRow, presence);
        answer.offline = true;
        answer.elapsedMs = window.performance.now() - started;
        scanner.setAttribute("data-offline-decision-ms", answer.elapsedMs.toFixed(1));
        return answer;
      });
    });
  }

  // What the result screen shows, as scanner.js would show the server's answer.
  function present(result, ticketRow, presence) {
    var who = ticketRow ? ticketRow.name + (typeNames[ticketRow.type] ? " — " + typeNames[ticketRow.type] : "") : "";
    var note = text("decided-offline");
    if (result === "admitted" || result === "exited") {
      return { kind: "admitted", result: result, title: text(result === "admitted" ? "admitted" : "exited"), detail: who, extra: note };
    }
    if (result === "already_admitted") {
      var when = presence && presence.last_entry_at ? fill(text("already-at"), "time", formatTime(presence.last_entry_at)) : "";
      return { kind: "already", result: result, title: text("already_admitted"), detail: who, extra: [when, note].filter(Boolean).join(" ") };
    }
    return { kind: "refused", result: result, title: text(result) || text("refused"), detail: text("refused"), extra: note };
  }

  // An online scan this device made (with its token) and the server accepted: kept as
  // this device's own scan, so that an offline decision soon after knows of it.
  function recordOnline(scan) {
    if (!paired() || !scan.ticket_id || !ACCEPTED[scan.result]) { return Promise.resolve(); }
    var listId = scan.list_id || (listRules("") || {}).id || "";
    var now = new Date().toISOString();
    return tx(["scans"], "readwrite").then(function (t) {
      t.objectStore("scans").put({
        nonce: scan.nonce, qr: scan.qr, list_id: listId, kind: scan.kind, scanned_at: now,
        result: scan.result, ticket_id: scan.ticket_id, tkey: listId + ":" + scan.ticket_id,
        accepted: true, gate: scan.gate || null, online: true, acked_at: now, status: "stored"
      });
      return done(t);
    }).catch(function () { /* the next sync brings the server's presence anyway */ });
  }

  // --- the network: the device token, the bundle, the batches ---------------------------

  function deviceFetch(url, options) {
    options = options || {};
    options.credentials = "omit";
    options.cache = "no-store";
    options.headers = Object.assign({
      Accept: "application/json", Authorization: "Bearer " + meta.device.token
    }, options.headers || {});
    return fetch(url, options).then(function (response) {
      shell.sawNetwork(true);
      if (response.status === 401) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          var code = body && body.error && body.error.code;
          if (code === "DEVICE_TOKEN_INVALID") { deviceRejected(); }
          throw new Error("device token refused");
        });
      }
      return response.json().then(function (body) {
        if (!response.ok) {
          var error = new Error("HTTP " + response.status);
          error.status = response.status;
          error.body = body;
          throw error;
        }
        return body;
      });
    }, function (error) {
      shell.sawNetwork(false);
      throw error;
    });
  }

  function deviceRejected() {
    meta.device_rejected = true;
    putMeta({ device_rejected: true }).catch(function () { /* said on screen anyway */ });
    render();
  }

  function row(values, keys) {
    var out = {};
    keys.forEach(function (key, index) { out[key] = values[index]; });
    return out;
  }

  // One page of the bundle, applied in one transaction; its cursor is kept so that a sync
  // cut off half way resumes from there.
  function applyPage(data, startedAt, firstPage) {
    return tx(["tickets", "presences", "meta"], "readwrite").then(function (t) {
      var tickets = t.objectStore("tickets");
      var presences = t.objectStore("presences");
      var store = t.objectStore("meta");
      (data.tickets || []).forEach(function (values) {
        tickets.put(row(values, ["id", "type", "name", "status"]));
      });
      (data.presences || []).forEach(function (values) {
        var presence = row(values, ["list_id", "ticket_id", "inside", "entries", "last_entry_at"]);
        presence.key = presence.list_id + ":" + presence.ticket_id;
        presences.put(presence);
      });
      // Entries a supervisor undid since the last sync, which left no presence.
      (data.undone || []).forEach(function (pair) { presences.delete(pair[0] + ":" + pair[1]); });
      var values = {
        event: data.event, public_key: data.public_key, lists: data.lists,
        ticket_types: data.ticket_types, full: data.full
      };
      if (data.device) { values.device = Object.assign({}, meta.device, data.device, { token: meta.device.token }); }
      var serverTime = Date.parse(data.server_time);
      if (!isNaN(serverTime)) { values.clock_offset_ms = Math.round(serverTime - Date.now()); }
      if (data.complete) {
        values.cursor = data.cursor;
        values.resume_cursor = null;
        values.last_sync = new Date().toISOString();
        values.sync_started_at = startedAt;
        // The bundle is as old as the server's state when this sync began.
        values.bundle_time = firstPage.server_time;
        // The conflicts involving this gate, as the server knows them now.
        if (data.conflicts) { values.conflicts = data.conflicts; }
      } else {
        values.resume_cursor = { cursor: data.cursor, started_at: startedAt, first_time: firstPage.server_time };
      }
      Object.keys(values).forEach(function (key) { store.put(values[key], key); });
      return done(t).then(function () {
        var keyChanged = values.public_key !== meta.public_key;
        applyMeta(values);
        return keyChanged ? importKey() : null;
      });
    });
  }

  function download() {
    var resume = meta.resume_cursor;
    var startedAt = resume ? resume.started_at : new Date().toISOString();
    var firstPage = resume ? { server_time: resume.first_time } : null;
    var pages = 0;
    function page(cursor) {
      var url = bundleUrl + (cursor ? "?cursor=" + encodeURIComponent(cursor) : "");
      return deviceFetch(url).then(function (body) {
        var data = body.data;
        firstPage = firstPage || data;
        pages += 1;
        return applyPage(data, startedAt, firstPage).then(function () {
          render();
          if (!data.complete && pages < 1000) { return page(data.cursor); }
          return null;
        });
      });
    }
    return page(resume ? resume.cursor : meta.cursor);
  }

  function upload(includeAttention) {
    return tx(["queue"], "readonly").then(function (t) {
      return request(t.objectStore("queue").getAll());
    }).then(function (items) {
      var pending = items.filter(function (item) { return includeAttention || !item.attention; })
        .sort(function (a, b) { return a.scanned_at < b.scanned_at ? -1 : a.scanned_at > b.scanned_at ? 1 : 0; });
      function send(batch) {
        return deviceFetch(batchesUrl, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({
            device_time: new Date().toISOString(),
            scans: batch.map(function (item) {
              return { nonce: item.nonce, qr: item.qr, list_id: item.list_id, kind: item.kind,
                scanned_at: item.scanned_at, result: item.result };
            })
          })
        }).then(function (body) { return acknowledge(batch, body.data); }, function (error) {
          // No answer (the network) or the token refused: stop here, all stays queued.
          if (!error.status || error.status === 401) { throw error; }
          // A batch refused whole (one item the schema or the database refuses) must not
          // hold the others back for ever: its items go one by one. One refused alone
          // with a 4xx is kept and shown, as an item the server refused; one that meets a
          // 5xx (or 429) stays queued for the next sync, and the others go on.
          if (batch.length > 1) {
            return batch.reduce(function (chain, item) {
              return chain.then(function () { return send([item]); });
            }, Promise.resolve());
          }
          if (error.status >= 500 || error.status === 429) { return null; }
          var detail = (error.body && error.body.error) || { code: "HTTP_" + error.status, message: "" };
          return acknowledge(batch, { results: [{ nonce: batch[0].nonce, status: "refused",
            error: { code: detail.code, message: detail.message } }] });
        });
      }
      function next() {
        if (!pending.length) { return null; }
        return send(pending.splice(0, BATCH)).then(next);
      }
      return next();
    });
  }

  // Only what the server acknowledged leaves the queue; a refused item stays, marked.
  function acknowledge(batch, data) {
    var byNonce = {};
    batch.forEach(function (item) { byNonce[item.nonce] = item; });
    var now = new Date().toISOString();
    return tx(["queue", "scans", "meta"], "readwrite", true).then(function (t) {
      var queue = t.objectStore("queue");
      var scans = t.objectStore("scans");
      (data.results || []).forEach(function (result) {
        var item = byNonce[result.nonce];
        if (!item) { return; }
        if (ACKNOWLEDGED[result.status]) {
          queue.delete(item.nonce);
          var read = scans.get(item.nonce);
          read.onsuccess = function () {
            var own = read.result;
            if (!own) { return; }
            own.acked_at = now;
            own.status = result.status;
            own.checkin_id = result.checkin_id || null;
            own.conflict = result.conflict || null;
            scans.put(own);
          };
        } else {
          item.attention = result.error || { code: result.status, message: "" };
          queue.put(item);
        }
      });
      if (data.conflicts) { t.objectStore("meta").put(data.conflicts, "conflicts"); }
      if (typeof data.clock_offset_ms === "number") { t.objectStore("meta").put(data.clock_offset_ms, "clock_offset_ms"); }
      return done(t);
    }).then(function () {
      if (data.conflicts) { meta.conflicts = data.conflicts; }
      if (typeof data.clock_offset_ms === "number") { meta.clock_offset_ms = data.clock_offset_ms; }
      return countQueue();
    });
  }

  // Upload the queue, then bring the bundle up to date. One at a time.
  function sync(options) {
    if (!paired()) { return Promise.resolve(false); }
    if (syncing) { return syncing; }
    root.setAttribute("data-syncing", "true");
    syncing = upload(options && options.retryAttention)
      .then(download)
      .then(function () { return true; }, function () { return false; })
      .then(function (ok) {
        syncing = null;
        root.setAttribute("data-syncing", "false");
        root.setAttribute("data-last-sync-ok", ok ? "true" : "false");
        return countQueue().then(function () { return ok; });
      });
    return syncing;
  }

  // --- pairing ----------------------------------------------------------------------------

  var pairForm = document.getElementById("offline-pair");
  var pairError = document.getElementById("offline-pair-error");

  // Upstream's page pairs with its login's token (scanner.js gives staffFetch). A site
  // relay's page has no login (its form names the login addresses, which the relay
  // forwards upstream): it logs in with the e-mail and password typed here (and a second
  // factor's code when the account asks for one), pairs with that login's access token,
  // and ends the login at once. The login's tokens live in these few calls only; the
  // relay does not even pass the refresh token on. The device's token is what stays.
  var loginUrl = pairForm ? pairForm.getAttribute("data-login-url") : null;
  var secondFactor = null;       // {token, methods}: the login asked for a second factor

  function postJson(url, body, bearer) {
    var headers = { Accept: "application/json" };
    if (body) { headers["Content-Type"] = "application/json"; }
    if (bearer) { headers.Authorization = "Bearer " + bearer; }
    return fetch(url, {
      method: "POST", credentials: "omit", cache: "no-store", headers: headers,
      body: body ? JSON.stringify(body) : undefined
    }).then(function (response) {
      shell.sawNetwork(true);
      return response.json().catch(function () { return null; }).then(function (answer) {
        return { status: response.status, body: answer };
      });
    }, function (error) {
      shell.sawNetwork(false);
      throw error;
    });
  }

  function refused(answer) {
    var error = new Error("refused");
    error.body = answer.body;
    return error;
  }

  function askForCode(asked) {
    secondFactor = asked;
    var field = document.getElementById("offline-login-code-field");
    var input = document.getElementById("offline-login-code");
    if (field) { field.hidden = !asked; }
    if (input) {
      input.value = "";
      if (asked) { input.focus(); }
    }
  }

  // Resolves with the login's access token, or rejects (a refusal, or a code to type).
  function logIn() {
    var password = document.getElementById("offline-login-password");
    var call;
    if (secondFactor) {
      var code = document.getElementById("offline-login-code").value.replace(/\s+/g, "");
      // A code from the app is 6 to 12 characters, a recovery code longer.
      var factor = code.length > 12 ? { recovery_code: code } : { code: code };
      call = postJson(pairForm.getAttribute("data-second-factor-url"),
        Object.assign({ second_factor_token: secondFactor.token }, factor));
    } else {
      call = postJson(loginUrl, {
        email: document.getElementById("offline-login-email").value.trim(),
        password: password.value
      });
    }
    return call.then(function (answer) {
      var data = answer.body && answer.body.data;
      var code = answer.body && answer.body.error && answer.body.error.code;
      if (answer.status === 200 && data) { password.value = ""; }
      if (answer.status === 200 && data && data.second_factor_required) {
        // Only what can be typed works here (a passkey is bound to upstream's site).
        var typed = (data.methods || []).filter(function (m) { return m !== "passkey"; });
        if (!typed.length) {
          askForCode(null);
          throw refused({ body: { error: { code: "PASSKEY_ONLY" } } });
        }
        askForCode({ token: data.second_factor_token, methods: data.methods });
        var asking = new Error("second factor");
        asking.secondFactor = true;
        throw asking;
      }
      // The second step's token ran out: start again from the password.
      if (code === "SECOND_FACTOR_TOKEN_INVALID") { askForCode(null); }
      if (!(data && data.tokens && data.tokens.access_token)) { throw refused(answer); }
      askForCode(null);
      return data.tokens.access_token;
    });
  }

  function pairThroughLogin(name, gate) {
    return logIn().then(function (access) {
      return postJson(devicesUrl, { name: name, gate: gate }, access).then(function (answer) {
        // The login ends whatever the pairing answered (best effort: it expires anyway).
        function ended() { return answer; }
        return postJson(pairForm.getAttribute("data-logout-url"), null, access).then(ended, ended);
      });
    });
  }

  function pair(name, gate) {
    var paired;
    if (loginUrl) {
      paired = pairThroughLogin(name, gate);
    } else if (shell.staffFetch) {
      paired = shell.staffFetch(devicesUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: name, gate: gate })
      });
    } else {
      return Promise.reject(new Error("no staff token"));
    }
    return paired.then(function (answer) {
      var data = answer.body && answer.body.data;
      if (!data || !data.token) {
        var error = new Error("pairing refused");
        error.body = answer.body;
        throw error;
      }
      var device = { id: data.id, name: data.name, gate: data.gate, token: data.token, created_at: data.created_at };
      // A new pairing starts a new bundle; this device's own scans and queue stay.
      return putMeta({ device: device, device_rejected: false, cursor: null, resume_cursor: null }, true)
        .then(function () { applyMeta({ device: device, device_rejected: false, cursor: null, resume_cursor: null }); });
    });
  }

  if (pairForm) {
    pairForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var name = document.getElementById("offline-device-name").value.trim();
      var gate = document.getElementById("offline-device-gate").value.trim();
      pairError.textContent = "";
      var button = pairForm.querySelector("button[type=submit]");
      button.disabled = true;
      pair(name, gate).then(function () {
        render();
        return sync();
      }).catch(function (error) {
        if (error && error.secondFactor) { return; }  // the code field is open: type, pair again
        var refusal = error && error.body && error.body.error;
        var code = refusal && refusal.code;
        pairError.textContent = (code === "PASSKEY_ONLY" && text("passkey-only")) ||
          (code && text("code-" + code)) || (refusal && refusal.message) || text("pair-failed");
      }).then(function () { button.disabled = false; });
    });
  }

  var syncButton = document.getElementById("offline-sync");
  if (syncButton) {
    syncButton.addEventListener("click", function () { sync({ retryAttention: true }); });
  }

  // Forget this device (a shared phone, a device handed back): its token, the tickets and
  // its scans leave this browser. Refused while scans wait to upload: they would be lost.
  var forgetButton = document.getElementById("offline-forget");
  var forgetError = document.getElementById("offline-forget-error");
  if (forgetButton) {
    forgetButton.addEventListener("click", function () {
      if (queueCount > 0) {
        forgetError.textContent = fill(text("forget-waiting"), "count", String(queueCount));
        return;
      }
      forgetError.textContent = "";
      var stores = ["meta", "tickets", "presences", "scans", "queue"];
      tx(stores, "readwrite", true).then(function (t) {
        stores.forEach(function (name) { t.objectStore(name).clear(); });
        return done(t);
      }).then(function () {
        meta = {};
        publicKey = null;
        typeNames = {};
        attention = [];
        render();
      });
    });
  }

  // --- what the page shows ----------------------------------------------------------------

  var statusQueue = document.getElementById("offline-status-queue");
  var statusSync = document.getElementById("offline-status-sync");
  var statusAge = document.getElementById("offline-status-age");
  var statusLine = document.getElementById("offline-status");

  function age(iso) {
    var then = Date.parse(iso);
    if (isNaN(then)) { return ""; }
    // The bundle's time is the server's clock: compare with the server's now.
    var minutes = Math.max(0, Math.floor((Date.now() + (meta.clock_offset_ms || 0) - then) / 60000));
    if (minutes < 1) { return text("age-now"); }
    if (minutes < 120) { return fill(text("age-minutes"), "count", String(minutes)); }
    return fill(text("age-hours"), "count", String(Math.floor(minutes / 60)));
  }

  // A conflict (docs/gates.md, ConflictOut): its reason, the ticket's holder, the list,
  // this scan's time and gate, and for a duplicate the entry it repeats.
  function conflictText(conflict) {
    var scan = conflict.scan || {};
    var other = conflict.other;
    var parts = [text(conflict.reason) || conflict.reason, conflict.holder_name, conflict.list_name];
    if (scan.scanned_at) {
      parts.push(formatTime(scan.scanned_at) + (scan.gate ? " " + fill(text("at-gate"), "gate", scan.gate) : ""));
    }
    if (other) {
      var where = [other.gate, other.device_name ? "(" + other.device_name + ")" : ""].filter(Boolean).join(" ");
      parts.push(fill(text("conflict-other"), "gate", where || "?") + (other.scanned_at ? " " + formatTime(other.scanned_at) : ""));
    }
    return parts.filter(Boolean).join(" · ");
  }

  function fillList(id, items, describe) {
    var list = document.getElementById(id);
    if (!list) { return; }
    list.textContent = "";
    items.forEach(function (item) {
      var li = document.createElement("li");
      li.textContent = describe(item);
      list.appendChild(li);
    });
    var section = document.getElementById(id + "-section");
    if (section) { section.hidden = items.length === 0; }
  }

  function render() {
    var isPaired = paired();
    root.setAttribute("data-paired", isPaired ? "true" : "false");
    root.setAttribute("data-ready", ready() ? "true" : "false");
    root.setAttribute("data-queue", String(queueCount));
    root.setAttribute("data-attention", String(attention.length));
    root.setAttribute("data-conflicts", String((meta.conflicts || []).length));
    if (pairForm) { pairForm.hidden = isPaired; }
    var pairedBlock = document.getElementById("offline-paired");
    if (pairedBlock) { pairedBlock.hidden = !meta.device; }
    var rejected = document.getElementById("offline-rejected");
    if (rejected) { rejected.hidden = !meta.device_rejected; }
    // The shell's line under "Offline": with a bundle, scans go on here.
    var detail = document.getElementById("network-status-detail");
    if (detail) {
      if (!detail.hasAttribute("data-text-default")) { detail.setAttribute("data-text-default", detail.textContent); }
      detail.textContent = ready() ? text("offline-ready") : detail.getAttribute("data-text-default");
    }
    var unsupported = document.getElementById("offline-unsupported");
    if (unsupported) { unsupported.hidden = !keyError; }
    if (meta.device) {
      document.getElementById("offline-device").textContent =
        fill(fill(text("paired-as"), "name", meta.device.name || ""), "gate", meta.device.gate || "—");
    }
    var bundle = document.getElementById("offline-bundle");
    if (bundle) {
      bundle.textContent = !meta.lists ? text("no-bundle")
        : (meta.resume_cursor ? text("bundle-partial") : (meta.full ? text("bundle-full") : text("bundle-revoked-only")));
    }
    if (statusLine) {
      statusLine.hidden = false;
      statusQueue.textContent = isPaired || queueCount ? fill(text("status-queue"), "count", String(queueCount)) : text("status-unpaired");
      statusSync.textContent = meta.last_sync ? fill(text("status-sync"), "time", formatTime(meta.last_sync)) : (isPaired ? text("status-never") : "");
      statusAge.textContent = meta.bundle_time ? fill(text("status-age"), "age", age(meta.bundle_time)) : "";
      statusLine.setAttribute("data-last-sync", meta.last_sync || "");
      statusLine.setAttribute("data-bundle-time", meta.bundle_time || "");
    }
    fillList("offline-attention", attention, function (item) {
      var error = item.attention || {};
      return formatTime(item.scanned_at) + " · " + (text(item.result) || item.result) + " · " +
        (error.code || "") + (error.message ? ": " + error.message : "");
    });
    fillList("offline-conflict-list", meta.conflicts || [], conflictText);
  }

  // --- start ------------------------------------------------------------------------------

  var timer = null;
  function tick() {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      (shell.isOnline() ? sync() : Promise.resolve()).then(tick, tick);
    }, SYNC_SECONDS * 1000);
  }

  var started = loadMeta().then(function (values) {
    applyMeta(values);
    return importKey();
  }).then(countQueue).then(function () {
    render();
    shell.onNetworkChange(function (online) { if (online) { sync(); } });
    window.setInterval(render, STATUS_SECONDS * 1000);
    tick();
    if (shell.isOnline()) { return sync(); }
    return null;
  }).catch(function () {
    root.setAttribute("data-ready", "false");
  }).then(function () { root.setAttribute("data-started", "true"); });

  shell.decideOffline = decideOffline;
  shell.offline = {
    ready: ready,
    started: started,
    deviceToken: function () { return paired() ? meta.device.token : null; },
    recordOnline: recordOnline,
    deviceRejected: deviceRejected,
    sync: sync
  };
})();

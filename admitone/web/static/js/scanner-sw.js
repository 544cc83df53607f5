// The offline apps' service worker: keeps an app's shell so that its pages open again after
// a reload with no network (docs/offline-scanner.md). One source for the gate scanner
// (/scanner-sw.js, scope /scan) and the point of sale (/pos-sw.js, scope /pos).
//
// It is served by admitone/web/pages/scanner_shell.py (worker_script), which writes
// `var SHELL = {name, scope, version, assets, pages, page_pattern}` above this file:
// `version` changes whenever one of the shell's static files (or this file) changes, so a
// deploy installs a new worker, which fills a new cache and deletes that app's old ones
// (`admitone-<name>-*`: never another app's) when it takes over.
//
// Rules:
// - the shell's static files (versioned /static/...?v= addresses): precached, served from
//   the cache first;
// - the app's pages (its scope and <scope>/<uuid>: /scan and /scan/<event id>, /pos and
//   /pos/<stand id>; navigations only): from the network
//   first, a copy kept for offline use; offline, the last copy. The copy never holds the
//   page's API access token (data-token is emptied before it is stored): the page asks for a
//   fresh one when it is online again;
// - everything else, above all /api/... and /scan/token: not touched (network only, never
//   cached).
/* global SHELL */
"use strict";

var PREFIX = "admitone-" + SHELL.name + "-";
var CACHE = PREFIX + SHELL.version;
var PAGE_PATH = new RegExp(SHELL.page_pattern);

function isScannerPage(url) {
  return url.origin === self.location.origin && PAGE_PATH.test(url.pathname);
}

// The copy of a page that goes into the cache: without its access token.
function withoutToken(response) {
  return response.text().then(function (html) {
    var headers = new Headers(response.headers);
    headers.delete("content-length");
    headers.delete("content-encoding");
    return new Response(html.replace(/(\sdata-token=")[^"]*(")/, "$1$2"), {
      status: response.status,
      statusText: response.statusText,
      headers: headers
    });
  });
}

function keepable(response) {
  var type = response.headers.get("content-type") || "";
  return response.ok && !response.redirected && response.type === "basic" && type.indexOf("text/html") === 0;
}

function storePage(cache, url) {
  return fetch(new Request(url, { credentials: "same-origin", cache: "no-store" })).then(function (response) {
    // A page the server no longer gives (logged out, access gone) is not carried over.
    if (!keepable(response)) { return null; }
    return withoutToken(response).then(function (copy) { return cache.put(url, copy); });
  }, function () {
    // No network during the update: carry the older copy over rather than lose the page
    // (it names the older shell files; fromCacheThenNetwork serves the current ones).
    return caches.match(url).then(function (old) { return old ? cache.put(url, old) : null; });
  });
}

// The pages to keep in the new cache: the scope's page, those an older worker kept, and
// the app's pages open right now (the page that registered this worker was loaded before it).
function pagesToKeep() {
  var urls = SHELL.pages.slice();
  return caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) { return name.indexOf(PREFIX) === 0; }).map(function (name) {
      return caches.open(name).then(function (old) { return old.keys(); }).then(function (requests) {
        requests.forEach(function (request) {
          var url = new URL(request.url);
          if (isScannerPage(url)) { urls.push(url.pathname); }
        });
      });
    }));
  }).then(function () {
    return self.clients.matchAll({ type: "window", includeUncontrolled: true });
  }).then(function (windows) {
    windows.forEach(function (client) {
      var url = new URL(client.url);
      if (isScannerPage(url)) { urls.push(url.pathname); }
    });
    return urls.filter(function (url, index) { return urls.indexOf(url) === index; });
  });
}

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    // The static files must all be there, or this version is not installed.
    return cache.addAll(SHELL.assets).then(pagesToKeep).then(function (pages) {
      // A page that cannot be kept is left out, not fatal.
      return Promise.all(pages.map(function (url) {
        return storePage(cache, url).catch(function () { return null; });
      }));
    });
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf(PREFIX) === 0 && name !== CACHE;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

function fromNetworkThenCache(request) {
  var url = new URL(request.url);
  return fetch(request).then(function (response) {
    if (keepable(response)) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) {
        return withoutToken(copy).then(function (stripped) { return cache.put(url.pathname, stripped); });
      }).catch(function () { /* a full disk: the page still works online */ });
    }
    return response;
  }).catch(function () {
    return caches.open(CACHE).then(function (cache) {
      return cache.match(url.pathname).then(function (page) {
        // Offline on a page never opened here: the app's list (of events, of stands), if it was.
        return page || cache.match(SHELL.scope).then(function (list) { return list || Response.error(); });
      });
    });
  });
}

function fromCacheThenNetwork(request) {
  return caches.open(CACHE).then(function (cache) {
    return cache.match(request).then(function (hit) {
      if (hit) { return hit; }
      return fetch(request).catch(function () {
        // Offline, asked for another version of a shell file (a page kept before the
        // last deploy): the current version is better than nothing.
        return cache.match(request, { ignoreSearch: true }).then(function (any) { return any || Response.error(); });
      });
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.mode === "navigate" && isScannerPage(url)) {
    event.respondWith(fromNetworkThenCache(request));
  } else if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(fromCacheThenNetwork(request));
  }
  // Anything else (the API, the token, other pages) goes to the network untouched.
});

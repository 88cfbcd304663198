// The crew's page without signal: its shell (the page, its style, its
// scripts and the map library) is kept by this service worker and served
// from the phone when the network is gone, so that a reload in a dead spot
// still shows the route (kept in localStorage) and takes taps (queue.js).
// The network comes first whenever there is one; the API is never cached
// here: the route and the taps have their own keeping.

const CACHE = "kvarter-crew-shell-1";
const SHELL = [
  "/crew", "/static/base.css", "/static/icon.svg", "/static/js/api.js", "/static/js/crew.js",
  "/static/js/queue.js", "/static/js/map.js", "/vendor/leaflet/leaflet.css",
  "/vendor/leaflet/leaflet-src.esm.js",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL))
    .then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin
      || !SHELL.includes(url.pathname)) {
    return; // the browser fetches it as if there were no service worker
  }
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const answer = await fetch(event.request);
      // A login page in place of the crew's page is not its shell.
      if (answer.ok && !answer.redirected) await cache.put(url.pathname, answer.clone());
      return answer;
    } catch (err) {
      const kept = await cache.match(url.pathname);
      if (kept) return kept;
      throw err;
    }
  })());
});

// The crew's phone: today's route for the account's truck, stop by stop,
// with "emptied" and "can't reach" recorded at once on the phone and sent to
// the gateway when there is signal (queue.js), exactly once.
//
// The route's API: GET /api/v1/routes/mine ->
//   {truck, stops: [{stop_id, bin_id, order, expected_at, lat, lon, street, required, geo}]}
// and POST /api/v1/stops/{stop_id}/emptied | /unreachable with {client_id, reason?}.

import { API, ApiError, api, at, bar, el, live, whoAmI } from "/static/js/api.js";
import { TapQueue } from "/static/js/queue.js";

const REASONS = [
  ["blocked", "blocked by a parked car"],
  ["no-access", "no access (gate, works)"],
  ["missing", "bin not there"],
  ["damaged", "bin damaged"],
  ["other", "other"],
];
const RETRY_MS = 20000;

let me = null;
let queue = null;
let route = null;
let routeMap = null;

function routeKey() {
  return `kvarter.crew.${me.username}.route`;
}

/** One tap to the gateway: its status and the problem's detail. */
async function send(tap) {
  const r = await fetch(`${API}/stops/${encodeURIComponent(tap.stop_id)}/${tap.action}`, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json",
      "X-CSRF-Token": me.csrf_token || "" },
    body: JSON.stringify(tap.reason ? { client_id: tap.client_id, reason: tap.reason }
      : { client_id: tap.client_id }),
  });
  let detail = null;
  if (!r.ok) {
    try { detail = (await r.json()).detail; } catch (_) { /* the status tells */ }
  }
  return { status: r.status, detail };
}

function syncLine() {
  const box = document.querySelector("#sync");
  const waiting = queue.waiting().length;
  const online = navigator.onLine;
  box.classList.toggle("offline", !online || waiting > 0);
  box.dataset.waiting = waiting;
  if (waiting === 0) {
    box.textContent = online ? "Every tap is recorded at the gateway."
      : "No signal. Every tap so far is recorded at the gateway.";
  } else {
    box.textContent = `${waiting} tap${waiting > 1 ? "s" : ""} kept on this phone` +
      (online ? ", sending…" : " until there is signal.");
  }
}

async function flush() {
  syncLine();
  await queue.sync(send);
  syncLine();
  renderStops();
}

function tap(stop, action, reason = null) {
  queue.add(stop.stop_id, action, reason);
  renderStops();
  flush();
}

function stateLine(rec) {
  if (!rec) return null;
  const what = rec.action === "emptied" ? "Emptied"
    : `Can't reach${rec.reason ? ` (${rec.reason})` : ""}`;
  const where = { waiting: "kept on the phone", recorded: "recorded",
    refused: `refused: ${rec.detail}` }[rec.state];
  return el("div", { class: `state-line ${rec.state === "refused" ? "error" : "muted"}` },
    `${what} at ${at(rec.at)} · ${where}`);
}

function stopItem(stop, rec) {
  const reason = el("select", { "aria-label": "Why the bin cannot be reached" },
    ...REASONS.map(([v, text]) => el("option", { value: v }, text)));
  const done = rec && rec.state !== "refused";
  const cls = [stop.required ? "required" : "optional",
    done ? (rec.action === "emptied" ? "done" : "unreachable") : null].filter(Boolean).join(" ");
  return el("li", { class: cls, "data-stop": stop.stop_id },
    el("div", { class: "head" },
      el("span", { class: "order" }, stop.order),
      el("span", {}, el("b", {}, stop.street || stop.bin_id), el("br"),
        el("span", { class: "muted small" }, `${stop.bin_id} · ${stop.required ? "required"
          : "if there is time"}`)),
      el("span", {}, at(stop.expected_at))),
    el("div", { class: "small" },
      el("a", { href: stop.geo || `geo:${stop.lat},${stop.lon}`, class: "geo" },
        "Open in maps")),
    stateLine(rec),
    done ? null : el("div", { class: "actions" },
      el("button", { type: "button", class: "emptied", onclick: () => tap(stop, "emptied") },
        "Emptied"),
      reason,
      el("button", { type: "button", class: "quiet unreachable",
        onclick: () => tap(stop, "unreachable", reason.value) }, "Can't reach")));
}

function renderStops() {
  const list = document.querySelector("#stops");
  if (!route) return;
  const recs = queue.stops();
  const stops = [...route.stops].sort((a, b) => a.order - b.order);
  list.replaceChildren(...stops.map((s) => stopItem(s, recs[s.stop_id])));
  const left = stops.filter((s) => !recs[s.stop_id] || recs[s.stop_id].state === "refused");
  document.querySelector("#subtitle").textContent =
    `${route.truck} · ${stops.length} stops, ${left.length} to go`;
}

async function drawMap() {
  if (!route || !route.stops.length) return;
  document.querySelector("#map-section").hidden = false;
  // Leaflet only when there is a route to show: the list comes first.
  const { L, drawStreets, makeMap } = await import("/static/js/map.js");
  if (!routeMap) {
    routeMap = makeMap("route-map");
    try { await drawStreets(routeMap); } catch (_) { /* the stops still show */ }
  }
  const stops = [...route.stops].sort((a, b) => a.order - b.order);
  const points = stops.map((s) => [s.lat, s.lon]);
  L.polyline(points, { color: "#0b5cab", weight: 3, opacity: 0.7 }).addTo(routeMap);
  for (const s of stops) {
    L.circleMarker([s.lat, s.lon], { radius: 7, color: "#0b5cab", fillColor: "#fff",
      fillOpacity: 1, weight: 2, className: "stop" })
      .bindTooltip(String(s.order), { permanent: true, direction: "center" })
      .addTo(routeMap);
  }
  routeMap.fitBounds(L.latLngBounds(points).pad(0.15));
}

async function loadRoute() {
  const error = document.querySelector("#route-error");
  try {
    route = await api("routes/mine");
    localStorage.setItem(routeKey(), JSON.stringify(route));
    error.hidden = true;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) throw e;
    const kept = JSON.parse(localStorage.getItem(routeKey()) || "null");
    if (kept && !(e instanceof ApiError)) {
      route = kept; // no signal: the route as last loaded
    } else {
      route = null;
      error.textContent = e instanceof ApiError ? `No route to show: ${e.message}`
        : "No route to show: the gateway cannot be reached, and none is kept on this phone.";
      error.hidden = false;
    }
  }
  renderStops();
  drawMap().catch(() => {});
}

const ME_KEY = "kvarter.crew.me";

/** The account, or without signal the one last seen on this phone (its
 * session cookie is still there to send the taps once there is signal). */
async function account() {
  try {
    const found = await whoAmI();
    localStorage.setItem(ME_KEY, JSON.stringify(found));
    return found;
  } catch (e) {
    const kept = JSON.parse(localStorage.getItem(ME_KEY) || "null");
    if (e instanceof ApiError || !kept) throw e;
    return kept;
  }
}

/** The page's shell kept on the phone (sw.js), where the browser allows it
 * (HTTPS, or the gateway's own machine). */
async function keepShell() {
  if (!("serviceWorker" in navigator)) return;
  try {
    await navigator.serviceWorker.register("/sw.js", { scope: "/" });
    await navigator.serviceWorker.ready;
    document.body.dataset.offlineReady = "1";
  } catch (_) { /* the page still works while there is signal */ }
}

async function start() {
  me = await account();
  bar(me);
  queue = new TapQueue(me.username);
  document.querySelector("#title").textContent = `Today's route${me.crew ? ` · ${me.crew}` : ""}`;
  window.addEventListener("online", flush);
  window.addEventListener("offline", syncLine);
  setInterval(() => { if (navigator.onLine) flush(); }, RETRY_MS);
  syncLine();
  await loadRoute();
  // A changed plan is announced on the live stream; the route is read again.
  live({ "route-changed": loadRoute, "plan-changed": loadRoute });
  document.body.dataset.ready = "1";
  keepShell();
  await flush();
}

start().catch((e) => {
  if (!(e instanceof ApiError && e.status === 401)) {
    const error = document.querySelector("#route-error");
    error.textContent = e.message;
    error.hidden = false;
  }
});

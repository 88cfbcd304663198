// The crew's phone: today's route for the account's truck, stop by stop,
// with "emptied" and "can't reach" recorded at once on the phone and sent to
// the gateway when there is signal (queue.js), exactly once.
//
// The account's crew is its truck's name (GET /api/v1/me); its route is
// GET /api/v1/routes/today/{truck}, each stop recorded with POST
// /api/v1/visits {id, plan_id, node_id, outcome, reason, at}, stored once
// per id however often it is sent (docs/routes.md).

import { API, ApiError, api, at, bar, el, live, liveBadge, whoAmI } from "/static/js/api.js";
import { TapQueue, stopKey } from "/static/js/queue.js";

// The reason goes to the gateway as written here: the planner reads it.
const REASONS = [
  "blocked by a parked car",
  "no access (gate, road works)",
  "bin not there",
  "bin damaged",
  "other",
];
const RETRY_MS = 20000;

let me = null;
let queue = null;
let route = null;
let routeMap = null;
let routeLayer = null;
let drawnPlan = null;

function routeKey() {
  return `kvarter.crew.${me.username}.route`;
}

/** One tap to the gateway: its status and the problem's detail. */
async function send(tap) {
  const body = { id: tap.id, plan_id: tap.plan_id, node_id: tap.node_id,
    outcome: tap.outcome, at: tap.at };
  if (tap.outcome === "unreachable") body.reason = tap.reason;
  const r = await fetch(`${API}/visits`, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json",
      "X-CSRF-Token": me.csrf_token || "" },
    body: JSON.stringify(body),
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

/** Taps still on the phone for an earlier plan than the route shown. */
function earlierWaiting() {
  return route ? queue.waiting().filter((t) => t.plan_id < route.plan_id) : [];
}

async function flush() {
  syncLine();
  const earlier = earlierWaiting().length;
  await queue.sync(send);
  syncLine();
  // A tap made on the plan before a re-plan is recorded on that plan; the
  // gateway's route of the new plan, which continues it, then shows the stop
  // done. Loaded again, the phone shows what the gateway has.
  if (earlier > earlierWaiting().length) await loadRoute();
  else renderStops();
}

function tap(stop, outcome, reason = null) {
  queue.add(route.plan_id, stop.node_id, outcome, reason);
  renderStops();
  flush();
}

/** What the phone knows of a stop: its own latest tap, else what the
 * gateway has on record (from another phone of the crew, or before a reload). */
function recordOf(stop, recs) {
  const rec = recs[stopKey({ plan_id: route.plan_id, node_id: stop.node_id })];
  if (rec) return rec;
  if (stop.status === "pending") {
    // Tapped on an earlier plan and still on the phone (no signal when the
    // planner planned again): shown as kept, so that nobody records the bin
    // twice; once sent, the gateway's route says what counts.
    const kept = earlierWaiting().filter((t) => t.node_id === stop.node_id);
    return kept.length ? { ...kept[kept.length - 1], state: "waiting" } : null;
  }
  return { outcome: stop.status, reason: stop.reason, at: stop.recorded_at, state: "recorded" };
}

function stateLine(rec) {
  if (!rec) return null;
  const what = rec.outcome === "emptied" ? "Emptied"
    : `Can't reach${rec.reason ? ` (${rec.reason})` : ""}`;
  const where = { waiting: "kept on the phone", recorded: "recorded",
    refused: `not recorded: ${rec.detail}` }[rec.state];
  return el("div", { class: `state-line ${rec.state === "refused" ? "error" : "muted"}`,
    role: rec.state === "refused" ? "alert" : null },
  `${what} at ${at(rec.at)} · ${where}`);
}

function stopItem(stop, rec) {
  const reason = el("select", { "aria-label": "Why the bin cannot be reached" },
    ...REASONS.map((text) => el("option", { value: text }, text)));
  const done = rec && rec.state !== "refused";
  const cls = [stop.required ? "required" : "optional",
    done ? (rec.outcome === "emptied" ? "done" : "unreachable") : null,
    rec && rec.state === "refused" ? "refused" : null].filter(Boolean).join(" ");
  return el("li", { class: cls, "data-stop": stop.node_id },
    el("div", { class: "head" },
      el("span", { class: "order" }, stop.position),
      el("span", {}, el("b", {}, stop.street || stop.node_id), el("br"),
        el("span", { class: "muted small" }, `${stop.node_id} · ${stop.required ? "required"
          : "if there is time"}`)),
      el("span", {}, at(stop.expected_at))),
    // What the last crew could not do here ("unreachable ...: gate locked").
    stop.note ? el("div", { class: "small muted note" }, `Last time: ${stop.note}`) : null,
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
  if (!route) {
    list.replaceChildren();
    document.querySelector("#subtitle").textContent = "";
    return;
  }
  const recs = queue.stops();
  const stops = [...route.stops_in_order].sort((a, b) => a.position - b.position);
  const shown = stops.map((s) => [s, recordOf(s, recs)]);
  list.replaceChildren(...shown.map(([s, rec]) => stopItem(s, rec)));
  const left = shown.filter(([, rec]) => !rec || rec.state === "refused");
  const subtitle = document.querySelector("#subtitle");
  subtitle.dataset.plan = route.plan_id;
  subtitle.textContent =
    `${route.truck} · plan ${route.plan_id} · ${stops.length} stops, ${left.length} to go`;
}

async function drawMap() {
  if (!route || !route.stops_in_order.length) return;
  document.querySelector("#map-section").hidden = false;
  // Leaflet only when there is a route to show: the list comes first.
  const { L, drawStreets, makeMap } = await import("/static/js/map.js");
  if (!routeMap) {
    routeMap = makeMap("route-map");
    try { await drawStreets(routeMap); } catch (_) { /* the stops still show */ }
  }
  // A changed plan replaces the route drawn before.
  if (routeLayer) routeLayer.remove();
  routeLayer = L.layerGroup().addTo(routeMap);
  const stops = [...route.stops_in_order].sort((a, b) => a.position - b.position);
  const points = stops.map((s) => [s.lat, s.lon]);
  L.polyline(points, { color: "#0b5cab", weight: 3, opacity: 0.7 }).addTo(routeLayer);
  for (const s of stops) {
    L.circleMarker([s.lat, s.lon], { radius: 7, color: "#0b5cab", fillColor: "#fff",
      fillOpacity: 1, weight: 2, className: "stop" })
      .bindTooltip(String(s.position), { permanent: true, direction: "center" })
      .addTo(routeLayer);
  }
  routeMap.fitBounds(L.latLngBounds(points).pad(0.15));
}

async function loadRoute() {
  const error = document.querySelector("#route-error");
  if (!me.crew) {
    route = null;
    error.textContent = "No route to show: this account drives no truck; an administrator "
      + "gives it one (kvarter users add --crew truck-1).";
    error.hidden = false;
    return;
  }
  try {
    route = await api(`routes/today/${encodeURIComponent(me.crew)}`);
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
  // The map is drawn again only for a new plan: a recorded stop leaves it
  // where the crew has moved it.
  const drawn = route ? route.plan_id : null;
  if (drawn !== drawnPlan) {
    drawnPlan = drawn;
    drawMap().catch(() => {});
  }
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
  // A new plan gives the truck a new route ("route"); a stop recorded by
  // another phone of the crew comes as "stop". Either way the route is read again.
  const mine = (e) => { if (e.truck === me.crew) loadRoute(); };
  live({ route: mine, stop: mine }, liveBadge);
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

// The operator's and planner's desk: the district's map (streets, bins by
// fill and forecast, poles by level and contact) drawn from the API's one
// map answer, the alarms with their acknowledgements, a bin's fill history,
// today's plan truck by truck (plan.js), the lighting zones with their
// editor and energy per night (zones.js); kept current by the live stream.
// Each part shows what the account's role may read.

import { ApiError, all, api, bar, can, el, live, liveBadge, when, whoAmI }
  from "/static/js/api.js";
import { fillChart } from "/static/js/chart.js";
import { L, binStyle, drawStreets, fitAll, makeMap, poleStyle } from "/static/js/map.js";
import { loadPlan, onPlan, onStop } from "/static/js/plan.js";
import { installEditor, loadEnergy, loadZones, onZonePush } from "/static/js/zones.js";

const SEVERITY = ["fire", "tilt", "lid-open", "sensor-fault", "low-battery", "offline"];
const ALARM_TEXT = {
  fire: "fire", tilt: "tilted", "lid-open": "lid open", "sensor-fault": "sensor fault",
  "low-battery": "low battery", offline: "offline",
};

const DAY_S = 86400;
// The map's answer is asked for again this often: the forecast's "full by"
// and poles falling silent change with no event to tell.
const MAP_EVERY_MS = 60_000;
// Until the gateway has made its first forecast (seconds, in a process of
// its own), the map says so and is asked for again this often.
const FORECAST_WAIT_MS = 2_000;
const HISTORY_DAYS = 7;

const state = {
  me: null, map: null, bins: new Map(), poles: new Map(), binLayer: null, poleLayer: null,
  alarms: new Map(), selected: null,
};
// Read by the browser tests and the benchmark: the desk has drawn its data
// (body[data-ready]) and how many bins and poles it holds.
const mark = document.body.dataset;

function showError(message) {
  const p = document.querySelector("#load-error");
  p.textContent = message;
  p.hidden = false;
}

// --- the counts above the alarms --------------------------------------------

function counts() {
  const box = document.querySelector("#counts");
  box.replaceChildren();
  if (can(state.me, "bins.read")) {
    const bins = [...state.bins.values()];
    const full = bins.filter((b) => b.fill_pct != null && b.fill_pct >= 80).length;
    const soon = bins.filter((b) => b.forecast.full_within_24h).length;
    box.append(el("span", { id: "count-bins" }, el("b", {}, bins.length), " bins"),
      el("span", {}, el("b", {}, full), " over 80 %"),
      el("span", { id: "count-soon" }, el("b", {}, soon), " full by tomorrow"));
  }
  if (can(state.me, "lights.read")) {
    const poles = [...state.poles.values()];
    const off = poles.filter((p) => !p.online).length;
    box.append(el("span", { id: "count-poles" }, el("b", {}, poles.length), " poles"),
      el("span", {}, el("b", {}, off), " offline"));
  }
  mark.bins = state.bins.size;
  mark.poles = state.poles.size;
}

function legend() {
  const control = L.control({ position: "bottomleft" });
  control.onAdd = () => {
    const div = el("div", { class: "legend" });
    if (can(state.me, "bins.read")) {
      div.append(el("div", {}, el("i", { class: "fill-low" }), "bin under 50 %"),
        el("div", {}, el("i", { class: "fill-mid" }), "50–80 %"),
        el("div", {}, el("i", { class: "fill-high" }), "80 % and over"),
        el("div", {}, el("i", { class: "fill-none" }), "no report"),
        el("div", {}, el("i", { class: "soon" }), "full by tomorrow (forecast)"));
    }
    if (can(state.me, "lights.read")) {
      div.append(el("div", {}, el("i", { class: "pole-on" }), "pole lit (brighter = higher)"),
        el("div", {}, el("i", { class: "pole-dim" }), "pole dimmed"),
        el("div", {}, el("i", { class: "pole-off" }), "pole offline"));
    }
    return div;
  };
  control.addTo(state.map);
}

// --- bins --------------------------------------------------------------------

/** The node's id on its marker's element (drawn as SVG; a canvas has none). */
function tagNode(marker, id) {
  const path = marker.getElement && marker.getElement();
  if (path) path.dataset.node = id;
}

function binTip(b) {
  const fill = b.fill_pct == null ? "no report" : `${b.fill_pct.toFixed(0)} %`;
  const soon = b.forecast.full_within_24h ? " · full by tomorrow" : "";
  return `${b.node_id} · ${fill}${soon}`;
}

/** The map's answer (column by column) as one object per bin and per pole. */
function rows(columns) {
  const names = Object.keys(columns);
  const n = columns.node_id.length;
  const out = new Array(n);
  for (let i = 0; i < n; i += 1) {
    const row = {};
    for (const name of names) row[name] = columns[name][i];
    out[i] = row;
  }
  return out;
}

function withForecast(b, now) {
  b.forecast = { full_at: b.full_at,
    full_within_24h: b.full_at != null && b.full_at <= now + DAY_S };
  return b;
}

function drawBin(b) {
  let marker = b.marker;
  if (!marker) {
    marker = L.circleMarker([b.lat, b.lon], binStyle(b));
    marker.on("click", () => selectBin(b.node_id));
    marker.bindTooltip(binTip(b));
    marker.addTo(state.binLayer);
    b.marker = marker;
    tagNode(marker, b.node_id);
  } else {
    const style = binStyle(b);
    marker.setStyle(style);
    marker.setRadius(style.radius);
    // Leaflet sets a path's class once; a new fill band changes it here.
    const path = marker.getElement && marker.getElement();
    if (path) path.setAttribute("class", `${style.className} leaflet-interactive`);
    marker.setTooltipContent(binTip(b));
  }
}

async function selectBin(id) {
  if (!state.bins.has(id)) return;
  state.selected = id;
  const section = document.querySelector("#bin");
  section.hidden = false;
  document.querySelector("#bin-id").textContent = id;
  const facts = document.querySelector("#bin-facts");
  const chart = document.querySelector("#bin-chart");
  chart.replaceChildren(el("span", { class: "muted small" }, "loading the history…"));
  let b;
  try {
    // The one bin in full (its type, battery, forecast a day ahead): the
    // map carries only what it draws.
    b = await api(`bins/${encodeURIComponent(id)}`);
  } catch (e) {
    if (state.selected === id) chart.replaceChildren(el("span", { class: "error" }, e.message));
    return;
  }
  if (state.selected !== id) return;
  const f = b.forecast;
  facts.replaceChildren(...[
    ["type", b.kind],
    ["fill", b.fill_pct == null ? "no report" : `${b.fill_pct.toFixed(1)} %`],
    ["in 24 h", f.level_in_24h_pct == null ? "—" : f.level_in_24h_pct >= 100
      ? "full (forecast)" : `${f.level_in_24h_pct.toFixed(0)} % (forecast)`],
    ["full at", f.full_at == null ? "not within two weeks" : when(f.full_at)],
    ["alarms", b.alarms.length ? b.alarms.map((a) => ALARM_TEXT[a]).join(", ") : "none"],
    ["battery", b.battery_mv == null ? "—" : `${(b.battery_mv / 1000).toFixed(2)} V`],
    ["measured", when(b.measured_at)],
  ].flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  try {
    const since = Math.floor(Date.now() / 1000 - HISTORY_DAYS * DAY_S);
    const page = await api(`bins/${encodeURIComponent(id)}/reports?limit=1000&since=${since}`);
    if (state.selected === id) chart.replaceChildren(fillChart(page.items, b.forecast));
  } catch (e) {
    chart.replaceChildren(el("span", { class: "error" }, e.message));
  }
}

// --- poles -------------------------------------------------------------------

function poleTip(p) {
  const level = p.level_pct == null ? "no status" : `${p.level_pct} %`;
  return `${p.node_id} · zone ${p.zone} · ${p.online ? level : "offline"}`;
}

function drawPole(p) {
  const style = poleStyle(p);
  if (!p.marker) {
    p.marker = L.circleMarker([p.lat, p.lon], style).bindTooltip(poleTip(p));
    p.marker.addTo(state.poleLayer);
    tagNode(p.marker, p.node_id);
  } else {
    p.marker.setStyle(style);
    const path = p.marker.getElement && p.marker.getElement();
    if (path) path.setAttribute("class", `${style.className} leaflet-interactive`);
    p.marker.setTooltipContent(poleTip(p));
  }
}

// --- alarms ------------------------------------------------------------------

function alarmKey(a) {
  return `${a.node_id} ${a.alarm}`;
}

function showAlarmError(message) {
  const p = document.querySelector("#alarm-error");
  p.textContent = message;
  p.hidden = !message;
}

async function acknowledge(a, button) {
  button.disabled = true;
  button.textContent = "acknowledging…";
  try {
    const done = await api(`alarms/${encodeURIComponent(a.node_id)}/${a.alarm}/ack`,
      { method: "POST", body: { note: "" } });
    Object.assign(a, done, { fresh: false });
    showAlarmError("");
  } catch (e) {
    showAlarmError(`${a.node_id} ${ALARM_TEXT[a.alarm]}: ${e.message}`);
    // Gone meanwhile (the bin reported without it): the list says so.
    if (e.status === 409) state.alarms.delete(alarmKey(a));
  }
  renderAlarms();
}

function alarmItem(a) {
  // Bins' alarms are the API's to acknowledge; a pole's silence is shown only.
  const ackable = a.kind !== "pole" && can(state.me, "alarms.ack");
  let end = null;
  if (a.acknowledged) {
    end = el("span", { class: "who-ack", title: a.note || "" },
      `✓ ${a.acknowledged_by}, ${when(a.acknowledged_at)}`);
  } else if (ackable) {
    end = el("button", { type: "button", class: "ack quiet", onclick: (ev) => {
      ev.stopPropagation();
      acknowledge(a, ev.currentTarget);
    } }, "Acknowledge");
  }
  return el("li", {
    class: [a.fresh ? "new" : "", a.acknowledged ? "acknowledged" : ""].join(" ").trim() || null,
    "data-node": a.node_id, "data-alarm": a.alarm,
    onclick: () => {
      const thing = state.bins.get(a.node_id) || state.poles.get(a.node_id);
      if (thing) state.map.setView([thing.lat, thing.lon], Math.max(state.map.getZoom(), 16));
      if (state.bins.has(a.node_id)) selectBin(a.node_id);
    },
  }, el("span", { class: `tag ${a.alarm}` }, ALARM_TEXT[a.alarm] || a.alarm),
  el("span", {}, a.node_id),
  el("span", { class: "muted small since" }, a.since ? when(a.since) : ""), end);
}

function renderAlarms() {
  const list = document.querySelector("#alarms");
  // Those nobody has acknowledged first, then by how serious, then by node.
  const sorted = [...state.alarms.values()].sort((a, b) =>
    (Boolean(a.acknowledged) - Boolean(b.acknowledged))
    || (SEVERITY.indexOf(a.alarm) - SEVERITY.indexOf(b.alarm))
    || a.node_id.localeCompare(b.node_id));
  list.replaceChildren(...sorted.map(alarmItem));
  const open = sorted.filter((a) => !a.acknowledged).length;
  document.querySelector("#alarm-count").textContent =
    `(${sorted.length}, ${open} not acknowledged)`;
}

// --- live --------------------------------------------------------------------

function onBinReport(e) {
  const b = state.bins.get(e.node_id);
  if (!b) return;
  Object.assign(b, { fill_pct: e.fill_pct, measured_at: e.measured_at });
  b.alarms = e.alarms;
  for (const key of [...state.alarms.keys()]) {
    const a = state.alarms.get(key);
    if (a.node_id === e.node_id && !e.alarms.includes(a.alarm)) state.alarms.delete(key);
  }
  drawBin(b);
  counts();
  renderAlarms();
  if (state.selected === e.node_id) selectBin(e.node_id);
}

function onAlarm(e) {
  // A report that shows an alarm already listed goes on with it (and with
  // its acknowledgement); a new one is added.
  if (!can(state.me, "alarms.read") || state.alarms.has(alarmKey(e))) return;
  const b = state.bins.get(e.node_id);
  state.alarms.set(alarmKey(e), { node_id: e.node_id, alarm: e.alarm, since: e.measured_at,
    acknowledged: false, fresh: true, kind: "bin", lat: b && b.lat, lon: b && b.lon });
  renderAlarms();
}

function onAlarmAck(e) {
  const a = state.alarms.get(alarmKey(e));
  if (!a) return;
  Object.assign(a, { acknowledged: true, acknowledged_by: e.acknowledged_by,
    acknowledged_at: e.acknowledged_at, note: e.note, fresh: false });
  renderAlarms();
}

function onLightState(e) {
  const p = state.poles.get(e.node_id);
  if (!p) return;
  Object.assign(p, { level_pct: e.level_pct, last_contact: Date.now() / 1000, online: true });
  state.alarms.delete(`${p.node_id} offline`);
  drawPole(p);
  counts();
  renderAlarms();
}

// --- the map's answer ----------------------------------------------------------

function poleOffline(p) {
  const a = { node_id: p.node_id, alarm: "offline", since: p.last_contact, kind: "pole" };
  state.alarms.set(alarmKey(a), a);
}

/** What a bin's marker shows: it is drawn again only when this changes. */
function binLook(b) {
  return `${b.fill_pct} ${b.forecast.full_within_24h} ${b.alarms.join(",")}`;
}

/** The map's answer applied: new bins and poles drawn, the others changed. */
function applyMap(answer, readsBins, readsLights) {
  const now = Date.now() / 1000;
  if (readsBins) {
    for (const b of rows(answer.bins)) {
      withForecast(b, now);
      const known = state.bins.get(b.node_id);
      if (!known) {
        state.bins.set(b.node_id, b);
        drawBin(b);
      } else if (binLook(known) !== binLook(b)) {
        Object.assign(known, b);
        drawBin(known);
      } else {
        Object.assign(known, b);
      }
    }
  }
  if (readsLights) {
    for (const p of rows(answer.poles)) {
      const known = state.poles.get(p.node_id);
      const redraw = !known || known.online !== p.online || known.level_pct !== p.level_pct;
      if (known) Object.assign(known, p); else state.poles.set(p.node_id, p);
      if (redraw) drawPole(known || p);
      if (!p.online) poleOffline(p); else state.alarms.delete(`${p.node_id} offline`);
    }
  }
}

/** The map says whether its forecast has been made: body[data-forecast]. */
function forecastMade(answer) {
  if (answer && answer.forecast_at != null) {
    mark.forecast = "1";
    return true;
  }
  return false;
}

async function refreshMap(readsBins, readsLights) {
  try {
    const answer = await api("map");
    applyMap(answer, readsBins, readsLights);
    forecastMade(answer);
    if (can(state.me, "alarms.read")) {
      const fresh = await all("/api/v1/alarms");
      for (const [key, a] of [...state.alarms]) if (a.kind === "bin") state.alarms.delete(key);
      for (const a of fresh) state.alarms.set(alarmKey(a), { ...a, kind: "bin" });
    }
    counts();
    renderAlarms();
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) showError(e.message);
  }
}

// --- start -------------------------------------------------------------------

async function start() {
  state.me = await whoAmI();
  bar(state.me);
  if (state.me.district) document.querySelector("#district").textContent = state.me.district;
  const readsBins = can(state.me, "bins.read");
  const readsLights = can(state.me, "lights.read");
  const readsAlarms = can(state.me, "alarms.read");
  // One answer for the whole map (the API keeps it made); the alarms with
  // who acknowledged them beside it.
  const [answer, alarms] = await Promise.all([
    readsBins || readsLights ? api("map") : null,
    readsAlarms ? all("/api/v1/alarms") : [],
  ]);
  const size = answer ? answer.bins.node_id.length + answer.poles.node_id.length : 0;
  // Thousands of markers are drawn on one canvas; a few hundred as SVG,
  // each an element of its own.
  state.map = makeMap("map", { preferCanvas: size > 3000 });
  state.binLayer = L.layerGroup().addTo(state.map);
  state.poleLayer = L.layerGroup().addTo(state.map);
  let streets = L.geoJSON();
  try {
    streets = await drawStreets(state.map);
    streets.bringToBack();
  } catch (e) {
    showError(`the streets cannot be drawn: ${e.message}`);
  }
  if (answer) applyMap(answer, readsBins, readsLights);
  for (const a of alarms) state.alarms.set(alarmKey(a), { ...a, kind: "bin" });
  const markers = L.featureGroup([...state.binLayer.getLayers(), ...state.poleLayer.getLayers()]);
  fitAll(state.map, [streets, markers]);
  legend();
  counts();
  if (readsAlarms || readsLights) {
    document.querySelector("#alarm-list").hidden = false;
    renderAlarms();
  }
  const handlers = { "bin-report": onBinReport, alarm: onAlarm, "alarm-ack": onAlarmAck,
    "light-state": onLightState, "zone-push": onZonePush };
  if (can(state.me, "routes.read-all")) {
    Object.assign(handlers, { plan: onPlan, route: onPlan, stop: onStop });
    loadPlan().catch((e) => showError(`today's plan cannot be shown: ${e.message}`));
  }
  if (can(state.me, "zones.read")) {
    await loadZones(state.me);
    installEditor(state.me);
    // Worked out from every pole's reports: the map is not kept waiting.
    loadEnergy().catch((e) => showError(`the energy per night cannot be shown: ${e.message}`));
  }
  live(handlers, liveBadge);
  setInterval(() => refreshMap(readsBins, readsLights), MAP_EVERY_MS);
  if (answer && !forecastMade(answer) && readsBins) {
    const wait = setInterval(async () => {
      await refreshMap(readsBins, readsLights);
      if (mark.forecast) clearInterval(wait);
    }, FORECAST_WAIT_MS);
  }
  performance.mark("desk-ready");
  mark.ready = "1";
}

start().catch((e) => {
  if (!(e instanceof ApiError && e.status === 401)) showError(e.message);
});

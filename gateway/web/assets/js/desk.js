// The operator's and planner's desk: the district's map (streets, bins by
// fill and forecast, poles by level and contact), the alarms, a bin's fill
// history, the lighting zones with their editor and energy per night
// (zones.js); kept current by the live stream. Each part shows what the
// account's role may read.

import { ApiError, all, api, at, bar, can, el, live, liveBadge, when, whoAmI }
  from "/static/js/api.js";
import { fillChart } from "/static/js/chart.js";
import { L, binStyle, drawStreets, fitAll, makeMap, poleStyle } from "/static/js/map.js";
import { installEditor, loadEnergy, loadZones, onZonePush } from "/static/js/zones.js";

const SEVERITY = ["fire", "tilt", "lid-open", "sensor-fault", "low-battery", "offline"];
const ALARM_TEXT = {
  fire: "fire", tilt: "tilted", "lid-open": "lid open", "sensor-fault": "sensor fault",
  "low-battery": "low battery", offline: "offline",
};

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
  return `${b.node_id} · ${b.kind} · ${fill}${soon}`;
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
  const b = state.bins.get(id);
  if (!b) return;
  state.selected = id;
  const section = document.querySelector("#bin");
  section.hidden = false;
  document.querySelector("#bin-id").textContent = id;
  const facts = document.querySelector("#bin-facts");
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
  const chart = document.querySelector("#bin-chart");
  chart.replaceChildren(el("span", { class: "muted small" }, "loading the history…"));
  try {
    const page = await api(`bins/${encodeURIComponent(id)}/reports?limit=500`);
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

function renderAlarms() {
  const list = document.querySelector("#alarms");
  const sorted = [...state.alarms.values()].sort((a, b) =>
    (SEVERITY.indexOf(a.alarm) - SEVERITY.indexOf(b.alarm)) || a.node_id.localeCompare(b.node_id));
  list.replaceChildren(...sorted.map((a) => el("li", {
    class: a.fresh ? "new" : null, "data-node": a.node_id,
    onclick: () => {
      const thing = state.bins.get(a.node_id) || state.poles.get(a.node_id);
      if (thing) state.map.setView([thing.lat, thing.lon], Math.max(state.map.getZoom(), 16));
      if (state.bins.has(a.node_id)) selectBin(a.node_id);
    },
  }, el("span", { class: `tag ${a.alarm}` }, ALARM_TEXT[a.alarm] || a.alarm),
  el("span", {}, a.node_id), el("span", { class: "muted small" }, a.since ? when(a.since) : ""))));
  document.querySelector("#alarm-count").textContent = `(${sorted.length})`;
}

// --- live --------------------------------------------------------------------

function onBinReport(e) {
  const b = state.bins.get(e.node_id);
  if (!b) return;
  Object.assign(b, { fill_pct: e.fill_pct, battery_mv: e.battery_mv, temp_c: e.temp_c,
    measured_at: e.measured_at, last_contact: Date.now() / 1000 });
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
  const a = { node_id: e.node_id, alarm: e.alarm, since: e.measured_at, fresh: true };
  state.alarms.set(alarmKey(a), a);
  renderAlarms();
}

function onLightState(e) {
  const p = state.poles.get(e.node_id);
  if (!p) return;
  Object.assign(p, { level_pct: e.level_pct, energy_wh: e.energy_wh, status_at: e.measured_at,
    last_seen: Date.now() / 1000, online: true });
  state.alarms.delete(`${p.node_id} offline`);
  drawPole(p);
  counts();
  renderAlarms();
}

// --- start -------------------------------------------------------------------

async function start() {
  state.me = await whoAmI();
  bar(state.me);
  const readsBins = can(state.me, "bins.read");
  const readsLights = can(state.me, "lights.read");
  const [bins, poles, alarms] = await Promise.all([
    readsBins ? all("/api/v1/bins") : [],
    readsLights ? all("/api/v1/lights") : [],
    readsBins ? all("/api/v1/alarms") : [],
  ]);
  // Thousands of markers are drawn on one canvas; a few hundred as SVG,
  // each an element of its own.
  const many = bins.length + poles.length > 3000;
  state.map = makeMap("map", { preferCanvas: many });
  state.binLayer = L.layerGroup().addTo(state.map);
  state.poleLayer = L.layerGroup().addTo(state.map);
  let streets = L.geoJSON();
  try {
    streets = await drawStreets(state.map);
    streets.bringToBack();
  } catch (e) {
    showError(`the streets cannot be drawn: ${e.message}`);
  }
  for (const b of bins) {
    state.bins.set(b.node_id, b);
    drawBin(b);
  }
  for (const p of poles) {
    state.poles.set(p.node_id, p);
    drawPole(p);
    if (!p.online) {
      const a = { node_id: p.node_id, alarm: "offline", since: p.last_seen };
      state.alarms.set(alarmKey(a), a);
    }
  }
  for (const a of alarms) state.alarms.set(alarmKey(a), a);
  const markers = L.featureGroup([...state.binLayer.getLayers(), ...state.poleLayer.getLayers()]);
  fitAll(state.map, [streets, markers]);
  legend();
  counts();
  if (readsBins || readsLights) {
    document.querySelector("#alarm-list").hidden = false;
    renderAlarms();
  }
  if (can(state.me, "zones.read")) {
    await loadZones(state.me);
    installEditor(state.me);
    // Worked out from every pole's reports: the map is not kept waiting.
    loadEnergy().catch((e) => showError(`the energy per night cannot be shown: ${e.message}`));
  }
  live({ "bin-report": onBinReport, alarm: onAlarm, "light-state": onLightState,
    "zone-push": onZonePush }, liveBadge);
  performance.mark("desk-ready");
  mark.ready = "1";
}

start().catch((e) => {
  if (!(e instanceof ApiError && e.status === 401)) showError(e.message);
});

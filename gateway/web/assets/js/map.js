// The district's map: no tiles from anywhere, the gateway's own streets as
// the base layer, and the colours that tell a bin's fill and a pole's light.

import * as L from "/vendor/leaflet/leaflet-src.esm.js";
import { api } from "/static/js/api.js";

export { L };

export function makeMap(element, options = {}) {
  const map = L.map(element, { zoomSnap: 0.25, attributionControl: false, ...options });
  map.setView([0, 0], 2);
  return map;
}

/** The imported streets, drawn under everything else; their layer (empty
 * before streets are imported). */
export async function drawStreets(map) {
  const streets = await api("streets");
  const layer = L.geoJSON(streets, {
    style: { color: "#9aa7b4", weight: 6, opacity: 0.9, lineCap: "round", className: "street" },
    onEachFeature: (feature, line) => {
      const name = feature.properties && feature.properties.name;
      if (name) line.bindTooltip(String(name), { sticky: true });
    },
  });
  layer.addTo(map);
  // The streets' data credit (an OpenStreetMap export's ODbL), shown with
  // whatever draws them.
  if (streets.attribution) {
    const credit = L.control.attribution({ prefix: false, position: "bottomright" });
    credit.addAttribution(creditHtml(String(streets.attribution)));
    credit.addTo(map);
  }
  return layer;
}

function creditHtml(text) {
  const escaped = text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return escaped.includes("OpenStreetMap")
    ? escaped.replace("OpenStreetMap",
      '<a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>')
    : escaped;
}

export function fitAll(map, layers) {
  let bounds = null;
  for (const layer of layers) {
    const b = layer.getBounds && layer.getLayers().length ? layer.getBounds() : null;
    if (b && b.isValid()) bounds = bounds ? bounds.extend(b) : L.latLngBounds(b.getSouthWest(),
      b.getNorthEast());
  }
  if (bounds) map.fitBounds(bounds.pad(0.05));
}

// --- bins ------------------------------------------------------------------

export function fillBand(pct) {
  if (pct == null) return "fill-none";
  if (pct >= 80) return "fill-high";
  if (pct >= 50) return "fill-mid";
  return "fill-low";
}

const FILL_COLOUR = {
  "fill-none": "#b0bec5", "fill-low": "#43a047", "fill-mid": "#fbc02d", "fill-high": "#e53935",
};

/** A bin's marker style: the fill by colour, a thick purple ring when the
 * forecast has it full within a day. */
export function binStyle(bin) {
  const band = fillBand(bin.fill_pct);
  const soon = Boolean(bin.forecast && bin.forecast.full_within_24h);
  return {
    radius: soon ? 8 : 7, fillColor: FILL_COLOUR[band], fillOpacity: 0.95,
    color: soon ? "#6a1b9a" : "#37474f", weight: soon ? 3.5 : 1,
    className: `bin ${band}${soon ? " soon" : ""}${bin.alarms.length ? " alarm" : ""}`,
  };
}

// --- poles -----------------------------------------------------------------

function mix(a, b, t) {
  const pa = a.match(/\w\w/g).map((h) => parseInt(h, 16));
  const pb = b.match(/\w\w/g).map((h) => parseInt(h, 16));
  return `#${pa.map((x, i) => Math.round(x + (pb[i] - x) * t).toString(16).padStart(2, "0"))
    .join("")}`;
}

/** A pole's marker style: its light level from dark to bright yellow;
 * offline poles hollow with a dashed red edge. */
export function poleStyle(pole) {
  if (!pole.online) {
    return { radius: 5, fillColor: "#ffffff", fillOpacity: 1, color: "#c62828", weight: 2,
      dashArray: "2 2", className: "pole off" };
  }
  const level = pole.level_pct;
  const fill = level == null ? "#9e9e9e" : mix("#4a4830", "#ffd500", Math.min(100, level) / 100);
  return { radius: 5, fillColor: fill, fillOpacity: 1, color: "#263238", weight: 1,
    className: "pole on" };
}

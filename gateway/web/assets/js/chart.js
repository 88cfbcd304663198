// A bin's fill over time as a plain SVG chart: the stored reports, and the
// forecast a day ahead as a dashed line.

import { when } from "/static/js/api.js";

const NS = "http://www.w3.org/2000/svg";
const W = 320, H = 170, LEFT = 34, RIGHT = 10, TOP = 8, BOTTOM = 24;

function svg(tag, attrs = {}, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

/** reports: [{measured_at, fill_pct}] in any order; forecast: the bin's
 * forecast (level_in_24h_pct) or null. */
export function fillChart(reports, forecast, now = Date.now() / 1000) {
  const points = reports.filter((r) => r.fill_pct != null)
    .map((r) => [r.measured_at, r.fill_pct]).sort((a, b) => a[0] - b[0]);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": `fill history, ${points.length} reports` });
  const ahead = forecast && forecast.level_in_24h_pct != null
    ? [now + 86400, forecast.level_in_24h_pct] : null;
  if (!points.length) {
    root.append(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "axis" },
      "no reports yet"));
    return root;
  }
  const t0 = points[0][0];
  const t1 = Math.max(ahead ? ahead[0] : 0, points[points.length - 1][0], t0 + 3600);
  const x = (t) => LEFT + ((t - t0) / (t1 - t0)) * (W - LEFT - RIGHT);
  const y = (v) => TOP + (1 - Math.max(0, Math.min(100, v)) / 100) * (H - TOP - BOTTOM);
  for (const v of [0, 50, 100]) {
    root.append(svg("line", { x1: LEFT, x2: W - RIGHT, y1: y(v), y2: y(v), class: "grid" }));
    root.append(svg("text", { x: LEFT - 4, y: y(v) + 3, "text-anchor": "end", class: "axis" },
      `${v} %`));
  }
  root.append(svg("text", { x: LEFT, y: H - 6, class: "axis" }, when(t0)));
  root.append(svg("text", { x: W - RIGHT, y: H - 6, "text-anchor": "end", class: "axis" },
    when(t1)));
  root.append(svg("polyline", { class: "fill",
    points: points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ") }));
  for (const [t, v] of points.slice(-60)) {
    root.append(svg("circle", { cx: x(t).toFixed(1), cy: y(v).toFixed(1), r: 2, class: "dot" }));
  }
  if (ahead) {
    const [lt, lv] = points[points.length - 1];
    root.append(svg("polyline", { class: "forecast",
      points: `${x(lt).toFixed(1)},${y(lv).toFixed(1)} ${x(ahead[0]).toFixed(1)},${y(ahead[1]).toFixed(1)}` }));
    root.append(svg("circle", { cx: x(ahead[0]).toFixed(1), cy: y(ahead[1]).toFixed(1), r: 3.5,
      class: "forecast-dot" }));
  }
  return root;
}

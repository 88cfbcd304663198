// The technician's screen: every node with its health (last contact,
// battery, link and signal, firmware, last self-test), what needs a
// technician first, and the registrations the gateway has never heard from.
// Laid out as a table on a laptop and as one card per node on a phone.

import { ApiError, api, ago, all, bar, el, live, liveBadge, when, whoAmI }
  from "/static/js/api.js";

const PAGE = 200;
const nodes = new Map();
let shown = PAGE;

function showError(message) {
  const p = document.querySelector("#load-error");
  p.textContent = message;
  p.hidden = false;
}

const dash = "—";

function value(n, key, format = (v) => v) {
  return n[key] == null ? dash : format(n[key]);
}

function link(n) {
  if (n.link === "lora") return "LoRa";
  if (n.link === "wifi") return "Wi-Fi";
  return dash;
}

// Over Wi-Fi the gateway hears no radio: the node's own reading at its
// latest self-test stands in, said as such.
function rssi(n) {
  if (n.rssi_dbm != null) return `${n.rssi_dbm} dBm`;
  if (n.link !== "lora" && n.selftest && n.selftest.wifi_dbm != null) {
    return `${n.selftest.wifi_dbm} dBm (Wi-Fi, self-test)`;
  }
  return dash;
}

function selftest(n) {
  const t = n.selftest;
  if (t == null) return dash;
  const what = t.ok ? "passed" : `failed: ${t.failed.join(", ")}`;
  return `${what}, ${ago(t.at)}`;
}

// A cell with nothing to say is left out of a phone's card (class none).
function cell(label, content, attrs = {}) {
  const none = content === dash ? " none" : "";
  return el("td", { "data-label": label, ...attrs, class: `${attrs.class || ""}${none}` },
    content);
}

function row(n) {
  const state = n.pending ? "pending" : n.online ? "online" : "offline";
  const needs = n.attention.length ? n.attention.join(", ") : "";
  return el("tr", { class: `${state}${needs ? " attention" : ""}`, "data-node": n.node_id },
    cell("Node", el("b", {}, n.node_id), { class: "id" }),
    cell("Needs", needs || dash, { class: "needs" }),
    cell("State", state, { class: "state" }),
    cell("Last contact", ago(n.last_contact), { title: when(n.last_contact) }),
    cell("Battery", value(n, "battery_mv", (v) => `${(v / 1000).toFixed(2)} V`),
      { class: "num" }),
    cell("Link", link(n), { title: n.signal_at ? `noted ${when(n.signal_at)}` : null }),
    cell("RSSI", rssi(n), { class: "num rssi" }),
    cell("SNR", value(n, "snr_db", (v) => `${v} dB`), { class: "num" }),
    cell("SF", value(n, "sf", (v) => `SF${v}`), { class: "num" }),
    cell("Firmware", value(n, "firmware"), { class: "mono" }),
    cell("Self-test", selftest(n), {
      class: n.selftest && !n.selftest.ok ? "failed" : null,
      title: n.selftest ? `${when(n.selftest.at)}, by ${n.selftest.by}` : null }),
    cell("Type / zone", `${n.role === "bin" ? "bin" : "pole"} ${n.kind || ""}`.trim()),
    cell("Key", n.provisioned ? "yes" : "no"),
    cell("Registered", when(n.registered_at)));
}

function matches(n) {
  const text = document.querySelector("#filter").value.trim().toLowerCase();
  const role = document.querySelector("#role").value;
  const st = document.querySelector("#state").value;
  if (role && n.role !== role) return false;
  if (st === "attention" && !n.attention.length) return false;
  if (["offline", "low battery", "weak signal", "self-test failed"].includes(st)
      && !n.attention.includes(st)) return false;
  if (st === "pending" && !n.pending) return false;
  if (st === "nokey" && n.provisioned) return false;
  return !text || [n.node_id, n.kind, n.firmware].some(
    (s) => (s || "").toLowerCase().includes(text));
}

// The margin of a node's signal, for "weakest first": LoRa SNR (dB), Wi-Fi
// dBm scaled to about the same span; nothing known sorts last.
function signal(n) {
  if (n.snr_db != null) return n.snr_db;
  if (n.selftest && n.selftest.wifi_dbm != null) return (n.selftest.wifi_dbm + 70) / 2;
  return Infinity;
}

const ORDERS = {
  id: () => 0,
  attention: (a, b) => b.attention.length - a.attention.length,
  contact: (a, b) => (a.last_contact ?? -Infinity) - (b.last_contact ?? -Infinity),
  battery: (a, b) => (a.battery_mv ?? Infinity) - (b.battery_mv ?? Infinity),
  signal: (a, b) => signal(a) - signal(b),
};

function ordered(list) {
  const by = ORDERS[document.querySelector("#sort").value] || ORDERS.id;
  return list.sort((a, b) => by(a, b) || a.node_id.localeCompare(b.node_id));
}

function render() {
  const list = ordered([...nodes.values()].filter(matches));
  const rows = document.querySelector("#rows");
  rows.replaceChildren(...list.slice(0, shown).map(row));
  document.querySelector("#shown").textContent =
    `${Math.min(shown, list.length)} of ${list.length} shown`;
  document.querySelector("#more").hidden = list.length <= shown;
  const all = [...nodes.values()];
  const count = (f) => all.filter(f).length;
  document.querySelector("#counts").replaceChildren(
    el("span", { id: "count-nodes" }, el("b", {}, all.length), " nodes"),
    el("span", {}, el("b", {}, count((n) => n.role === "bin")), " bins"),
    el("span", {}, el("b", {}, count((n) => n.role === "light")), " poles"),
    el("span", { id: "count-attention" }, el("b", {}, count((n) => n.attention.length)),
      " need attention"),
    el("span", { id: "count-offline" },
      el("b", {}, count((n) => n.attention.includes("offline"))), " offline"),
    el("span", { id: "count-pending" }, el("b", {}, count((n) => n.pending)), " pending"),
    el("span", {}, el("b", {}, count((n) => !n.provisioned)), " without a key"));
  const pending = all.filter((n) => n.pending)
    .sort((a, b) => a.registered_at - b.registered_at);
  document.querySelector("#pending-list").replaceChildren(
    ...(pending.length ? pending.map((n) => el("li", { "data-node": n.node_id },
      el("b", {}, n.node_id), ` ${n.role === "bin" ? "bin" : "pole"}, registered `,
      el("span", { title: when(n.registered_at) }, `${ago(n.registered_at)} (${when(n.registered_at)})`),
      n.provisioned ? "" : ", without a key"))
      : [el("li", { class: "muted" }, "none: the gateway has heard from every node it has")]));
  document.body.dataset.nodes = all.length;
}

// A node heard live: its row asked for again (its battery, its link and what
// needs attention are the gateway's to say), at most once a second.
const stale = new Set();
let refreshing = null;

function heard(e) {
  if (!nodes.has(e.node_id)) return;
  stale.add(e.node_id);
  refreshing ??= setTimeout(refresh, 1000);
}

async function refresh() {
  const ids = [...stale];
  stale.clear();
  try {
    for (const n of await Promise.all(ids.map((id) =>
      api(`/api/v1/nodes/${encodeURIComponent(id)}`)))) nodes.set(n.node_id, n);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) showError(e.message);
  }
  refreshing = null;
  render();
}

async function start() {
  const me = await whoAmI();
  bar(me);
  for (const n of await all("/api/v1/nodes")) nodes.set(n.node_id, n);
  for (const id of ["#filter", "#role", "#state", "#sort"]) {
    document.querySelector(id).addEventListener("input", () => { shown = PAGE; render(); });
  }
  document.querySelector("#more").addEventListener("click", () => { shown += PAGE; render(); });
  render();
  live({ "bin-report": heard, "light-state": heard }, liveBadge);
  document.body.dataset.ready = "1";
}

start().catch((e) => {
  if (!(e instanceof ApiError && e.status === 401)) showError(e.message);
});

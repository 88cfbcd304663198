// The technician's screen: every node with its health, filtered and shown a
// page at a time; last contact kept current by the live stream.

import { ApiError, ago, all, bar, el, live, liveBadge, when, whoAmI }
  from "/static/js/api.js";

const PAGE = 200;
const nodes = new Map();
let shown = PAGE;

function showError(message) {
  const p = document.querySelector("#load-error");
  p.textContent = message;
  p.hidden = false;
}

// Fields of the signal, the firmware and the self-test: shown as soon as the
// nodes API gives them; until then each column says it has none.
const LATER = ["rssi_dbm", "snr_db", "sf", "firmware", "selftest"];

function value(n, key, format = (v) => v) {
  return n[key] == null ? "—" : format(n[key]);
}

function row(n) {
  const selftest = n.selftest;
  return el("tr", { class: n.online ? "online" : "offline", "data-node": n.node_id },
    el("td", {}, n.node_id),
    el("td", {}, n.role === "bin" ? "bin" : "pole"),
    el("td", {}, n.kind || "—"),
    el("td", { class: "state" }, n.online ? "online" : "offline"),
    el("td", { title: when(n.last_contact) }, ago(n.last_contact)),
    el("td", { class: "num" }, value(n, "battery_mv", (v) => `${(v / 1000).toFixed(2)} V`)),
    el("td", { class: "num" }, value(n, "rssi_dbm", (v) => `${v} dBm`)),
    el("td", { class: "num" }, value(n, "snr_db", (v) => `${v} dB`)),
    el("td", { class: "num" }, value(n, "sf", (v) => `SF${v}`)),
    el("td", {}, value(n, "firmware")),
    el("td", {}, selftest == null ? "—"
      : `${selftest.ok ? "passed" : "failed"} ${ago(selftest.at)}`),
    el("td", {}, n.provisioned ? "yes" : "no"),
    el("td", {}, when(n.registered_at)));
}

function matches(n) {
  const text = document.querySelector("#filter").value.trim().toLowerCase();
  const role = document.querySelector("#role").value;
  const st = document.querySelector("#state").value;
  if (role && n.role !== role) return false;
  if (st === "offline" && n.online) return false;
  if (st === "nokey" && n.provisioned) return false;
  return !text || n.node_id.toLowerCase().includes(text) || (n.kind || "").toLowerCase()
    .includes(text);
}

function render() {
  const list = [...nodes.values()].filter(matches);
  const rows = document.querySelector("#rows");
  rows.replaceChildren(...list.slice(0, shown).map(row));
  document.querySelector("#shown").textContent =
    `${Math.min(shown, list.length)} of ${list.length} shown`;
  document.querySelector("#more").hidden = list.length <= shown;
  const all = [...nodes.values()];
  const off = all.filter((n) => !n.online).length;
  const nokey = all.filter((n) => !n.provisioned).length;
  document.querySelector("#counts").replaceChildren(
    el("span", { id: "count-nodes" }, el("b", {}, all.length), " nodes"),
    el("span", {}, el("b", {}, all.filter((n) => n.role === "bin").length), " bins"),
    el("span", {}, el("b", {}, all.filter((n) => n.role === "light").length), " poles"),
    el("span", { id: "count-offline" }, el("b", {}, off), " offline"),
    el("span", {}, el("b", {}, nokey), " without a key"));
  document.body.dataset.nodes = all.length;
}

function heard(e) {
  const n = nodes.get(e.node_id);
  if (!n) return;
  n.last_contact = Date.now() / 1000;
  n.online = true;
  if (e.battery_mv != null) n.battery_mv = e.battery_mv;
  render();
}

async function start() {
  const me = await whoAmI();
  bar(me);
  for (const n of await all("/api/v1/nodes")) nodes.set(n.node_id, n);
  for (const id of ["#filter", "#role", "#state"]) {
    document.querySelector(id).addEventListener("input", () => { shown = PAGE; render(); });
  }
  document.querySelector("#more").addEventListener("click", () => { shown += PAGE; render(); });
  render();
  const missing = LATER.filter((k) => ![...nodes.values()].some((n) => k in n));
  if (missing.length) {
    document.querySelector("#not-reported").textContent =
      "Signal (RSSI, SNR, SF), firmware version and self-test are not reported to the " +
      "gateway yet: read them at the node with `kvarter node selftest` and the gateway's log.";
  }
  const pending = document.querySelector("#pending-text");
  pending.textContent =
    "Registrations made in the field without a connection wait on the technician's " +
    "laptop; deliver them with `kvarter node register --pending`. Nodes registered " +
    "without a key are counted above as \"without a key\".";
  live({ "bin-report": heard, "light-state": heard }, liveBadge);
  document.body.dataset.ready = "1";
}

start().catch((e) => {
  if (!(e instanceof ApiError && e.status === 401)) showError(e.message);
});

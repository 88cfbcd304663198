// The lighting zones on the desk: the zones table (whoever reads zones), the
// zone editor (operators and admins, who may change them) and each zone's
// energy per night against full all night and against the oracle. A change
// goes the way the operator's command line takes it: checked by the gateway
// (its one-line reason when it cannot be made), its energy effect replayed
// before it is saved, saved against the revision it was made on, then pushed
// with each pole's own answer and the revision it runs.

import { api, can, el, when } from "/static/js/api.js";

// The settings the editor changes, in the API's names (ZoneChangeBody).
const FIELDS = [
  { key: "idle_pct", label: "Idle %", kind: "int" },
  { key: "active_pct", label: "Active %", kind: "int" },
  { key: "hold_s", label: "Hold s", kind: "int" },
  { key: "ramp_up_s", label: "Ramp up s", kind: "float" },
  { key: "ramp_down_s", label: "Ramp down s", kind: "int" },
  { key: "safe_idle_pct", label: "Safe idle %", kind: "int" },
  { key: "offline_after_min", label: "Safe after min", kind: "int" },
  { key: "hours", label: "Hours", kind: "text" },
  { key: "dusk_offset_min", label: "Dusk offset min", kind: "int" },
  { key: "dawn_offset_min", label: "Dawn offset min", kind: "int" },
  { key: "lamp_w", label: "Lamp W", kind: "float" },
  { key: "timezone", label: "Time zone", kind: "text" },
  { key: "steps", label: "Night steps", kind: "steps" },
];
const EFFECT_DAYS = 7;
const ENERGY_NIGHTS = 7;
const PUSH_TIMEOUT_S = 5;

const zs = {
  me: null, zones: new Map(), zone: null, checked: null,
  // node id -> {outcome, acknowledged, running_revision} of the edited zone's poles
  poles: new Map(),
};

const $ = (sel) => document.querySelector(sel);

function fmtKwh(kwh) {
  return `${kwh.toFixed(kwh < 10 ? 3 : 1)} kWh`;
}

function signed(x, digits) {
  return `${x > 0 ? "+" : x < 0 ? "−" : "±"}${Math.abs(x).toFixed(digits)}`;
}

// --- the zones table -----------------------------------------------------------

export async function loadZones(me) {
  zs.me = me;
  const zones = await api("zones");
  zs.zones = new Map(zones.map((z) => [z.name, z]));
  const editing = can(me, "zones.change");
  const body = $("#zones tbody");
  body.replaceChildren(...zones.map((z) => el("tr", { "data-zone": z.name },
    el("td", {}, editing
      ? el("button", { type: "button", class: "link", title: `edit zone ${z.name}`,
        onclick: () => openEditor(z.name) }, z.name)
      : z.name),
    el("td", {}, z.revision), el("td", {}, `${z.idle_pct} %`),
    el("td", {}, `${z.active_pct} %`), el("td", {}, `${z.hold_s} s`), el("td", {}, z.poles))));
  $("#zones").hidden = false;
  if (editing) $("#zones .hint").hidden = false;
  if (zs.zone && zs.zones.has(zs.zone.name)) zs.zone = zs.zones.get(zs.zone.name);
}

// --- the editor ------------------------------------------------------------------

function fieldValue(zone, f) {
  const v = zone[f.key];
  return f.kind === "steps" ? v.join(", ") : String(v);
}

function buildForm(zone) {
  const form = $("#zone-form");
  form.replaceChildren(...FIELDS.map((f) => el("label", { class: f.kind === "steps" ? "wide" : null },
    el("span", {}, f.label),
    el("input", { name: f.key, value: fieldValue(zone, f), autocomplete: "off",
      inputmode: f.kind === "int" ? "numeric" : f.kind === "float" ? "decimal" : null,
      placeholder: f.kind === "steps" ? "23:00-05:00=10/60, …" : null,
      oninput: invalidate }))));
}

/** The settings changed in the form, as the API takes them; or a one-line
 * reason when a number is not one. */
function changedSettings(zone) {
  const form = $("#zone-form");
  const out = {};
  for (const f of FIELDS) {
    const raw = form.elements[f.key].value.trim();
    if (raw === fieldValue(zone, f)) continue;
    if (f.kind === "int") {
      if (!/^-?\d+$/.test(raw)) {
        return { reason: `${f.label}: "${raw}" is not a whole number; give one, like ${zone[f.key]}` };
      }
      out[f.key] = Number(raw);
    } else if (f.kind === "float") {
      const n = Number(raw);
      if (raw === "" || !Number.isFinite(n)) {
        return { reason: `${f.label}: "${raw}" is not a number; give one, like ${zone[f.key]}` };
      }
      out[f.key] = n;
    } else if (f.kind === "steps") {
      out.steps = raw.split(/[,\s]+/).filter((s) => s);
    } else {
      out[f.key] = raw;
    }
  }
  return { settings: out };
}

function say(message, isError = true) {
  const p = $("#zone-reason");
  p.textContent = message || "";
  p.hidden = !message;
  p.classList.toggle("error", isError);
}

/** Any edit after a check: the effect shown is no longer the change's. */
function invalidate() {
  zs.checked = null;
  $("#zone-save").disabled = true;
  $("#zone-effect").hidden = true;
  say("");
}

async function openEditor(name) {
  const zone = zs.zones.get(name);
  if (!zone) return;
  zs.zone = zone;
  zs.poles = new Map();
  $("#zone-editor").hidden = false;
  $("#zone-editor").dataset.zone = name;
  $("#zone-name").textContent = name;
  showRevision();
  buildForm(zone);
  invalidate();
  $("#zone-saved").hidden = true;
  $("#zone-push-summary").textContent = "";
  $("#zone-push").disabled = zone.poles === 0;
  for (const tr of document.querySelectorAll("#zones tbody tr")) {
    tr.classList.toggle("chosen", tr.dataset.zone === name);
  }
  $("#zone-editor").scrollIntoView({ block: "nearest" });
  try {
    const page = await api(`lights?zone=${encodeURIComponent(name)}&limit=1000`);
    if (zs.zone.name !== name) return;
    for (const p of page.items) {
      if (!zs.poles.has(p.node_id)) {
        zs.poles.set(p.node_id, { outcome: p.online ? "online" : "offline", acknowledged: null,
          running_revision: p.running_revision });
      }
    }
    renderPoles();
  } catch (e) {
    $("#zone-push-summary").textContent = e.message;
  }
}

function showRevision() {
  $("#zone-revision").textContent = zs.zone.revision === 0
    ? "revision 0 (the defaults)" : `revision ${zs.zone.revision}`;
}

async function check() {
  const zone = zs.zone;
  const { settings, reason } = changedSettings(zone);
  invalidate();
  if (reason) return say(reason);
  if (!Object.keys(settings).length) return say("nothing changed: change a setting first");
  const button = $("#zone-check");
  button.disabled = true;
  try {
    const checked = await api(`zones/${encodeURIComponent(zone.name)}/check`,
      { method: "POST", body: settings });
    showEffect(checked.changes, null, "working out the energy effect…");
    let effect = null;
    try {
      effect = await api(`zones/${encodeURIComponent(zone.name)}/effect?days=${EFFECT_DAYS}`,
        { method: "POST", body: settings });
    } catch (e) {
      // A change the gateway takes may still have no effect to show (no
      // streets imported, no poles yet): it may be saved all the same.
      showEffect(checked.changes, null, `no energy effect: ${e.message}`);
    }
    if (effect) showEffect(checked.changes, effect);
    zs.checked = { settings, revision: zone.revision };
    $("#zone-save").disabled = false;
  } catch (e) {
    say(e.message);
  } finally {
    button.disabled = false;
  }
}

function showEffect(changes, effect, note) {
  const box = $("#zone-effect");
  box.hidden = false;
  const list = el("ul", { class: "changes" }, ...changes.map((c) => el("li", {},
    el("b", {}, c.setting), ` ${c.old} → ${c.new}`)));
  const parts = [list];
  if (effect) {
    const pct = effect.change_pct == null ? "" : ` (${signed(effect.change_pct, 1)} %)`;
    parts.push(el("p", { id: "zone-effect-line", class: effect.change_kwh <= 0 ? "saves" : "costs" },
      `Energy over the last ${effect.days} days, ${effect.poles} poles, `
      + `${effect.events} presence events replayed: ${fmtKwh(effect.now_kwh)} now, `
      + `${fmtKwh(effect.proposed_kwh)} with the change: `,
      el("b", {}, `${signed(effect.change_kwh, 3)} kWh${pct}`)));
  } else if (note) {
    parts.push(el("p", { class: "muted small" }, note));
  }
  box.replaceChildren(...parts);
}

async function save() {
  const zone = zs.zone;
  if (!zs.checked) return;
  const button = $("#zone-save");
  button.disabled = true;
  try {
    const saved = await api(`zones/${encodeURIComponent(zone.name)}`, { method: "PATCH",
      body: { ...zs.checked.settings, expect_revision: zs.checked.revision } });
    zs.zone = saved.zone;
    zs.zones.set(saved.zone.name, saved.zone);
    showRevision();
    buildForm(saved.zone);
    zs.checked = null;
    const done = $("#zone-saved");
    done.hidden = false;
    done.textContent = saved.changes.length
      ? `Saved as revision ${saved.zone.revision}; the poles run it once it is pushed.`
      : "Nothing changed: the zone already had these settings.";
    await loadZones(zs.me);
    renderPoles();
  } catch (e) {
    say(e.message);
    button.disabled = false;
  }
}

async function push() {
  const zone = zs.zone;
  const button = $("#zone-push");
  button.disabled = true;
  $("#zone-push-summary").textContent =
    `pushing revision ${zone.revision} to ${zone.poles} poles…`;
  try {
    const pushed = await api(
      `zones/${encodeURIComponent(zone.name)}/push?timeout=${PUSH_TIMEOUT_S}`, { method: "POST" });
    if (zs.zone.name !== pushed.zone) return;
    for (const p of pushed.poles) zs.poles.set(p.node_id, p);
    $("#zone-push-summary").textContent =
      `${pushed.acknowledged} of ${pushed.total} poles acknowledged revision ${pushed.revision}`;
    renderPoles();
  } catch (e) {
    $("#zone-push-summary").textContent = "";
    say(e.message);
  } finally {
    button.disabled = zone.poles === 0;
  }
}

function renderPoles() {
  const list = $("#zone-poles");
  const rows = [...zs.poles.entries()].sort(([a], [b]) => a.localeCompare(b));
  list.replaceChildren(...rows.map(([id, p]) => {
    const state = p.acknowledged === true ? "ack" : p.acknowledged === false ? "no-ack" : "idle";
    const running = p.running_revision == null
      ? "no revision acknowledged" : `running revision ${p.running_revision}`;
    const behind = p.running_revision != null && p.running_revision !== zs.zone.revision;
    return el("li", { "data-node": id, class: state },
      el("span", { class: "node" }, id),
      el("span", { class: "outcome" }, p.outcome),
      el("span", { class: `running${behind ? " behind" : ""}` }, running));
  }));
}

/** A zone pushed, by this desk, another one, or the gateway itself (a night
 * step, a new key): each pole's outcome as it happened. */
export function onZonePush(e) {
  if (!zs.zone || e.zone !== zs.zone.name) return;
  for (const p of e.poles) {
    const known = zs.poles.get(p.node_id);
    zs.poles.set(p.node_id, { ...p, running_revision: p.acknowledged ? p.running_revision
      : known ? known.running_revision : null });
  }
  renderPoles();
}

export function installEditor(me) {
  if (!can(me, "zones.change")) return;
  $("#zone-check").addEventListener("click", check);
  $("#zone-save").addEventListener("click", save);
  $("#zone-push").addEventListener("click", push);
  $("#zone-form").addEventListener("submit", (e) => {
    e.preventDefault();
    check();
  });
}

// --- energy per zone per night --------------------------------------------------

function kwhCell(wh) {
  return el("td", { class: "num" }, (wh / 1000).toFixed(2));
}

export async function loadEnergy() {
  const nights = await api(`energy?nights=${ENERGY_NIGHTS}`);
  const body = $("#energy tbody");
  // Nights no pole of a zone reported twice in say nothing: one line per zone.
  const byZone = new Map();
  for (const n of nights) {
    if (!byZone.has(n.zone)) byZone.set(n.zone, []);
    if (n.poles_reporting) byZone.get(n.zone).push(n);
  }
  const rows = [];
  for (const [zone, measured] of byZone) {
    rows.push(el("tr", { class: "zone-head" }, el("th", { colspan: 6 }, `zone ${zone}`)));
    if (!measured.length) {
      rows.push(el("tr", { "data-zone": zone, class: "empty" }, el("td", { colspan: 6,
        class: "muted" }, `no pole reported twice in a night of the last ${ENERGY_NIGHTS}`)));
    }
    for (const n of measured) {
      const night = new Date(`${n.night}T12:00:00Z`).toLocaleDateString(undefined,
        { month: "short", day: "numeric", timeZone: "UTC" });
      rows.push(el("tr", { "data-zone": n.zone, "data-night": n.night,
        title: `${n.poles_reporting} of ${n.poles} poles reported, ${when(n.start)} to `
          + `${when(n.end)}${n.complete ? "" : " (under way)"}` },
      el("td", {}, night, n.complete ? "" : " *"), kwhCell(n.measured_wh), kwhCell(n.full_wh),
      kwhCell(n.oracle_wh),
      el("td", { class: "num saving" },
        n.saving_pct == null ? "—" : `${n.saving_pct.toFixed(0)} %`),
      el("td", { class: "num ratio" },
        n.oracle_ratio == null ? "—" : `${n.oracle_ratio.toFixed(2)}×`)));
    }
  }
  body.replaceChildren(...rows);
  $("#energy").hidden = false;
}

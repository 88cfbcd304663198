// Today's plan on the planner's desk: each truck's route with its stops
// done, left and unreachable, required and optional, kept current by the
// live stream (a new plan, a truck's route, each stop a crew records).

import { ApiError, api, at, el, when } from "/static/js/api.js";

const $ = (s) => document.querySelector(s);

// The plan shown, and each truck's route with its stops in order.
const ps = { plan: null, routes: new Map(), open: new Set(), loading: null, again: false };

const STATUS_TEXT = { emptied: "emptied", unreachable: "can't reach", pending: "left" };

function figures(route) {
  const stops = route.stops_in_order;
  const emptied = stops.filter((s) => s.status === "emptied").length;
  const unreachable = stops.filter((s) => s.status === "unreachable").length;
  const left = stops.length - emptied - unreachable;
  const required = stops.filter((s) => s.required).length;
  const requiredLeft = stops.filter((s) => s.required && s.status === "pending").length;
  return { emptied, unreachable, left, required, optional: stops.length - required,
    requiredLeft };
}

function stopItem(s, changed) {
  const status = s.status === "unreachable" && s.reason
    ? `can't reach: ${s.reason}` : STATUS_TEXT[s.status];
  const recorded = s.recorded_at ? ` ${at(s.recorded_at)}` : "";
  return el("li", {
    class: `${s.required ? "required" : "optional"} ${s.status}${changed ? " changed" : ""}`,
    "data-node": s.node_id, "data-status": s.status,
  }, el("b", {}, s.node_id), " ",
  el("span", { class: "need" }, s.required ? "required" : "optional"), " · ",
  s.street ? `${s.street} · ` : "", `expected ${at(s.expected_at)} · `,
  el("span", { class: "status" }, `${status}${s.status === "pending" ? "" : recorded}`));
}

function truckBlock(route, changed) {
  const f = figures(route);
  const details = el("details", { "data-truck": route.truck, open: ps.open.has(route.truck) },
    el("summary", {}, el("b", {}, route.truck), ` · ${route.stops_in_order.length} stops`,
      el("span", { class: "figures" },
        el("b", { class: "done" }, f.emptied), " emptied, ",
        el("b", { class: "unreachable" }, f.unreachable), " unreachable, ",
        el("b", { class: "left" }, f.left), " left · ",
        el("b", {}, f.required), " required",
        f.requiredLeft ? ` (${f.requiredLeft} left)` : "", ", ",
        el("b", {}, f.optional), " optional · ",
        `${(route.distance_m / 1000).toFixed(1)} km`)),
    el("ol", { class: "plan-stops" },
      route.stops_in_order.map((s) => stopItem(s, changed && changed.has(s.node_id)))));
  details.addEventListener("toggle", () => {
    if (details.open) ps.open.add(route.truck); else ps.open.delete(route.truck);
  });
  return details;
}

function render(changed = null) {
  const plan = ps.plan;
  $("#plan-empty").hidden = plan !== null;
  $("#plan-meta").textContent = plan
    ? `(${plan.day}, plan ${plan.id}, by ${plan.made_by}, ${when(plan.made_at)})` : "";
  const unserved = plan ? plan.unserved.map((u) => u.node_id) : [];
  $("#plan-problems").replaceChildren(...(plan ? [
    ...plan.problems.map((p) => el("li", {}, p)),
    ...(unserved.length ? [el("li", { class: "unserved" },
      `${unserved.length} required on no route: ${unserved.join(", ")}`)] : []),
  ] : []));
  // A re-plan says per truck what it changed: the planner tells the crews
  // whose routes moved, and need not tell the others.
  const changes = plan && plan.settings && plan.settings.continues ? plan.changes : [];
  $("#plan-changes").hidden = changes.length === 0;
  $("#plan-changes ul").replaceChildren(...changes.map((c) => el("li", {}, c)));
  const trucks = [...ps.routes.values()].sort((a, b) => a.truck.localeCompare(b.truck));
  $("#plan-trucks").replaceChildren(...trucks.map((r) => truckBlock(r, changed)));
  document.body.dataset.plan = plan ? String(plan.id) : "none";
}

/** Today's plan and each of its trucks' routes, read again. */
export async function loadPlan() {
  $("#plan").hidden = false;
  let plan = null;
  try {
    plan = await api("plans/today");
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) throw e;
  }
  const routes = plan ? await Promise.all(plan.routes.map(
    (r) => api(`routes/today/${encodeURIComponent(r.truck)}`))) : [];
  ps.plan = plan;
  ps.routes = new Map(routes.map((r) => [r.truck, r]));
  render();
}

function reload() {
  // One reading at a time; events during it are covered by the next.
  if (ps.loading) {
    ps.again = true;
    return;
  }
  ps.loading = loadPlan().catch((e) => {
    $("#plan-problems").replaceChildren(el("li", {}, `today's plan cannot be read: ${e.message}`));
  }).finally(() => {
    ps.loading = null;
    if (ps.again) {
      ps.again = false;
      reload();
    }
  });
}

/** A new plan, or a truck's route on one. */
export function onPlan() {
  reload();
}

/** A stop a crew recorded: shown at once on its truck's route. */
export function onStop(e) {
  const route = e.truck ? ps.routes.get(e.truck) : null;
  if (ps.plan && e.plan_id < ps.plan.id && ps.plan.settings && ps.plan.settings.continues) {
    // Recorded on an earlier plan of the day (a tap that waited on a phone
    // without signal while the planner planned again): the gateway counts it
    // on the plan shown, which continues that one, so read the plan again.
    reload();
    return;
  }
  if (!ps.plan || e.plan_id !== ps.plan.id || !route) return;
  const stop = route.stops_in_order.find((s) => s.node_id === e.node_id);
  if (!stop) return;
  Object.assign(stop, { status: e.outcome, recorded_at: e.at,
    reason: e.outcome === "unreachable" ? e.reason : null });
  render(new Set([e.node_id]));
}

// The HTTP API as the pages use it: the session's CSRF token on every change,
// problem details turned into one-line errors, lists read page by page, the
// live stream, and the bar on top of each screen.

export const API = "/api/v1";
const PAGE = 1000; // the API's largest page

let csrfToken = null;

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

function toLogin() {
  const next = location.pathname + location.search;
  location.assign(`/login?next=${encodeURIComponent(next)}`);
}

async function problem(r) {
  try {
    const body = await r.json();
    if (body && typeof body.detail === "string") return body.detail;
  } catch (_) { /* not JSON: the status says enough */ }
  return `the gateway answered ${r.status} ${r.statusText}`;
}

/** One call; its JSON, or an ApiError whose message is the problem's one line. */
export async function api(path, { method = "GET", body, redirect = true } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const r = await fetch(path.startsWith("/") ? path : `${API}/${path}`, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status === 401 && redirect) {
    toLogin();
    throw new ApiError(401, "the session has ended; log in again");
  }
  if (!r.ok) throw new ApiError(r.status, await problem(r));
  if (r.status === 204) return null;
  return r.json();
}

/** Every item of a paginated list. */
export async function all(path, params = {}) {
  const items = [];
  for (let offset = 0; ; offset += PAGE) {
    const q = new URLSearchParams({ ...params, offset, limit: PAGE });
    const page = await api(`${path}?${q}`);
    items.push(...page.items);
    if (items.length >= page.total || page.items.length === 0) return items;
  }
}

/** Who is logged in (and the session's CSRF token); to the login page if nobody. */
export async function whoAmI() {
  const me = await api("me");
  csrfToken = me.csrf_token;
  return me;
}

export function can(me, permission) {
  return me.permissions.includes(permission);
}

let routes = null;
/** The routes this gateway serves ("GET /api/v1/..."), from its OpenAPI
 * spec: a screen shows a part only when the API behind it is there. */
export async function serves(method, path) {
  if (routes === null) {
    routes = (async () => {
      const spec = await (await fetch("/api/openapi.json")).json();
      const found = new Set();
      for (const [p, ops] of Object.entries(spec.paths || {})) {
        for (const m of Object.keys(ops)) found.add(`${m.toUpperCase()} ${p}`);
      }
      return found;
    })().catch(() => new Set());
  }
  return (await routes).has(`${method} ${path}`);
}

/** The live stream: handlers by event kind; onState(true|false) as it
 * connects and drops (the browser reconnects by itself). */
export function live(handlers, onState = () => {}) {
  const source = new EventSource(`${API}/events`);
  source.onopen = () => onState(true);
  source.onerror = () => onState(false);
  for (const [kind, handle] of Object.entries(handlers)) {
    source.addEventListener(kind, (e) => {
      try { handle(JSON.parse(e.data)); } catch (err) { console.error(kind, err); }
    });
  }
  return source;
}

// --- what every screen shows alike -----------------------------------------

const SCREENS = [
  { path: "/desk", title: "Desk", any: ["bins.read", "lights.read"] },
  { path: "/nodes", title: "Nodes", any: ["nodes.read"] },
  { path: "/crew", title: "Route", any: ["routes.read-own"] },
];

/** The bar on top: the screens this account may open, who it is, log out,
 * and a badge that tells whether live updates arrive. */
export function bar(me) {
  const nav = document.querySelector("header.bar nav");
  for (const s of SCREENS) {
    if (!s.any.some((p) => can(me, p))) continue;
    const a = document.createElement("a");
    a.href = s.path;
    a.textContent = s.title;
    if (location.pathname === s.path) a.setAttribute("aria-current", "page");
    nav.append(a);
  }
  if (me.district) {
    // Operators with several districts' desks open tell them apart by name.
    document.querySelector("header.bar .brand").textContent = `kvarter · ${me.district}`;
    document.title = `${document.title.split(" - ")[0]} - ${me.district} - kvarter`;
  }
  const who = document.querySelector("header.bar .who");
  who.textContent = `${me.username} · ${me.role}${me.crew ? ` · ${me.crew}` : ""}`;
  document.querySelector("#logout").addEventListener("click", logout);
}

export function liveBadge(on) {
  const badge = document.querySelector("header.bar .live");
  if (!badge) return;
  badge.classList.toggle("on", on);
  badge.textContent = on ? "live" : "reconnecting";
}

export async function logout() {
  localStorage.removeItem("kvarter.crew.me");
  try {
    await api("session", { method: "DELETE", redirect: false });
  } catch (_) { /* ended already: the login page is where to go anyway */ }
  location.assign("/login");
}

// --- times, always with their time zone --------------------------------------

const clock = new Intl.DateTimeFormat(undefined, {
  month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
});
const hourMinute = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit", minute: "2-digit", timeZoneName: "short",
});

export function when(unix) {
  return unix == null ? "never" : clock.format(new Date(unix * 1000));
}

export function at(unix) {
  return unix == null ? "—" : hourMinute.format(new Date(unix * 1000));
}

export function ago(unix, now = Date.now() / 1000) {
  if (unix == null) return "never";
  const s = Math.max(0, now - unix);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

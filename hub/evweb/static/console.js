// The operator's console: sign in with the admin token, then tiles kept live over a
// WebSocket (/api/v1/live). All text goes in with textContent: nothing is parsed as HTML.
"use strict";
const API = "/api/v1";
const LABEL = { AVAILABLE: "Available", CHARGING: "Charging", STOPPED: "Out of order",
                FAULTED: "Faulted", DISCONNECTED: "Disconnected" };
const WINDOW_S = 600;       // the sparkline shows the last 10 minutes
const MIN_SPAN_S = 20;
const MAX_POINTS = 400;
let csrf = null;
let socket = null;
let retry = 500;
const tiles = new Map();    // cp_id -> {el, cp, points}

const $ = (id) => document.getElementById(id);
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

async function call(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf || "";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(API + path, { method, headers, credentials: "same-origin",
                                      body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await r.json().catch(() => ({ error: "bad answer from Central" }));
  if (r.status === 401) { signedOut(); }
  if (!r.ok) throw new Error(data.error || ("HTTP " + r.status));
  return data;
}

function signedOut() {
  csrf = null;
  if (socket) { socket.onclose = null; socket.close(); socket = null; }
  $("console").classList.add("hidden");
  for (const id of ["stop-all", "resume-all", "signout"]) $(id).classList.add("hidden");
  $("signin").classList.remove("hidden");
}

function signedIn(token) {
  csrf = token;
  $("signin").classList.add("hidden");
  $("console").classList.remove("hidden");
  for (const id of ["stop-all", "resume-all", "signout"]) $(id).classList.remove("hidden");
  connect();
  refreshTables();
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  socket = new WebSocket(scheme + location.host + API + "/live");
  socket.onopen = () => { retry = 500; $("link").textContent = "live"; };
  socket.onmessage = (ev) => onMessage(JSON.parse(ev.data));
  socket.onclose = () => {
    $("link").textContent = "reconnecting";
    socket = null;
    // Signed out meanwhile (401 on the upgrade looks like a close): ask before retrying.
    setTimeout(() => fetch(API + "/session").then((r) => r.ok ? connect() : signedOut()),
               retry);
    retry = Math.min(retry * 2, 5000);
  };
}

function onMessage(msg) {
  const now = Date.now() / 1000;
  if (msg.type === "snapshot") {
    $("tiles").replaceChildren();
    tiles.clear();
    for (const cp of msg.cps) {
      const points = (msg.history[cp.cp_id] || []).map(([t, kw]) => [t, kw]);
      update(cp, points, now);
    }
  } else if (msg.type === "cps") {
    for (const cp of msg.cps) update(cp, null, now);
    if (msg.sessions_changed) refreshTables();
  }
}

function update(cp, points, now) {
  let tile = tiles.get(cp.cp_id);
  if (!tile) {
    tile = { el: makeTile(cp), cp, points: points || [] };
    tiles.set(cp.cp_id, tile);
    $("tiles").appendChild(tile.el);
  }
  tile.cp = cp;
  addPoint(tile, now, cp.power_kw || 0);
  const e = tile.el;
  e.dataset.state = cp.state;
  e.querySelector(".state").textContent = LABEL[cp.state] || cp.state;
  e.querySelector(".where").textContent = `${cp.location || "-"} · ${cp.price_per_kwh.toFixed(2)} €/kWh · ${cp.max_kw} kW`;
  let figures = "";
  if (cp.session_id) {
    figures = `${cp.driver_id} · ${cp.power_kw.toFixed(1)} kW · ${cp.energy_kwh.toFixed(3)} kWh · ${cp.cost.toFixed(2)} €`;
    if (cp.waiting_for_vehicle) figures += " · waiting for the car";
  } else if (cp.state === "STOPPED" && cp.stop_reason) {
    figures = cp.stop_reason;
  } else if (cp.state === "FAULTED" && cp.fault_type) {
    figures = cp.fault_type;
  }
  e.querySelector(".figures").textContent = figures;
  e.querySelector('[data-action="stop"]').disabled = cp.state === "STOPPED";
  e.querySelector('[data-action="resume"]').disabled = cp.state !== "STOPPED";
  draw(tile, now);
}

function makeTile(cp) {
  const e = el("div", "tile");
  e.dataset.cpId = cp.cp_id;
  const head = el("div");
  head.append(el("span", "id", cp.cp_id), document.createTextNode(" "), el("span", "state"));
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 100 28");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.appendChild(document.createElementNS("http://www.w3.org/2000/svg", "polyline"));
  const buttons = el("div", "buttons");
  for (const action of ["stop", "resume"]) {
    const b = el("button", null, action === "stop" ? "Stop" : "Resume");
    b.dataset.action = action;
    b.addEventListener("click", () => act(`/cps/${encodeURIComponent(cp.cp_id)}/${action}`));
    buttons.appendChild(b);
  }
  e.append(head, el("div", "where small"), el("div", "figures"), svg, buttons);
  return e;
}

function addPoint(tile, now, kw) {
  const pts = tile.points;
  const last = pts[pts.length - 1];
  if (last && now - last[0] < 2 && last[1] === kw) return;
  pts.push([now, kw]);
  while (pts.length > MAX_POINTS || (pts.length && pts[0][0] < now - WINDOW_S)) pts.shift();
}

function draw(tile, now) {
  const max = Math.max(tile.cp.max_kw || 1, ...tile.points.map((p) => p[1]));
  // A short history fills the width too (at least MIN_SPAN_S), up to the whole window.
  const first = tile.points.length ? tile.points[0][0] : now;
  const span = Math.min(WINDOW_S, Math.max(MIN_SPAN_S, now - first));
  const xy = tile.points.map(([t, kw]) =>
    `${(100 - (now - t) * 100 / span).toFixed(2)},${(27 - kw * 26 / max).toFixed(2)}`);
  if (tile.points.length) xy.push(`100,${(27 - tile.points[tile.points.length - 1][1] * 26 / max).toFixed(2)}`);
  tile.el.querySelector("polyline").setAttribute("points", xy.join(" "));
}

// The lines move on with time even when nothing changes.
setInterval(() => {
  const now = Date.now() / 1000;
  for (const tile of tiles.values()) { addPoint(tile, now, tile.cp.power_kw || 0); draw(tile, now); }
}, 2000);

async function act(path, body) {
  $("action-error").textContent = "";
  try { await call("POST", path, body); }
  catch (err) { $("action-error").textContent = err.message; }
}

function fmtTime(t) { return t ? new Date(t * 1000).toLocaleString() : ""; }

function fill(tbody, rows) {
  tbody.replaceChildren(...rows.map((cells) => {
    const tr = el("tr");
    for (const c of cells) tr.appendChild(el("td", null, c === null || c === undefined ? "" : String(c)));
    return tr;
  }));
}

let tablesPending = false;
async function refreshTables() {
  if (tablesPending || !csrf) return;
  tablesPending = true;
  setTimeout(async () => {
    tablesPending = false;
    try {
      const sessions = await call("GET", "/sessions?limit=50");
      fill($("sessions").tBodies[0], sessions.map((s) => [s.session_id.slice(0, 8), s.cp_id,
        s.driver_id, s.status, s.energy_consumed_kwh.toFixed(3), s.total_cost.toFixed(2),
        s.reason, fmtTime(s.started_at)]));
      const sites = await call("GET", "/sites");
      fill($("sites").tBodies[0], sites.map((s) => [s.site_id, s.max_kw, s.live_kw.toFixed(2),
        Object.entries(s.limits).map(([cp, kw]) => cp + " " + kw).join(", ")]));
      const drivers = await call("GET", "/drivers");
      fill($("drivers").tBodies[0], drivers.map((d) => [d.driver_id, d.name, d.card ? "yes" : "",
        d.live_session_id ? d.live_session_id.slice(0, 8) : ""]));
    } catch (err) { $("action-error").textContent = err.message; }
  }, 300);
}
setInterval(refreshTables, 5000);  // live sessions' figures in the table too

$("signin").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("signin-error").textContent = "";
  try {
    const r = await fetch(API + "/login", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token: $("token").value }) });
    const data = await r.json();
    if (!r.ok) throw new Error(data.error || ("HTTP " + r.status));
    $("token").value = "";
    signedIn(data.csrf);
  } catch (err) { $("signin-error").textContent = err.message; }
});
$("stop-all").addEventListener("click", () => act("/stop-all"));
$("resume-all").addEventListener("click", () => act("/resume-all"));
$("signout").addEventListener("click", async () => {
  try { await call("POST", "/logout"); } catch (err) { /* signed out either way */ }
  signedOut();
});

fetch(API + "/session", { credentials: "same-origin" })
  .then((r) => r.ok ? r.json() : null)
  .then((data) => data ? signedIn(data.csrf) : signedOut(), signedOut);

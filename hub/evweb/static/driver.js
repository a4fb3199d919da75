// A driver's page: sign in (driver id + secret, kept in this page's memory only and sent
// as HTTP Basic), pick a charge point, watch the charge, stop it, read the ticket.
"use strict";
const API = "/api/v1";
let auth = null;          // "Basic ..." while signed in
let watching = null;      // the session id shown in #live / #ticket
let timer = null;

const $ = (id) => document.getElementById(id);
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

async function call(method, path, body) {
  const headers = { "Accept": "application/json", "Authorization": auth };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(API + path, { method, headers, credentials: "omit",
                                      body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await r.json().catch(() => ({ error: "bad answer from Central" }));
  if (!r.ok) {
    const err = new Error(data.error || ("HTTP " + r.status));
    err.status = r.status;
    throw err;
  }
  return data;
}

function basic(id, secret) {
  const bytes = new TextEncoder().encode(id + ":" + secret);
  return "Basic " + btoa(String.fromCharCode(...bytes));
}

$("signin").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("signin-error").textContent = "";
  auth = basic($("driver-id").value.trim(), $("secret").value);
  try {
    await call("GET", "/me/sessions?limit=1");
  } catch (err) {
    auth = null;
    $("signin-error").textContent = err.message;
    return;
  }
  $("secret").value = "";
  $("who").textContent = $("driver-id").value.trim();
  $("signin").classList.add("hidden");
  $("driver").classList.remove("hidden");
  $("signout").classList.remove("hidden");
  refresh();
  timer = setInterval(refresh, 1000);
});

$("signout").addEventListener("click", () => {
  auth = null;
  watching = null;
  clearInterval(timer);
  $("driver").classList.add("hidden");
  $("signout").classList.add("hidden");
  $("signin").classList.remove("hidden");
  $("who").textContent = "";
});

$("stop").addEventListener("click", async () => {
  const id = $("live").dataset.sessionId;
  $("error").textContent = "";
  try { await call("POST", `/sessions/${encodeURIComponent(id)}/stop`); }
  catch (err) { $("error").textContent = err.message; }
});

async function charge(cpId) {
  $("error").textContent = "";
  try {
    const r = await call("POST", "/charge", { cp_id: cpId });
    watching = r.session_id;
    refresh();
  } catch (err) { $("error").textContent = err.message; }
}

let busy = false;
async function refresh() {
  if (!auth || busy) return;
  busy = true;
  try {
    const [cps, sessions] = await Promise.all([call("GET", "/available-cps"),
                                               call("GET", "/me/sessions?limit=20")]);
    showSessions(sessions);
    showCps(cps, sessions.some((s) => !s.finalised));
  } catch (err) {
    $("error").textContent = err.message;
  } finally { busy = false; }
}

function showCps(cps, charging) {
  $("cps").replaceChildren(...cps.map((cp) => {
    const row = el("div", "cp-row");
    row.dataset.cpId = cp.cp_id;
    row.dataset.state = cp.state;
    const text = el("div");
    text.append(el("strong", null, cp.cp_id), el("div", "small",
      `${cp.location || "-"} · ${cp.price_per_kwh.toFixed(2)} €/kWh · up to ${cp.max_kw} kW · ${cp.state}`));
    const b = el("button", null, "Charge here");
    b.dataset.action = "charge";
    b.disabled = charging || cp.state !== "AVAILABLE";
    b.addEventListener("click", () => charge(cp.cp_id));
    row.append(text, b);
    return row;
  }));
}

function showSessions(sessions) {
  const live = sessions.find((s) => !s.finalised);
  if (live) watching = live.session_id;
  const shown = live || sessions.find((s) => s.session_id === watching);
  $("live").classList.toggle("hidden", !live);
  if (live) {
    $("live").dataset.sessionId = live.session_id;
    $("live").dataset.status = live.status;
    $("live-cp").textContent = live.cp_id;
    $("live-status").textContent = live.status === "starting" ? "starting..." : live.status;
    $("live-kw").textContent = live.charging_rate.toFixed(1);
    $("live-kwh").textContent = live.energy_consumed_kwh.toFixed(3);
    $("live-cost").textContent = live.total_cost.toFixed(2);
  }
  const ticket = !live && shown && shown.finalised ? shown : null;
  $("ticket").classList.toggle("hidden", !ticket);
  if (ticket) {
    $("ticket").dataset.sessionId = ticket.session_id;
    $("ticket-cp").textContent = ticket.cp_id;
    $("ticket-status").textContent = ticket.status;
    $("ticket-kwh").textContent = ticket.energy_consumed_kwh.toFixed(3);
    $("ticket-cost").textContent = ticket.total_cost.toFixed(2);
    $("ticket-reason").textContent = ticket.reason || "";
    $("ticket-ended").textContent = ticket.ended_at ? new Date(ticket.ended_at * 1000).toLocaleString() : "";
  }
  $("history").tBodies[0].replaceChildren(...sessions.map((s) => {
    const tr = el("tr");
    for (const c of [new Date(s.started_at * 1000).toLocaleString(), s.cp_id,
                     s.energy_consumed_kwh.toFixed(3), s.total_cost.toFixed(2), s.status, s.reason || ""]) {
      tr.appendChild(el("td", null, c));
    }
    return tr;
  }));
}

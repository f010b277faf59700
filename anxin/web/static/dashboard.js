// The operators' dashboard: log in, keep the queue live from the stream, open an
// incident, and work it (keyboard first: a call-centre shift is long).

import { api, ApiError } from "./api.js";
import { Detail } from "./detail.js";
import { language, setLanguage, t } from "./i18n.js";
import { IncidentMap } from "./map.js";
import { Queue } from "./queue.js";
import { showShift } from "./shift.js";

const $ = (id) => document.getElementById(id);
const PAGE = 200; // the API's largest page
const REOPEN_STREAM_MS = 2000;
// `/?measure`: time each change from its arrival to the frame that shows it
const MEASURE = new URLSearchParams(location.search).has("measure");

const points = new Map(); // id -> name
const pointName = (id) => points.get(id) || id;
let view = "queue";
let stream = null;
let audio = null;
let flashing = null;
const baseTitle = document.title;

const queue = new Queue({
  tbody: $("queue-rows"), empty: $("queue-empty"), pointName,
  onOpen: (id) => openIncident(id), onNewP1: announce,
});
const detail = new Detail({ pane: $("detail"), pointName, onError: showError });
const map = new IncidentMap($("map"), { onOpen: (id) => openIncident(id) });

async function boot() {
  setLanguage(language());
  try {
    await start(await api("GET", "/api/v1/me"));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) showLogin();
    else showError(error);
  }
}

function showLogin(message = "") {
  stream?.close();
  stream = null;
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  $("login-token").focus();
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const me = await api("POST", "/api/v1/session", { token: $("login-token").value });
    $("login-token").value = "";
    await start(me);
  } catch (error) {
    $("login-error").textContent =
      error instanceof ApiError && error.status === 401 ? t("bad_token") : error.message;
  }
});

$("logout").addEventListener("click", async () => {
  await api("DELETE", "/api/v1/session");
  detail.close();
  showLogin();
});

$("lang").addEventListener("click", () => switchLanguage());

for (const tab of document.querySelectorAll("[data-view]")) {
  tab.addEventListener("click", () => show(tab.dataset.view));
}

async function start(me) {
  $("login").hidden = true;
  $("app").hidden = false;
  $("who").textContent = `${me.name} · ${t(`role_${me.role}`)}${me.districts.length ? ` · ${me.districts.join("、")}` : ""}`;
  document.body.dataset.role = me.role;
  await loadPoints(); // the queue names the points
  connect();
}

async function loadPoints() {
  const { points: found } = await api("GET", "/api/v1/map");
  for (const p of found) points.set(p.id, p.name);
}

async function loadQueue() {
  const all = [];
  let cursor = null;
  do {
    const page = await api("GET", `/api/v1/incidents?limit=${PAGE}${cursor ? `&cursor=${cursor}` : ""}`);
    all.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  await queue.replaceAll(all);
}

// -- the stream: subscribe first, then read the queue, then apply what arrived
// meanwhile, so that nothing falls between the list and the stream. EventSource
// reconnects by itself with Last-Event-ID (every event has one, `ready` too) and
// misses nothing; if the server refused it (an expired session), start again.
let listed = false;
let held = [];

function connect() {
  stream?.close();
  listed = false;
  held = [];
  const source = new EventSource("/api/v1/stream");
  stream = source;
  source.addEventListener("ready", async () => {
    linkState(true);
    if (listed) return;
    try {
      await loadQueue();
    } catch (error) {
      showError(error);
      return;
    }
    listed = true;
    const waiting = held;
    held = [];
    for (const [change, at] of waiting) await onChange(change, at);
  });
  source.addEventListener("change", (event) => {
    const change = JSON.parse(event.data);
    if (listed) onChange(change, event.timeStamp);
    else held.push([change, event.timeStamp]);
  });
  source.addEventListener("error", () => {
    linkState(false);
    if (source.readyState === EventSource.CLOSED) setTimeout(reopen, REOPEN_STREAM_MS);
  });
}

async function reopen() {
  try {
    await api("GET", "/api/v1/me");
    connect();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) showLogin(error.message);
    else setTimeout(reopen, REOPEN_STREAM_MS);
  }
}

function linkState(up) {
  const state = $("link-state");
  state.textContent = up ? `● ${t("live")}` : t("reconnecting");
  state.className = `link-state ${up ? "up" : "down"}`;
}

const later = new Map();
function soon(key, fn, ms = 250) {
  if (later.has(key)) return;
  later.set(key, setTimeout(() => { later.delete(key); fn(); }, ms));
}

async function onChange(change, receivedAt) {
  if (queue.has(change.incident_id)) {
    queue.patch(change);
    if (["alert_opened", "repeated", "reopened", "downgraded"].includes(change.action)) {
      soon(`row ${change.incident_id}`, () => reread(change.incident_id));
    }
  } else if (!["resolved", "cancelled"].includes(change.status)) {
    await reread(change.incident_id);
  }
  if (MEASURE) {  // bench/dashboard.py reads these
    requestAnimationFrame(() => setTimeout(() => {
      performance.measure("anxin:change", { start: receivedAt, detail: change.id });
    }, 0));
  }
  if (detail.incidentId === change.incident_id) soon("detail", () => detail.refresh().catch(showError));
  if (view === "map") soon("map", () => map.show().catch(showError), 1000);
  if (view === "shift") soon("shift", () => showShift($("shift"), queue).catch(showError), 1000);
}

async function reread(incidentId) {
  try {
    queue.upsert(await api("GET", `/api/v1/incidents/${incidentId}`));
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) showError(error);
  }
}

async function openIncident(incidentId) {
  let incident = queue.get(incidentId);
  if (!incident) incident = await api("GET", `/api/v1/incidents/${incidentId}`);
  queue.select(incidentId);
  try {
    await detail.open(incident.alerts[0].id);
  } catch (error) {
    showError(error);
  }
}

function show(next) {
  view = next;
  for (const tab of document.querySelectorAll("[data-view]")) {
    tab.classList.toggle("on", tab.dataset.view === next);
  }
  for (const name of ["queue", "map", "shift"]) $(`view-${name}`).hidden = name !== next;
  if (next === "map") map.show().catch(showError);
  if (next === "shift") showShift($("shift"), queue).catch(showError);
}

function switchLanguage() {
  setLanguage(language() === "en" ? "zh-CN" : "en");
  $("lang").textContent = language() === "en" ? "中文" : "English";
  loadQueue().catch(showError);
  detail.refresh().catch(showError);
  if (view !== "queue") show(view);
}

// -- a new P1 announces itself, even in a background tab ---------------------------------
// A page may sound only after the operator's first click or key (the browsers' rule),
// so the sound is readied then, whether that was logging in or anything after a reload.
function readySound() {
  audio ??= new AudioContext();
  audio.resume().catch(() => {});
}
document.addEventListener("pointerdown", readySound, { once: true, capture: true });
document.addEventListener("keydown", readySound, { once: true, capture: true });

function announce(incident) {
  beep();
  requestAnimationFrame(() => { if (!queue.inSight(incident.id)) showBelow(incident); });
  if (flashing) return;
  let on = false;
  flashing = setInterval(() => {
    on = !on;
    document.title = on ? `${t("new_p1")} ${incident.resident_name || ""}` : baseTitle;
    const stillOpen = [...queue.rows.values()].some(
      (r) => r.incident.severity === "P1" && r.incident.status === "open");
    if (!stillOpen) $("new-p1").hidden = true;
    if (!stillOpen && document.visibilityState === "visible") {
      clearInterval(flashing);
      flashing = null;
      document.title = baseTitle;
    }
  }, 800);
}

// One bar names the newest P1 the operator cannot see; a click brings it into view.
function showBelow(incident) {
  const bar = $("new-p1");
  bar.textContent = `${t("new_p1_below")}：${incident.resident_name || incident.device_id || ""}`;
  bar.hidden = false;
  bar.onclick = () => {
    bar.hidden = true;
    show("queue");
    queue.select(incident.id);
  };
}

function beep() {
  if (!audio) return;
  audio.resume().catch(() => {});
  for (let k = 0; k < 3; k += 1) {
    const tone = audio.createOscillator(), gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.value = 0.2;
    tone.connect(gain).connect(audio.destination);
    tone.start(audio.currentTime + k * 0.35);
    tone.stop(audio.currentTime + k * 0.35 + 0.2);
  }
}

function showError(error) {
  if (error instanceof ApiError && error.status === 401) {
    showLogin(error.message);
    return;
  }
  const box = document.createElement("div");
  box.className = "toast";
  box.setAttribute("role", "alert");
  box.textContent = `${t("failed")}: ${error.message}`;
  document.body.append(box);
  setTimeout(() => box.remove(), 6000);
}

// -- keys ------------------------------------------------------------------------------
document.addEventListener("keydown", (event) => {
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(event.target.tagName);
  if (event.key === "Escape") {
    if (typing) event.target.blur();
    else detail.close();
    return;
  }
  if (typing || event.ctrlKey || event.metaKey || event.altKey || $("app").hidden) return;
  const key = event.key.toLowerCase();
  // Enter on a focused button is that button's (D, then Enter, assigns the suggestion)
  if (key === "enter" && ["BUTTON", "A"].includes(event.target.tagName)) return;
  if (key === "j" || key === "arrowdown") queue.move(1);
  else if (key === "k" || key === "arrowup") queue.move(-1);
  else if (key === "enter" && queue.selected !== null) openIncident(queue.selected);
  else if (key === "a") detail.pane.querySelector('[data-action="ack"]')?.click();
  else if (key === "d") detail.pane.querySelector('[data-action="assign"]')?.click();
  else if (key === "n") { event.preventDefault(); detail.pane.querySelector("#note")?.focus(); }
  else if (key === "q") show("queue");
  else if (key === "m") show("map");
  else if (key === "s") show("shift");
  else if (key === "l") switchLanguage();
  else return;
  event.preventDefault();
});

setInterval(() => queue.tick(), 1000);
boot();

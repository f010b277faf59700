// The live queue: one row per open incident, most urgent first, then oldest (the
// API's order), kept in place by the stream's changes without re-rendering the table.

import { el } from "./api.js";
import { clock, config, duration, label, t } from "./i18n.js";

const CLOSED = new Set(["resolved", "cancelled"]);
// a timer turns amber when this share of the time to the deadline is left (>= 30 s)
const AMBER_SHARE = 0.5;
const SLICE = 100; // rows built per main-thread task

function sortKey(incident) {
  return [incident.severity, Date.parse(incident.opened_at), incident.id];
}

function before(a, b) {
  for (let k = 0; k < 3; k += 1) {
    if (a[k] < b[k]) return true;
    if (a[k] > b[k]) return false;
  }
  return false;
}

export class Queue {
  constructor({ tbody, empty, pointName, onOpen, onNewP1 }) {
    this.tbody = tbody;
    this.empty = empty;
    this.pointName = pointName;
    this.onOpen = onOpen;
    this.onNewP1 = onNewP1;
    this.rows = new Map(); // incident id -> { incident, tr, cells, key }
    this.order = []; // incident ids in display order
    this.selected = null;
  }

  // In slices, yielding between them: 500 rows built in one go held the main thread
  // for ~100 ms (bench/dashboard.py), and a click or an event waits behind it.
  async replaceAll(incidents) {
    this.rows.clear();
    this.order = [];
    this.tbody.replaceChildren();
    for (let k = 0; k < incidents.length; k += SLICE) {
      if (k > 0) await new Promise((resolve) => setTimeout(resolve, 0));
      for (const incident of incidents.slice(k, k + SLICE)) this.upsert(incident, { quiet: true });
    }
    this.refreshEmpty();
  }

  has(id) {
    return this.rows.has(id);
  }

  get(id) {
    return this.rows.get(id)?.incident;
  }

  // A whole incident as the API lists it: a new row, or a row read again.
  upsert(incident, { quiet = false } = {}) {
    if (CLOSED.has(incident.status)) {
      this.remove(incident.id);
      return;
    }
    const known = this.rows.get(incident.id);
    if (known) {
      const wasP1 = known.incident.severity === "P1";
      known.incident = { ...known.incident, ...incident };
      this.render(known);
      this.place(known);
      if (!quiet && !wasP1 && incident.severity === "P1" && incident.status === "open") {
        this.onNewP1(known.incident);
      }
      return;
    }
    const row = this.build(incident);
    this.rows.set(incident.id, row);
    this.place(row);
    this.refreshEmpty();
    if (!quiet && incident.severity === "P1" && incident.status === "open") this.onNewP1(incident);
  }

  // A change from the stream for a row shown: its state, and what was done last.
  patch(change) {
    const row = this.rows.get(change.incident_id);
    if (!row) return;
    if (CLOSED.has(change.status)) {
      this.remove(change.incident_id);
      return;
    }
    const wasP1 = row.incident.severity === "P1";
    Object.assign(row.incident, {
      status: change.status,
      status_text: change.status_text,
      severity: change.severity,
      escalation_level: change.escalation_level,
      service_point_id: change.service_point_id,
      ack_deadline: change.ack_deadline,
      last_action: change.action,
      last_at: change.at,
    });
    this.render(row);
    this.place(row);
    if (!wasP1 && change.severity === "P1" && change.status === "open") {
      this.onNewP1(row.incident);
    }
  }

  remove(id) {
    const row = this.rows.get(id);
    if (!row) return;
    row.tr.remove();
    this.rows.delete(id);
    this.order.splice(this.order.indexOf(id), 1);
    if (this.selected === id) this.selected = null;
    this.refreshEmpty();
  }

  refreshEmpty() {
    this.empty.hidden = this.rows.size > 0;
  }

  build(incident) {
    const cells = {
      priority: el("td"), status: el("td"), resident: el("td"), reason: el("td"),
      district: el("td"), age: el("td", { class: "num" }), timer: el("td", { class: "num" }),
      point: el("td"), last: el("td", { class: "last" }),
    };
    const tr = el("tr", { tabindex: "-1", "data-incident": incident.id },
      Object.values(cells));
    tr.addEventListener("click", () => this.onOpen(incident.id));
    const row = { incident: { ...incident }, tr, cells, key: null };
    this.render(row);
    return row;
  }

  render(row) {
    const { incident, cells, tr } = row;
    const top = (incident.alerts || [])[0];
    set(cells.priority, incident.severity);
    cells.priority.className = `sev ${incident.severity}`;
    set(cells.status, label("status", incident.status));
    set(cells.resident, incident.resident_name || incident.device_id || "");
    set(cells.reason, top?.reason_text || top?.reason || "");
    set(cells.district, incident.district || "");
    set(cells.point, incident.service_point_id ? this.pointName(incident.service_point_id) : "");
    set(cells.last, incident.last_action
      ? `${clock(incident.last_at)} ${label("action", incident.last_action)}` : "");
    tr.dataset.status = incident.status;
    tr.classList.toggle("selected", this.selected === incident.id);
    this.tickRow(row, Date.now());
  }

  // Keep the row where the order puts it; most changes leave it where it is.
  place(row) {
    const key = sortKey(row.incident);
    const id = row.incident.id;
    const at = this.order.indexOf(id);
    if (at >= 0) {
      const prev = this.order[at - 1], next = this.order[at + 1];
      const fits = (prev === undefined || before(this.rows.get(prev).key, key))
        && (next === undefined || before(key, this.rows.get(next).key));
      row.key = key;
      if (fits && row.tr.isConnected) return;
      this.order.splice(at, 1);
    }
    row.key = key;
    let lo = 0, hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(this.rows.get(this.order[mid]).key, key)) lo = mid + 1;
      else hi = mid;
    }
    this.order.splice(lo, 0, id);
    const next = this.order[lo + 1];
    this.tbody.insertBefore(row.tr, next === undefined ? null : this.rows.get(next).tr);
  }

  tick() {
    const now = Date.now();
    for (const row of this.rows.values()) this.tickRow(row, now);
  }

  tickRow(row, now) {
    const { incident, cells } = row;
    set(cells.age, duration((now - Date.parse(incident.opened_at)) / 1000));
    if (incident.status !== "open" || !incident.ack_deadline) {
      set(cells.timer, incident.acknowledged_at || incident.status !== "open" ? "✓" : "");
      cells.timer.className = "num";
      return;
    }
    // escalate_at moves on by one deadline per step: the first deadline is that many back
    // (and never before the incident's own first deadline)
    const step = (config.ack_deadlines_s?.[incident.severity] || 0) * 1000;
    const deadline = Math.max(
      Date.parse(incident.ack_deadline) - (incident.escalation_level || 0) * step,
      Date.parse(incident.opened_at) + step);
    const left = (deadline - now) / 1000;
    const total = Math.max(30, (deadline - Date.parse(incident.opened_at)) / 1000);
    const state = left < 0 || incident.escalation_level > 0 ? "red"
      : left <= Math.max(30, total * AMBER_SHARE) ? "amber" : "ok";
    set(cells.timer, left < 0 ? `${t("overdue")} ${duration(-left)}` : duration(left));
    cells.timer.className = `num timer ${state}`;
  }

  // Is the row on screen? A new P1 below the fold is announced where the operator looks.
  inSight(id) {
    const tr = this.rows.get(id)?.tr;
    if (!tr) return true;
    const box = tr.getBoundingClientRect();
    return box.top >= 0 && box.bottom <= window.innerHeight;
  }

  select(id) {
    const old = this.rows.get(this.selected);
    if (old) old.tr.classList.remove("selected");
    this.selected = id;
    const row = this.rows.get(id);
    if (row) {
      row.tr.classList.add("selected");
      row.tr.scrollIntoView({ block: "nearest" });
    }
  }

  move(step) {
    if (this.order.length === 0) return null;
    const at = this.order.indexOf(this.selected);
    const next = at < 0 ? 0 : Math.min(this.order.length - 1, Math.max(0, at + step));
    this.select(this.order[next]);
    return this.order[next];
  }

  refreshAll() {
    for (const row of this.rows.values()) this.render(row);
  }
}

function set(cell, text) {
  if (cell.textContent !== text) cell.textContent = text;
}

// One incident, everything an operator needs with the phone in hand: the resident,
// the device, the vitals, the reasons, the timeline, and the actions legal now.

import { api, el, fill } from "./api.js";
import { clock, config, label, t } from "./i18n.js";
import { vitalsChart } from "./vitals.js";

export class Detail {
  constructor({ pane, pointName, onError }) {
    this.pane = pane;
    this.pointName = pointName;
    this.onError = onError;
    this.alertId = null;
    this.incidentId = null;
    this.data = null;
    this.chart = null;
  }

  async open(alertId) {
    this.alertId = alertId;
    const data = await api("GET", `/api/v1/alerts/${alertId}`);
    if (this.alertId !== alertId) return; // another was opened meanwhile
    this.data = data;
    this.incidentId = data.incident.id;
    this.render();
  }

  close() {
    this.alertId = this.incidentId = this.data = null;
    this.chart?.destroy();
    this.chart = null;
    this.pane.hidden = true;
    this.pane.replaceChildren();
  }

  async refresh() {
    if (this.alertId !== null) await this.open(this.alertId);
  }

  async act(action, body) {
    try {
      await api("POST", `/api/v1/alerts/${this.alertId}/${action}`, body);
      await this.refresh();
    } catch (error) {
      this.onError(error);
    }
  }

  render() {
    const { incident, resident, device, timeline, vitals_24h: vitals } = this.data;
    // a change to this incident re-renders it: what the operator was typing stays
    const typed = this.pane.querySelector("#note")?.value || "";
    const chosen = this.pane.querySelector("#outcome")?.value;
    const typing = document.activeElement?.id === "note";
    // suggestions the operator opened stay open while assigning is still legal (the
    // change that re-renders may be their own acknowledgement, arriving late)
    const opened = incident.actions.includes("assign") ? this.pane.querySelector("#assign-box") : null;
    const focused = opened?.contains(document.activeElement) ? document.activeElement : null;
    this.chart?.destroy();
    this.chart = null;
    const chartBox = el("div", { class: "chart" });
    fill(this.pane,
      el("header", {},
        el("span", { class: `sev ${incident.severity}` }, incident.severity),
        el("h2", {}, incident.resident_name || incident.device_id),
        el("span", { class: "status", "data-status": incident.status },
          label("status", incident.status)),
        incident.service_point_id ? el("span", {}, `→ ${this.pointName(incident.service_point_id)}`) : null,
        el("button", { class: "close", onclick: () => this.close(), title: "Esc" }, t("close"))),
      this.actions(incident),
      opened || el("div", { id: "assign-box" }),
      section(t("findings"), el("ul", { class: "findings" },
        (incident.alerts || []).map((a) => el("li", {},
          el("span", { class: `sev ${a.severity}` }, a.severity), " ",
          a.reason_text || a.reason, a.count > 1 ? ` ×${a.count}` : "",
          el("time", {}, clock(a.observed_at)))))),
      resident ? this.residentView(resident) : null,
      section(t("device"), el("p", {}, `${label("device_kind", device.kind)} · ${device.id}`,
        device.battery !== null ? ` · ${t("battery")} ${device.battery}%` : "",
        device.online === null ? "" : ` · ${device.online ? t("online") : t("offline")}`)),
      section(t("vitals"), vitals.length ? chartBox : el("p", { class: "empty" }, t("no_vitals"))),
      section(t("timeline"), el("ol", { class: "timeline" },
        collapsed(timeline).map((e) => timelineItem(e, this.pointName)))),
    );
    this.pane.hidden = false;
    const note = this.pane.querySelector("#note");
    note.value = typed;
    if (typing) note.focus();
    else focused?.focus();
    const outcome = this.pane.querySelector("#outcome");
    if (outcome && chosen) outcome.value = chosen;
    if (vitals.length) this.chart = vitalsChart(chartBox, vitals);
  }

  actions(incident) {
    const legal = new Set(incident.actions);
    if (document.body.dataset.role === "service_point") {
      // a point answers, arrives and resolves; the call centre acknowledges and assigns
      for (const action of ["ack", "assign", "cancel"]) legal.delete(action);
    }
    const note = el("textarea", { id: "note", rows: 2, maxlength: 2000, placeholder: t("note") });
    const outcome = el("select", { id: "outcome" },
      config.outcomes.map((o) => el("option", { value: o }, label("outcome", o))));
    const needNote = () => {
      if (note.value.trim()) return note.value.trim();
      note.focus();
      this.onError(new Error(t("note_needed")));
      return null;
    };
    const button = (action, text, onclick, cls) => legal.has(action)
      ? el("button", { "data-action": action, class: cls, onclick }, text) : null;
    return el("div", { class: "actions" },
      button("ack", t("ack"), () => this.act("ack"), "primary"),
      button("assign", t("assign"), () => this.suggest()),
      button("accept", label("action", "accept"), () => this.act("accept")),
      button("decline", label("action", "decline"), () => this.act("decline")),
      button("arrive", label("action", "arrive"), () => this.act("arrive")),
      el("div", { class: "note-row" }, note,
        button("note", t("add_note"), () => { const n = needNote(); if (n) this.act("note", { note: n }); })),
      legal.has("resolve") ? el("div", { class: "resolve-row" }, outcome,
        button("resolve", t("resolve"), () => {
          const n = needNote();
          if (n) this.act("resolve", { outcome: outcome.value, note: n });
        })) : null,
      button("cancel", t("cancel"), () => { const n = needNote(); if (n) this.act("cancel", { note: n }); }, "danger"),
    );
  }

  async suggest() {
    const box = this.pane.querySelector("#assign-box");
    try {
      const found = await api("GET", `/api/v1/alerts/${this.alertId}/suggestions`);
      box.replaceChildren(section(t("suggestions"),
        found.call_120 ? el("p", { class: "call-120", role: "alert" }, t("call_120")) : null,
        el("ol", { class: "suggestions" }, found.considered.map((c) => el("li",
          { class: c.skipped ? "skipped" : "eligible", "data-point": c.point_id },
          el("strong", {}, this.pointName(c.point_id)),
          ` ${c.minutes.toFixed(0)} ${t("minutes")} · `,
          c.skipped ? label("skipped", c.skipped) : t("eligible"),
          c.skipped ? null : el("button", {
            class: found.best?.point_id === c.point_id ? "primary" : "",
            onclick: () => this.act("assign", { service_point_id: c.point_id }),
          }, t("assign"))))),
        found.outside ? el("p", {}, `${t("outside")}: ${this.pointName(found.outside.point_id)}`
          + ` ${found.outside.minutes.toFixed(0)} ${t("minutes")}`) : null));
      box.querySelector("button.primary")?.focus();
    } catch (error) {
      this.onError(error);
    }
  }

  residentView(r) {
    const years = r.birth_date ? ageOn(r.birth_date) : null;
    return section(t("resident_info"), el("dl", { class: "resident" },
      row(t("resident"), `${r.name}${years !== null ? `（${years}${t("age_years")}）` : ""}`),
      r.phone ? row(t("phone"), copyable(r.phone)) : null,
      row(t("address"), r.address || ""),
      r.medical_notes ? row(t("medical"), r.medical_notes) : null,
      r.allergies ? row(t("allergies"), r.allergies) : null,
      r.access_notes ? row(t("access"), r.access_notes) : null,
      row(t("contacts"), el("ul", { class: "contacts" }, (r.contacts || []).map((c) =>
        el("li", {}, `${c.name}（${c.relation || ""}） `, copyable(c.phone)))))));
  }
}

function section(title, ...children) {
  return el("section", {}, el("h3", {}, title), ...children);
}

function row(term, ...value) {
  return [el("dt", {}, term), el("dd", {}, ...value)];
}

function copyable(phone) {
  const button = el("button", { class: "copy", title: t("copy") }, t("copy"));
  button.addEventListener("click", async () => {
    await navigator.clipboard?.writeText(phone).catch(() => {});
    button.textContent = t("copied");
    setTimeout(() => { button.textContent = t("copy"); }, 1500);
  });
  return el("span", { class: "phone" }, el("a", { href: `tel:${phone}` }, phone), " ", button);
}

function ageOn(birth) {
  const born = new Date(birth), now = new Date();
  let years = now.getFullYear() - born.getFullYear();
  if (now < new Date(now.getFullYear(), born.getMonth(), born.getDate())) years -= 1;
  return years;
}

// who did it, as a person reads it: the system, a point by its name, or a user
function actorName(actor, pointName) {
  const link = /^(.+)（链接）$/.exec(actor); // a point's staff, through the SMS link
  if (link) return `${pointName(link[1])}（${t("by_link")}）`;
  return label("actor", actor);
}

// The same escalation step again and again (nobody acknowledging) is one row with a
// count and its last time, not a screen of identical rows.
function collapsed(timeline) {
  const rows = [];
  for (const e of timeline) {
    const last = rows[rows.length - 1];
    const same = last && e.action === "escalated" && last.action === "escalated"
      && e.data?.to === last.data?.to && e.actor === last.actor;
    if (same) {
      last.times = (last.times || 1) + 1;
      last.last_at = e.at;
    } else rows.push({ ...e });
  }
  return rows;
}

function timelineItem(e, pointName) {
  const considered = e.data?.considered;
  return el("li", { "data-action": e.action },
    el("time", {}, clock(e.at)), e.times ? el("time", {}, ` – ${clock(e.last_at)}`) : null, " ",
    el("strong", {}, e.action_text || e.action), e.times ? ` ×${e.times}` : "", " ",
    e.actor ? el("span", { class: "actor" }, actorName(e.actor, pointName)) : null,
    e.to_status && e.to_status !== e.from_status ? ` → ${label("status", e.to_status)}` : "",
    e.data?.service_point_id ? ` · ${pointName(e.data.service_point_id)}` : "",
    e.data?.outcome ? ` · ${label("outcome", e.data.outcome)}` : "",
    e.reason_text ? el("div", { class: "why" }, e.reason_text) : null,
    e.note ? el("div", { class: "note" }, e.note) : null,
    Array.isArray(considered) && considered.length ? el("details", {},
      el("summary", {}, `${considered.length}`),
      el("ul", {}, considered.map((c) => el("li", {},
        `${pointName(c.point_id)} ${Number(c.minutes).toFixed(0)}′ `,
        c.skipped_text || (c.skipped ? label("skipped", c.skipped) : ""))))) : null);
}

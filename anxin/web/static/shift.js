// The current shift at a glance: acknowledged within 60 s, open by priority, and the
// oldest incident nobody has acknowledged.

import { api, el } from "./api.js";
import { clock, duration, t } from "./i18n.js";

const SHIFT_H = 8;

export async function showShift(box, queue) {
  const now = new Date();
  const from = new Date(now.getTime() - SHIFT_H * 3600 * 1000);
  const report = await api("GET",
    `/api/v1/reports/sla?from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(now.toISOString())}`);
  const open = { P1: 0, P2: 0, P3: 0 };
  let oldest = null;
  for (const id of queue.order) {
    const i = queue.get(id);
    open[i.severity] = (open[i.severity] || 0) + 1;
    if (i.status === "open" && (oldest === null || i.opened_at < oldest.opened_at)) oldest = i;
  }
  // per day and priority: incidents, and the share acknowledged within 60 s
  let acked = 0, total = 0;
  for (const r of report.per_day) {
    total += r.incidents;
    acked += Math.round(Number(r.acknowledged_within_60s_share) * r.incidents);
  }
  box.replaceChildren(el("h2", {}, t("shift_title"), " ", el("small", {}, `${clock(from.toISOString())} – ${clock(now.toISOString())}`)),
    el("dl", { class: "shift" },
      el("dt", {}, t("acked_60")),
      el("dd", { id: "shift-acked" }, total ? `${Math.round((100 * acked) / total)}% (${acked}/${total})` : t("none")),
      el("dt", {}, t("open_by_priority")),
      el("dd", { id: "shift-open" }, Object.entries(open).map(([p, n]) => el("span", { class: `sev ${p}` }, `${p} ${n}`))),
      el("dt", {}, t("oldest_unacked")),
      el("dd", { id: "shift-oldest" }, oldest
        ? `${oldest.severity} ${oldest.resident_name || oldest.device_id} · ${duration((Date.now() - Date.parse(oldest.opened_at)) / 1000)}`
        : t("none"))));
}

// The responder's page: the link in a dispatch SMS, opened on a phone. No password
// (the link is the key, signed and expiring); one incident; a few big buttons.

import { api, el, fill } from "./api.js";
import { config, label, t } from "./i18n.js";

const token = location.pathname.split("/").pop();
const base = `/api/v1/links/${encodeURIComponent(token)}`;
const card = document.getElementById("card");

const WORDS = {
  accept: "接单", decline: "拒单", arrive: "我已到场", resolve: "结案",
  navigate: "导航前往", amap: "高德地图", call: "拨打老人电话",
  what: "发生了什么", where: "地址", access: "入户方式", outcome: "结果", note: "处理情况（必填）",
  done: "此派单已处理完毕，谢谢！", gone: "链接无效或已过期，请联系接警中心。",
  offer: { offered: "待接单", accepted: "已接单", declined: "已拒单", expired: "已超时",
           withdrawn: "已撤回" },
};

// what the page shows now; a change made elsewhere (the call centre cancelled, another
// point took it) re-renders it, keeping what the responder was typing
let shown = null;
const REFRESH_MS = 5000;

async function load(notice = "") {
  try {
    const view = await api("GET", base);
    const key = JSON.stringify([view.actions, view.offer_status, view.incident_status]);
    if (key !== shown || notice) render(view, notice);
    shown = key;
  } catch (error) {
    shown = null;
    card.replaceChildren(el("p", { class: "error", role: "alert" },
      error.status === 404 ? WORDS.gone : error.message));
  }
}

function render(view, notice) {
  const typed = card.querySelector("#note")?.value || "";
  const chosen = card.querySelector("#outcome")?.value;
  const note = el("textarea", { id: "note", rows: 3, maxlength: 2000, placeholder: WORDS.note });
  note.value = typed;
  const outcome = el("select", { id: "outcome" },
    config.outcomes.map((o) => el("option", { value: o }, label("outcome", o))));
  if (chosen) outcome.value = chosen;
  const message = el("p", { class: "error", role: "alert" }, notice);
  const act = async (action, body) => {
    message.textContent = "";
    try {
      await api("POST", `${base}/${action}`, body);
      await load();
    } catch (error) {
      await load(error.message); // what is possible now, and why that was not
    }
  };
  const can = new Set(view.actions);
  const here = view.lat !== null && view.lon !== null;
  fill(card,
    el("header", {},
      el("span", { class: `sev ${view.severity}` }, view.severity),
      el("h1", {}, view.who),
      el("span", { class: "status", id: "state" },
        `${WORDS.offer[view.offer_status] || view.offer_status} · ${label("status", view.incident_status)}`)),
    el("dl", {},
      el("dt", {}, WORDS.what), el("dd", { id: "what" }, view.what),
      el("dt", {}, WORDS.where), el("dd", {}, view.address),
      el("dt", {}, WORDS.access), el("dd", {}, view.access)),
    el("div", { class: "links" },
      // geo: opens the phone's own map app; 高德 is told the position is WGS-84 (GPS)
      here ? el("a", { class: "button", href: `geo:${view.lat},${view.lon}?q=${view.lat},${view.lon}` }, WORDS.navigate) : null,
      here ? el("a", { class: "button", href: `https://uri.amap.com/marker?position=${view.lon},${view.lat}&coordinate=wgs84&callnative=1` }, WORDS.amap) : null,
      view.phone ? el("a", { class: "button", href: `tel:${view.phone}` }, WORDS.call) : null),
    el("div", { class: "big-actions" },
      can.has("accept") ? el("button", { class: "primary", "data-action": "accept", onclick: () => act("accept") }, WORDS.accept) : null,
      can.has("decline") ? el("button", { class: "danger", "data-action": "decline", onclick: () => act("decline") }, WORDS.decline) : null,
      can.has("arrive") ? el("button", { class: "primary", "data-action": "arrive", onclick: () => act("arrive") }, WORDS.arrive) : null),
    can.has("resolve") ? el("div", { class: "resolve" },
      el("label", {}, WORDS.outcome, " ", outcome), note,
      el("button", { "data-action": "resolve", onclick: () => {
        if (!note.value.trim()) { message.textContent = t("note_needed"); note.focus(); return; }
        act("resolve", { outcome: outcome.value, note: note.value.trim() });
      } }, WORDS.resolve)) : null,
    view.actions.length === 0 ? el("p", { class: "done" }, WORDS.done) : null,
    message);
}

load();
setInterval(() => { if (!document.hidden) load(); }, REFRESH_MS);
document.addEventListener("visibilitychange", () => { if (!document.hidden) load(); });

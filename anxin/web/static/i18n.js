// The words of the pages in Simplified Chinese (the default) and English. Words for
// codes the server knows (statuses, actions, outcomes, skip reasons) come with the
// page, from alerts.reasons.LABELS: one list of them, not two.

export const config = JSON.parse(document.getElementById("anxin-config").textContent);

const WORDS = {
  app_name: ["安心 · 接警台", "Anxin · alarm desk"],
  token: ["令牌", "Token"],
  log_in: ["登录", "Log in"],
  log_out: ["退出", "Log out"],
  queue: ["事件队列", "Queue"],
  map: ["地图", "Map"],
  shift: ["本班统计", "This shift"],
  priority: ["级别", "Priority"],
  status: ["状态", "Status"],
  resident: ["老人", "Resident"],
  reason: ["原因", "Reason"],
  district: ["区", "District"],
  age: ["已开", "Open for"],
  ack_timer: ["受理时限", "Ack deadline"],
  point: ["服务点", "Service point"],
  last: ["最近操作", "Last"],
  queue_empty: ["暂无待处理事件", "Nothing open"],
  live: ["实时", "live"],
  reconnecting: ["连接中断，正在重连…", "Connection lost, reconnecting…"],
  overdue: ["超时", "overdue"],
  close: ["关闭", "Close"],
  ack: ["受理", "Acknowledge"],
  assign: ["派单", "Assign"],
  note: ["备注", "Note"],
  resolve: ["结案", "Resolve"],
  cancel: ["取消事件", "Cancel incident"],
  add_note: ["添加备注", "Add note"],
  outcome: ["结果", "Outcome"],
  note_needed: ["请填写备注", "A note is needed"],
  suggestions: ["建议服务点", "Suggested points"],
  minutes: ["分钟", "min"],
  eligible: ["可派", "can help"],
  call_120: ["圈内无可派服务点：请立即拨打120", "Nobody inside the circle: call 120 now"],
  outside: ["圈外最近", "Nearest outside"],
  resident_info: ["老人信息", "Resident"],
  phone: ["电话", "Phone"],
  address: ["地址", "Address"],
  age_years: ["岁", "years"],
  medical: ["病史", "Medical notes"],
  allergies: ["过敏", "Allergies"],
  access: ["入户方式", "How to get in"],
  contacts: ["紧急联系人", "Emergency contacts"],
  copy: ["复制", "Copy"],
  copied: ["已复制", "Copied"],
  device: ["设备", "Device"],
  battery: ["电量", "Battery"],
  online: ["在线", "online"],
  offline: ["离线", "offline"],
  vitals: ["近24小时体征", "Vitals, last 24 h"],
  no_vitals: ["近24小时无体征数据", "No vitals in the last 24 h"],
  findings: ["告警", "Findings"],
  timeline: ["处理记录", "Timeline"],
  new_p1: ["【P1 新事件】", "[New P1]"],
  new_p1_below: ["↓ 新的 P1 事件在下方，点击查看", "↓ A new P1 below: show it"],
  shift_title: ["本班（8小时）", "This shift (8 h)"],
  acked_60: ["60秒内受理率", "Acknowledged within 60 s"],
  open_by_priority: ["各级别未结事件", "Open by priority"],
  oldest_unacked: ["最久未受理", "Oldest unacknowledged"],
  none: ["无", "none"],
  load: ["在办", "holding"],
  capacity: ["容量", "capacity"],
  closed_now: ["未营业", "closed now"],
  failed: ["操作失败", "Failed"],
  by_link: ["短信链接", "SMS link"],
  time: ["时间", "Time"],
  hr: ["心率", "HR"],
  spo2: ["血氧", "SpO₂"],
  sbp: ["收缩压", "Systolic"],
  temp: ["体温", "Temp."],
  bad_token: ["令牌无效或已停用，请向管理员索取新令牌", "Unknown or revoked token: ask an administrator for a new one"],
  no_library: ["地图或图表组件未安装：请运维执行 scripts/install-web", "Map or chart library not installed: run scripts/install-web"],
  role_operator: ["接警员", "operator"],
  role_supervisor: ["值班主管", "supervisor"],
  role_admin: ["管理员", "administrator"],
  role_service_point: ["服务点", "service point"],
  role_caregiver: ["照护人", "caregiver"],
  shortcuts: ["快捷键：J/K 上下，Enter 打开，A 受理，D 派单，N 备注，Esc 关闭",
              "Keys: J/K move, Enter open, A acknowledge, D assign, N note, Esc close"],
};

let lang = localStorage.getItem("anxin.lang") || "zh-CN";

export function language() { return lang; }

export function setLanguage(next) {
  lang = next;
  localStorage.setItem("anxin.lang", next);
  document.documentElement.lang = next;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
}

export function t(key) {
  const words = WORDS[key];
  return words ? words[lang === "en" ? 1 : 0] : key;
}

export function label(kind, code) {
  const words = config.labels[kind]?.[code];
  return words ? words[lang === "en" ? 1 : 0] : code;
}

// Times in the operators' zone (the service's), not the browser's.
const formats = {};
export function clock(iso) {
  if (!iso) return "";
  const key = lang;
  formats[key] ??= new Intl.DateTimeFormat(lang, {
    timeZone: config.time_zone, month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  });
  return formats[key].format(new Date(iso));
}

// hours and minutes in the operators' zone, 24-hour, for a chart's axis
export function hhmm(epochSeconds) {
  formats.hhmm ??= new Intl.DateTimeFormat("zh-CN", {
    timeZone: config.time_zone, hour: "2-digit", minute: "2-digit", hour12: false,
  });
  return formats.hhmm.format(new Date(epochSeconds * 1000));
}

export function duration(seconds) {
  const s = Math.abs(Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = String(m).padStart(2, "0"), ss = String(r).padStart(2, "0");
  return (seconds < 0 ? "-" : "") + (h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`);
}

/**
 * Interface text. English is complete; another language is one more table (zh-CN covers the guard's page,
 * sign-in and the shared incident words; anything missing falls back to English). The language comes from
 * ?lang=, then the person's last choice, then the browser.
 */

const STRINGS = {
  en: {
    "app.name": "campusguard",
    "login.title": "Sign in",
    "login.username": "Name",
    "login.password": "Password",
    "login.submit": "Sign in",
    "login.failed": "Could not sign in: {detail}",
    "nav.map": "Map",
    "nav.guard": "My school",
    "nav.history": "History",
    "nav.signout": "Sign out",
    "live.live": "Live",
    "live.connecting": "Connecting…",
    "live.reconnecting": "Reconnecting in {seconds} s",
    "map.open": "Open incidents",
    "map.none": "No open incidents.",
    "map.layers.campuses": "Campuses",
    "map.layers.geofences": "Geofences",
    "map.layers.routes": "Bus routes and stops",
    "map.layers.panic": "Panic buttons",
    "map.layers.cameras": "Cameras",
    "map.layers.buses": "Buses",
    "map.layers.incidents": "Incidents",
    "map.close": "Close",
    "map.stop": "Stop {name}, scheduled {time}",
    "guard.title": "Incidents at my school",
    "guard.none": "All clear: no open incidents.",
    "guard.sound": "Tap to turn on alert sound",
    "guard.sound_on": "Alert sound on",
    "guard.new": "New incident",
    "guard.where": "Where",
    "guard.near": "Near {place}",
    "guard.pick_outcome": "What was it?",
    "guard.cancel": "Cancel",
    "guard.note_needed": "A false alarm needs a note saying why.",
    "incident.opened": "Opened",
    "incident.updated": "Updated",
    "incident.occurrences": "Signals",
    "incident.escalation": "Escalation level",
    "incident.timeline": "Timeline",
    "incident.evidence": "Evidence",
    "incident.deliveries": "Notifications",
    "incident.note": "Note",
    "incident.note_placeholder": "What happened, what you did",
    "incident.outcome": "Outcome",
    "incident.school": "School",
    "action.acknowledge": "Acknowledge",
    "action.respond": "Responding",
    "action.resolve": "Resolved",
    "action.close": "Close",
    "action.reopen": "Reopen",
    "action.refused": "Refused: {detail}",
    "status.raised": "Raised",
    "status.acknowledged": "Acknowledged",
    "status.responding": "Responding",
    "status.resolved": "Resolved",
    "status.closed": "Closed",
    "severity.critical": "Critical",
    "severity.high": "High",
    "severity.medium": "Medium",
    "severity.low": "Low",
    "severity.info": "Info",
    "outcome.real": "Real",
    "outcome.false_alarm": "False alarm",
    "outcome.drill": "Drill",
    "history.title": "Incident history",
    "history.status": "Status",
    "history.export": "Export the audit trail (CSV)",
    "history.id": "No.",
    "history.type": "Type",
    "history.severity": "Severity",
    "history.title_col": "Title",
    "history.none": "No incidents match.",
    "history.back": "Back to the list",
    "error.load": "Could not load: {detail}",
  },
  "zh-CN": {
    "app.name": "校园卫士",
    "login.title": "登录",
    "login.username": "用户名",
    "login.password": "密码",
    "login.submit": "登录",
    "login.failed": "无法登录：{detail}",
    "nav.map": "地图",
    "nav.guard": "我的学校",
    "nav.history": "历史记录",
    "nav.signout": "退出",
    "live.live": "实时",
    "live.connecting": "正在连接…",
    "live.reconnecting": "{seconds} 秒后重新连接",
    "guard.title": "本校事件",
    "guard.none": "一切正常：没有未处理的事件。",
    "guard.sound": "点按开启警报声音",
    "guard.sound_on": "警报声音已开启",
    "guard.new": "新事件",
    "guard.where": "位置",
    "guard.near": "靠近{place}",
    "guard.pick_outcome": "事件性质？",
    "guard.cancel": "取消",
    "guard.note_needed": "误报需要填写说明。",
    "incident.opened": "发生时间",
    "incident.updated": "更新时间",
    "incident.occurrences": "信号次数",
    "incident.note": "备注",
    "incident.note_placeholder": "发生了什么，您做了什么",
    "incident.school": "学校",
    "action.acknowledge": "确认",
    "action.respond": "正在处理",
    "action.resolve": "已解决",
    "action.refused": "操作被拒绝：{detail}",
    "status.raised": "新警报",
    "status.acknowledged": "已确认",
    "status.responding": "处理中",
    "status.resolved": "已解决",
    "status.closed": "已关闭",
    "severity.critical": "紧急",
    "severity.high": "高",
    "severity.medium": "中",
    "severity.low": "低",
    "severity.info": "信息",
    "outcome.real": "真实事件",
    "outcome.false_alarm": "误报",
    "outcome.drill": "演习",
    "error.load": "无法加载：{detail}",
  },
};

export const LANGUAGES = Object.keys(STRINGS);

function pickLanguage() {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked && STRINGS[asked]) {
    localStorage.setItem("campusguard.lang", asked);
    return asked;
  }
  const saved = localStorage.getItem("campusguard.lang");
  if (saved && STRINGS[saved]) return saved;
  for (const wanted of navigator.languages ?? []) {
    if (STRINGS[wanted]) return wanted;
    if (wanted.toLowerCase().startsWith("zh")) return "zh-CN";
  }
  return "en";
}

/** The language the pages speak. */
export const LANG = pickLanguage();
document.documentElement.lang = LANG;

/** Translate a key, filling {name} placeholders from `vars`; falls back to English, then to the key. */
export function t(key, vars = {}) {
  const text = STRINGS[LANG][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

/** Fill every [data-i18n] element's text and [data-i18n-placeholder] input's placeholder. */
export function translatePage(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  const title = document.querySelector("title[data-i18n]");
  if (title) document.title = t(title.dataset.i18n);
}

/** Remember a language choice and show the page in it. */
export function switchLanguage(lang) {
  localStorage.setItem("campusguard.lang", lang);
  const url = new URL(location.href);
  url.searchParams.delete("lang");
  location.assign(url);
}

/**
 * Interface text. English is complete; another language is one more table (zh-CN covers the guard's page,
 * sign-in, history, the bus panel and the shared incident words; anything missing falls back to English).
 * The language comes from ?lang=, then a choice kept on this device only, then the language of their account
 * (/api/v1/auth/me's locale: the one they picked, which the picker saves with the account, else the site
 * file's; remembered at sign-in), then the browser.
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
    "map.layers.responders": "Responders (phones)",
    "incident.responders": "Nearest responders",
    "incident.no_responders": "Nobody who could respond has shared a position in the last 30 minutes.",
    "incident.responders_failed": "Could not load responders.",
    "incident.fix_age": "{minutes} min ago",
    "incident.fix_now": "just now",
    "role.guard": "Guard",
    "role.school_admin": "School administrator",
    "role.district_officer": "District safety officer",
    "guard.share": "Share my location while on duty",
    "guard.sharing": "Sharing my location",
    "guard.share_failed": "Location not shared: {detail}",
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
    "incident.cleared": "Condition",
    "incident.cleared_unacknowledged": "cleared at {time}, not yet closed",
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
    "bus.arrivals": "Arrivals",
    "bus.as_of": "As of {time}",
    "bus.never": "This bus has not reported.",
    "bus.no_trip": "Not on a trip now.",
    "bus.reached": "reached {time}",
    "bus.expected": "expected {time}",
    "bus.scheduled": "scheduled {time}",
    "bus.late": "{minutes} min late",
    "bus.early": "{minutes} min early",
    "bus.on_time": "on time",
    "bus.track": "Track and replay",
    "bus.day": "Day",
    "bus.replay": "Replay time",
    "bus.play": "Play",
    "bus.pause": "Pause",
    "bus.no_track": "No positions that day.",
    "bus.fixes": "{count} positions",
    "history.filters": "Search",
    "history.school": "School",
    "history.any": "Any",
    "history.outcome": "Outcome",
    "history.since": "From",
    "history.until": "To",
    "history.search": "Search",
    "history.total": "{count} incidents",
    "history.more": "Next page",
    "history.csv": "Export these incidents (CSV)",
    "reports.title": "Reports",
    "reports.response": "Response times per week (minutes, median and 90th percentile)",
    "reports.ack": "To acknowledge",
    "reports.resolve": "To resolve",
    "reports.median": "median",
    "reports.p90": "p90",
    "reports.uptime": "Device uptime, last 28 days",
    "reports.devices": "{heard} of {devices} devices reporting, {online} online now",
    "reports.none": "No data in this period.",
  },
  "zh-CN": {
    "map.layers.campuses": "校园",
    "map.layers.geofences": "电子围栏",
    "map.layers.routes": "校车线路和站点",
    "map.layers.panic": "一键报警按钮",
    "map.layers.cameras": "摄像头",
    "map.layers.buses": "校车",
    "map.layers.incidents": "事件",
    "map.stop": "站点 {name}，计划 {time}",
    "incident.timeline": "处置记录",
    "incident.evidence": "证据",
    "incident.deliveries": "通知",
    "incident.outcome": "处置结果",
    "action.close": "关闭",
    "action.reopen": "重新打开",
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
    "map.layers.responders": "响应人员（手机）",
    "incident.responders": "最近的响应人员",
    "incident.no_responders": "最近 30 分钟内没有可响应人员共享位置。",
    "incident.responders_failed": "无法加载响应人员。",
    "incident.fix_age": "{minutes} 分钟前",
    "incident.fix_now": "刚刚",
    "role.guard": "保安",
    "role.school_admin": "学校管理员",
    "role.district_officer": "学区安全主管",
    "guard.share": "值班时共享我的位置",
    "guard.sharing": "正在共享我的位置",
    "guard.share_failed": "位置未共享：{detail}",
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
    "incident.escalation": "升级级别",
    "incident.cleared": "状况",
    "incident.cleared_unacknowledged": "已于 {time} 恢复正常，尚未关闭",
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
    "map.close": "关闭",
    "bus.arrivals": "到站时间",
    "bus.as_of": "更新于 {time}",
    "bus.never": "该校车尚未上报位置。",
    "bus.no_trip": "当前不在行程中。",
    "bus.reached": "{time} 已到达",
    "bus.expected": "预计 {time}",
    "bus.scheduled": "计划 {time}",
    "bus.late": "晚点 {minutes} 分钟",
    "bus.early": "提前 {minutes} 分钟",
    "bus.on_time": "准点",
    "bus.track": "轨迹与回放",
    "bus.day": "日期",
    "bus.replay": "回放时间",
    "bus.play": "播放",
    "bus.pause": "暂停",
    "bus.no_track": "当天没有位置记录。",
    "bus.fixes": "{count} 个位置点",
    "map.open": "未处理事件",
    "map.none": "没有未处理的事件。",
    "history.title": "事件历史",
    "history.status": "状态",
    "history.id": "编号",
    "history.type": "类型",
    "history.severity": "严重程度",
    "history.title_col": "标题",
    "history.none": "没有符合条件的事件。",
    "history.back": "返回列表",
    "history.filters": "搜索",
    "history.school": "学校",
    "history.any": "全部",
    "history.outcome": "结果",
    "history.since": "从",
    "history.until": "到",
    "history.search": "搜索",
    "history.total": "共 {count} 个事件",
    "history.more": "下一页",
    "history.csv": "导出这些事件（CSV）",
    "history.export": "导出审计记录（CSV）",
    "reports.title": "报表",
    "reports.response": "每周响应时间（分钟，中位数和第90百分位）",
    "reports.ack": "确认用时",
    "reports.resolve": "解决用时",
    "reports.median": "中位数",
    "reports.p90": "P90",
    "reports.uptime": "设备在线率（近28天）",
    "reports.devices": "{devices} 台设备中 {heard} 台有上报，当前在线 {online} 台",
    "reports.none": "此期间没有数据。",
  },
};

export const LANGUAGES = Object.keys(STRINGS);

const ACCOUNT_KEY = "campusguard.account-lang";

function pickLanguage() {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked && STRINGS[asked]) {
    localStorage.setItem("campusguard.lang", asked);
    return asked;
  }
  const saved = localStorage.getItem("campusguard.lang");
  if (saved && STRINGS[saved]) return saved;
  const account = localStorage.getItem(ACCOUNT_KEY);
  if (account && STRINGS[account]) return account;
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

/**
 * Take the signed-in person's language (their account's locale). Returns true when the page must reload to
 * speak it: the account's language changed and the person has not picked one on this device.
 */
export function adoptAccountLanguage(locale) {
  if (!STRINGS[locale] || localStorage.getItem(ACCOUNT_KEY) === locale) return false;
  localStorage.setItem(ACCOUNT_KEY, locale);
  const picked = new URLSearchParams(location.search).get("lang") || localStorage.getItem("campusguard.lang");
  return !picked && locale !== LANG;
}

/**
 * Show the page in a language the person picked: `saved` when the account now keeps it, else it is kept on
 * this device only (the built-in admin has no account; the server could not be reached).
 */
export function switchLanguage(lang, saved = false) {
  if (saved) {
    // Every device follows the account now, so no older device-only pick may stand in its way here.
    localStorage.setItem(ACCOUNT_KEY, lang);
    localStorage.removeItem("campusguard.lang");
  } else {
    localStorage.setItem("campusguard.lang", lang);
  }
  const url = new URL(location.href);
  url.searchParams.delete("lang");
  location.assign(url);
}

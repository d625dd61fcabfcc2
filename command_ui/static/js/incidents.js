/**
 * What every page knows about incidents: which are open, how urgent, which moves a status allows, and the
 * alarm-management badges (cleared but unacknowledged, chattering, stale, drill) every list shows alike.
 */

import { h } from "./dom.js";
import { formatClock, formatDuration } from "./format.js";
import { has, t } from "./i18n.js";

/** Statuses of an incident somebody still has to deal with. */
export const OPEN = new Set(["raised", "acknowledged", "responding"]);

/** Most urgent first (mirrors domain.incident.Severity). */
export const SEVERITIES = ["critical", "high", "medium", "low", "info"];

/** Every status, in lifecycle order. */
export const STATUSES = ["raised", "acknowledged", "responding", "resolved", "closed"];

/** Outcomes a resolve takes. */
export const OUTCOMES = ["real", "false_alarm", "drill"];

/** The incident types the shipped rules open (alerts/default_rules.yaml), each with its type.* text. */
export const TYPES = [
  "panic", "drill", "person_down", "knife_outside_kitchen", "child_check_missed", "smoke", "unattended_cooking",
  "intrusion", "loitering", "crowding", "phone_in_kitchen", "animal_in_kitchen", "route_deviated",
  "unexpected_stop", "late_arrival", "overspeed", "after_hours_movement", "device_offline", "low_battery",
  "patrol_round_missed",
];

/** An incident type in the reader's language; a type from a site's own rules shows as named there. */
export function typeName(type) {
  return has(`type.${type}`) ? t(`type.${type}`) : type;
}

/** A signal kind (what a piece of evidence reports) in the reader's language. */
export function signalName(kind) {
  return has(`signal.${kind}`) ? t(`signal.${kind}`) : kind ?? "";
}

/**
 * Say a message the server sent as a key and values: a value named `x_key` is itself a key (said as {x}),
 * one named `x_s` a duration in seconds (said in words as {x}). Unknown keys give `fallback`.
 */
export function message(key, params = {}, fallback = "") {
  if (!key || !has(key)) return fallback;
  const vars = {};
  for (const [name, value] of Object.entries(params ?? {})) {
    if (name.endsWith("_key")) vars[name.slice(0, -4)] = has(value) ? t(value) : String(value).replace(/^\w+\./, "");
    else if (name.endsWith("_s")) vars[name.slice(0, -2)] = formatDuration(value);
    else vars[name] = value;
  }
  return t(key, vars);
}

/**
 * An incident's title in the reader's language, from its title_key and title_params, with the source's display
 * name for its id; the stored (English) title for incidents from before keys, or from a rule without one.
 */
export function incidentTitle(incident) {
  const params = { ...(incident.title_params ?? {}) };
  if (incident.source_name && "source_id" in params) params.source_id = incident.source_name;
  return message(incident.title_key, params, incident.title ?? "");
}

/** A timeline entry's line in the reader's language (the API's key and params; the bare kind if unknown). */
export function timelineText(entry) {
  return message(entry.key, entry.params, entry.kind ?? "");
}

/** The moves the lifecycle allows from each status (mirrors alerts.lifecycle.TRANSITIONS). */
const MOVES = {
  raised: ["acknowledge", "respond", "resolve"],
  acknowledged: ["respond", "resolve"],
  responding: ["resolve"],
  resolved: ["close", "reopen"],
  closed: ["reopen"],
};

/** The moves allowed from a status. */
export function movesFrom(status) {
  return MOVES[status] ?? [];
}

/** Sort real alarms before drills, then most urgent first, then newest first (as the alarm board does). */
export function byUrgency(a, b) {
  const drill = Number(Boolean(a.drill)) - Number(Boolean(b.drill));
  const severity = SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity);
  return drill || severity || Date.parse(b.opened_at) - Date.parse(a.opened_at);
}

/** Open longer than this is stale (mirrors alerts.alarm_health.STALE_AFTER). */
export const STALE_AFTER_MS = 24 * 3600 * 1000;

/** Whether an incident is stale: still open more than a day after it was raised (server time). */
export function isStale(incident, now = Date.now()) {
  if (typeof incident.stale === "boolean") return incident.stale;  // the alarm board says so itself
  const raised = Date.parse(incident.raised_at ?? incident.opened_at);
  return OPEN.has(incident.status) && now - raised > STALE_AFTER_MS;
}

/**
 * The alarm-management badges of an incident (ISA-18.2): its condition cleared while nobody has acknowledged
 * it, chattering with its toggle count, stale, a drill. Each carries data-badge for tests and styles.
 * @param {object} incident from the list, the detail, the live feed or the board
 * @param {string|undefined} timeZone the school's zone, for the time it cleared
 */
export function alarmBadges(incident, timeZone, now = Date.now()) {
  const badge = (kind, text) => h("span", { class: `badge alarm-${kind}`, "data-badge": kind }, text);
  return [
    incident.cleared_at && incident.status === "raised"
      && badge("cleared", t("badge.cleared", { time: formatClock(incident.cleared_at, timeZone) })),
    incident.chattering && badge("chattering", t("badge.chattering", { count: incident.toggles ?? 0 })),
    isStale(incident, now) && badge("stale", t("badge.stale")),
    incident.drill && badge("drill", t("badge.drill")),
  ].filter(Boolean);
}

/**
 * The open incidents a page shows, kept current from the list and then the live feed.
 * apply() says what a change meant: "new" (first seen, open), "changed", "gone" (closed out) or "ignored".
 */
export class OpenIncidents {
  constructor() {
    this.byId = new Map();
  }

  /** Replace everything with the open ones of a list. */
  load(list) {
    this.byId = new Map(list.filter((i) => OPEN.has(i.status)).map((i) => [i.id, i]));
  }

  /** Take one change from the live feed. */
  apply(incident) {
    const known = this.byId.get(incident.id);
    if (!OPEN.has(incident.status)) {
      return this.byId.delete(incident.id) ? "gone" : "ignored";
    }
    // The live feed numbers each incident's states (event_seq, in commit order; updated_at may carry a
    // device's clock). A REST answer has no number and is never newer than the feed, which starts after it.
    if (known?.event_seq != null && incident.event_seq != null && known.event_seq > incident.event_seq) {
      return "ignored";
    }
    this.byId.set(incident.id, incident);
    return known ? "changed" : "new";
  }

  /** The open incidents, most urgent first. */
  sorted() {
    return [...this.byId.values()].sort(byUrgency);
  }
}

/** Load the schools in scope: a Map of id → {name, timezone, ...} and the GeoJSON features. */
export async function loadSchools(api) {
  const collection = await api.get("/api/v1/schools");
  const byId = new Map(collection.features.map((f) => [f.id, { id: f.id, ...f.properties }]));
  // The zone the caller's schools share (Beijing time across a Chinese city): for times that belong to no one
  // school (an audit record, "as of"); undefined where they differ, so the browser's zone is used.
  const zones = new Set([...byId.values()].map((s) => s.timezone));
  const zone = zones.size === 1 ? [...zones][0] : undefined;
  return { byId, features: collection.features, zone };
}

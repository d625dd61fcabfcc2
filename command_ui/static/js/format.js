/**
 * Times shown in the school's own time zone (every school carries one), whatever the viewer's clock says, with
 * the zone by name ("CST", "北美中部标准时间": never "GMT-6"); durations and "3 min ago" in the reader's language.
 */

import { LANG, t } from "./i18n.js";

const formatters = new Map();

function formatter(timeZone, withDate) {
  const key = `${timeZone}|${withDate}`;
  if (!formatters.has(key)) {
    const options = { timeZone, hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: zoneStyle(timeZone) };
    if (withDate) Object.assign(options, { year: "numeric", month: "short", day: "numeric" });
    try {
      formatters.set(key, new Intl.DateTimeFormat(LANG, options));
    } catch {
      // An unknown zone name must not break the page: fall back to the browser's zone.
      delete options.timeZone;
      options.timeZoneName = zoneStyle(undefined);
      formatters.set(key, new Intl.DateTimeFormat(LANG, options));
    }
  }
  return formatters.get(key);
}

const zoneStyles = new Map();

/**
 * How to name a zone in this language: its short name where the language has one people know ("CST" in English),
 * else its long name ("北美中部标准时间", "中国标准时间"); a bare offset ("GMT-6", "UTC+8") names no place.
 */
function zoneStyle(timeZone) {
  const key = timeZone ?? "";
  if (!zoneStyles.has(key)) {
    let style = "long";
    try {
      const parts = new Intl.DateTimeFormat(LANG, { timeZone, timeZoneName: "short" }).formatToParts(new Date());
      const name = parts.find((p) => p.type === "timeZoneName")?.value ?? "";
      if (name && !/^(GMT|UTC)/.test(name)) style = "short";
    } catch {
      // An unknown zone: the caller falls back to the browser's zone.
    }
    zoneStyles.set(key, style);
  }
  return zoneStyles.get(key);
}

/** The name of a time zone in the reader's language ("Central Standard Time", "北美中部标准时间"). */
export function zoneName(timeZone, when = new Date()) {
  try {
    const parts = new Intl.DateTimeFormat(LANG, { timeZone, timeZoneName: "long" }).formatToParts(when);
    return parts.find((p) => p.type === "timeZoneName")?.value ?? timeZone ?? "";
  } catch {
    return timeZone ?? "";
  }
}

/**
 * A duration in words in the reader's language: "30 s", "2 min", "1 h 5 min" / "30秒", "2分钟", "1小时5分钟".
 * Seconds are kept below ten minutes, where they still matter.
 * @param {number} seconds
 */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  if (s < 60) return t("duration.s", { s });
  const m = Math.floor(s / 60);
  if (m < 10 && s % 60) return t("duration.m_s", { m, s: s % 60 });
  const minutes = Math.round(s / 60);
  if (minutes < 60) return t("duration.m", { m: minutes });
  const h = Math.floor(minutes / 60);
  if (h < 24) return minutes % 60 ? t("duration.h_m", { h, m: minutes % 60 }) : t("duration.h", { h });
  const d = Math.floor(h / 24);
  return h % 24 ? t("duration.d_h", { d, h: h % 24 }) : t("duration.d", { d });
}

/** An instant in a school's zone with how long ago beside it: "03:44:00 CST (3 min ago)" / "…（3分钟前）". */
export function formatTimeAgo(iso, timeZone, withDate) {
  return iso ? t("time.with_ago", { time: formatTime(iso, timeZone, withDate), ago: formatAgo(iso) }) : "";
}

/**
 * How long ago an instant was, in words: "3 min ago" / "3分钟前" ("in 2 min" for one ahead of this clock by
 * more than a few seconds); "just now" under a minute.
 */
export function formatAgo(iso, now = Date.now()) {
  const when = Date.parse(iso);
  if (Number.isNaN(when)) return "";
  const seconds = (now - when) / 1000;
  if (seconds < -30) return t("time.in", { duration: formatDuration(-seconds) });
  if (seconds < 60) return t("time.just_now");
  return t("time.ago", { duration: formatDuration(seconds >= 600 ? Math.round(seconds / 60) * 60 : Math.floor(seconds / 60) * 60) });
}

/**
 * Format an ISO time in a time zone.
 * @param {string|null|undefined} iso time from the API
 * @param {string|undefined} timeZone IANA zone of the school
 * @param {boolean} [withDate] include the date (default: only when it is not today there)
 */
export function formatTime(iso, timeZone, withDate) {
  if (!iso) return "";
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return String(iso);
  const zone = timeZone || undefined;
  const dated = withDate ?? !sameDay(when, new Date(), zone);
  return formatter(zone, dated).format(when);
}

function sameDay(a, b, timeZone) {
  const day = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" });
  return day.format(a) === day.format(b);
}

/** Hours and minutes of an ISO time in a time zone ("07:45"), for timetables. */
export function formatClock(iso, timeZone) {
  if (!iso) return "";
  const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  try {
    return new Intl.DateTimeFormat(LANG, { ...options, timeZone }).format(new Date(iso));
  } catch {
    return new Intl.DateTimeFormat(LANG, options).format(new Date(iso));
  }
}

/** The local date (YYYY-MM-DD) of an instant in a time zone: a school's "today". */
export function localDate(when, timeZone) {
  const options = { year: "numeric", month: "2-digit", day: "2-digit" };
  try {
    return new Intl.DateTimeFormat("en-CA", { ...options, timeZone }).format(when);
  } catch {
    return new Intl.DateTimeFormat("en-CA", options).format(when);
  }
}

/** Metres between two WGS-84 points (equirectangular: exact enough across a campus or a town). */
export function metres(lat1, lon1, lat2, lon2) {
  const k = Math.PI / 180;
  const x = (lon2 - lon1) * k * Math.cos(((lat1 + lat2) / 2) * k);
  return Math.hypot(x, (lat2 - lat1) * k) * 6371000;
}

/** A distance for people on foot: metres below a kilometre, else kilometres with one decimal. */
export function formatDistance(m) {
  return m < 1000 ? t("distance.m", { m: Math.round(m) }) : t("distance.km", { km: (m / 1000).toFixed(1) });
}

/** Times shown in the school's own time zone (every school carries one), whatever the viewer's clock says. */

import { LANG } from "./i18n.js";

const formatters = new Map();

function formatter(timeZone, withDate) {
  const key = `${timeZone}|${withDate}`;
  if (!formatters.has(key)) {
    const options = { timeZone, hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" };
    if (withDate) Object.assign(options, { year: "numeric", month: "short", day: "numeric" });
    try {
      formatters.set(key, new Intl.DateTimeFormat(LANG, options));
    } catch {
      // An unknown zone name must not break the page: fall back to the browser's zone.
      delete options.timeZone;
      formatters.set(key, new Intl.DateTimeFormat(LANG, options));
    }
  }
  return formatters.get(key);
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
  return m < 1000 ? `${Math.round(m)} m` : `${(m / 1000).toFixed(1)} km`;
}

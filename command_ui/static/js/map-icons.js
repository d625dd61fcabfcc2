/**
 * The map's symbols, drawn as inline SVG with DOM APIs (no icon font, no markup strings: the CSP holds): one
 * pictogram per incident type and per device kind, and the four states a bus is shown in. The legend
 * (map-legend.js) draws the very same symbols, so what it says is what the map shows.
 */

const SVG = "http://www.w3.org/2000/svg";

/** 24×24 stroke pictograms. Several types share a family (kitchen, bus, device health) but each has its own. */
const GLYPHS = {
  panic: "M6 17h12l-1.5-2v-5a4.5 4.5 0 0 0-9 0v5zM10 19a2 2 0 0 0 4 0",
  drill: "M4 10v4h3l7 4V6l-7 4zM17.5 9a4 4 0 0 1 0 6",
  person_down: "M3 18h18M5 15h10l3-2M7 12a1.6 1.6 0 1 0 .01 0",
  knife_outside_kitchen: "M4 20l10-10 3-6 3 3-6 3z",
  child_check_missed: "M12 5a2 2 0 1 0 .01 0M9 21v-6l-2-3 5-2 5 2-2 3v6",
  smoke: "M12 3c3 4 6 6 6 10a6 6 0 0 1-12 0c0-3 2-4 3-6 1 2 2 3 3 3 0-2-1-4 0-7z",
  unattended_cooking: "M4 11h16v2a6 6 0 0 1-6 6h-4a6 6 0 0 1-6-6zM9 8c0-2 2-2 2-4M14 8c0-2 2-2 2-4",
  intrusion: "M4 20V9l8-5 8 5v11M9 20v-6h6v6",
  loitering: "M12 4a8 8 0 1 0 .01 0M12 8v4l3 2",
  crowding: "M7 10a2 2 0 1 0 .01 0M17 10a2 2 0 1 0 .01 0M3 19c0-3 2-5 4-5s4 2 4 5M13 19c0-3 2-5 4-5s4 2 4 5",
  phone_in_kitchen: "M8 3h8v18H8zM11 18h2",
  animal_in_kitchen: "M7 9a1.5 1.5 0 1 0 .01 0M17 9a1.5 1.5 0 1 0 .01 0M12 6a1.5 1.5 0 1 0 .01 0"
    + "M12 12c-3 0-5 3-5 5s2 2 5 2 5 0 5-2-2-5-5-5z",
  route_deviated: "M5 20c0-7 14-5 14-13M15.5 4H19v3.5",
  unexpected_stop: "M8 3h8l5 5v8l-5 5H8l-5-5V8zM9 12h6",
  late_arrival: "M7 3h10M7 21h10M8 3c0 5 8 5 8 9s-8 4-8 9M16 3c0 5-8 5-8 9s8 4 8 9",
  overspeed: "M4 17a8 8 0 1 1 16 0M12 17l4-5",
  after_hours_movement: "M15 4a8 8 0 1 0 5 12 7 7 0 0 1-5-12z",
  device_offline: "M9 3v5M15 3v5M7 8h10v3a5 5 0 0 1-10 0zM12 16v5M4 4l16 16",
  low_battery: "M3 8h15v8H3zM18 11h2v2h-2M6 11v2",
  incident: "M12 5v9M12 18v.5",
  // Devices.
  panic_button: "M12 4a8 8 0 1 0 .01 0M12 8v5M12 16v.5",
  camera: "M3 8h12v8H3zM15 11l6-3v8l-6-3",
  bus_tracker: "M5 4h14v13H5zM5 11h14M8 20v-3M16 20v-3",
  person_tracker: "M12 4a2.5 2.5 0 1 0 .01 0M6 21c0-5 3-8 6-8s6 3 6 8",
  sensor: "M12 12a1 1 0 1 0 .01 0M8 8a6 6 0 0 0 0 8M16 8a6 6 0 0 1 0 8",
};

/** The device kinds the map shows, in legend order. */
export const DEVICE_KINDS = ["panic_button", "camera", "bus_tracker", "person_tracker"];

/** What a bus may be shown as, most telling first (a bus off its route that also went silent is off route). */
export const BUS_STATES = ["off_route", "silent", "late", "on_time"];

/** A bus that has not reported for this long is silent (trackers report every few seconds while driving). */
export const SILENT_MS = 5 * 60_000;

/**
 * A pictogram as an <svg> element (aria-hidden: the marker carries the name).
 * @param {string} name an incident type or a device kind; an unknown type gets the generic mark
 */
export function glyph(name) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "glyph");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", GLYPHS[name] ?? GLYPHS.incident);
  svg.append(path);
  return svg;
}

/** Whether a type or kind has a pictogram of its own. */
export function hasGlyph(name) {
  return Object.hasOwn(GLYPHS, name);
}

/**
 * A bus's state from what the page knows: its newest fix's time and the open incidents about it.
 * @param {number} lastFix the newest fix's time, ms since the epoch
 * @param {Iterable<object>} incidents open incidents (any; those naming this bus count)
 * @param {Set<string>} ids the bus's id and its trackers' ids (an incident names one as its source)
 * @param {number} now ms since the epoch
 * @returns {"off_route"|"silent"|"late"|"on_time"}
 */
export function busState(lastFix, incidents, ids, now) {
  let deviated = false;
  let late = false;
  for (const i of incidents) {
    if (!ids.has(i.title_params?.source_id)) continue;
    if (i.type === "route_deviated") deviated = true;
    else if (i.type === "late_arrival") late = true;
  }
  if (deviated) return "off_route";
  if (!(now - lastFix <= SILENT_MS)) return "silent";
  return late ? "late" : "on_time";
}

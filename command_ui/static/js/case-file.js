/**
 * The incident as a case file, inside the incident panel: the evidence itself (the camera's snapshot, the place on
 * a small map with the campus and, for a bus, its track ten minutes either side of the moment, a sensor's
 * readings), who has seen it and who is responding, and the school's staff to call (for those who act on it).
 *
 * Each part is drawn when its answer comes (GET /api/v1/incidents/{id}/case-file and /contacts), so the rest of
 * the panel never waits; everything from the server is set as text, never parsed as HTML.
 */

import * as L from "/vendor/leaflet/leaflet-src.esm.js";
import { api } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { formatAgo, formatTime, formatTimeAgo } from "./format.js";
import { has, t } from "./i18n.js";
import { basemap, label, setDatum, toLatLng } from "./map-layers.js";

const BINARY_METRICS = new Set(["smoke", "door_open", "water_leak", "motion", "tamper"]);

/**
 * The case file's sections, empty until their answers come.
 * @param {object} incident the incident as GET /api/v1/incidents/{id} gives it
 * @param {{canAct: boolean, zone?: string}} options
 * @returns {HTMLElement}
 */
export function caseFile(incident, options) {
  leafletStyles();
  const evidence = h("div", { class: "case-evidence", "data-testid": "case-evidence" });
  const people = h("div", { class: "case-people", "data-testid": "case-people" });
  const contacts = h("div", { class: "case-contacts", "data-testid": "case-contacts" });
  const root = h("section", { class: "case-file", "data-testid": "case-file" }, evidence, people,
    options.canAct ? contacts : null);
  api.get(`/api/v1/incidents/${incident.id}/case-file`).then((file) => {
    drawEvidence(evidence, file, options.zone);
    drawPeople(people, file, incident, options.zone);
    root.dataset.ready = "true";
  }).catch(() => {
    replaceChildren(evidence, h("p", { class: "error" }, t("case.failed")));
  });
  if (options.canAct) {
    api.get(`/api/v1/incidents/${incident.id}/contacts`).then((list) => drawContacts(contacts, list))
      .catch(() => replaceChildren(contacts, h("h3", {}, t("case.contacts")),
        h("p", { class: "error" }, t("case.contacts_failed"))));
  }
  return root;
}

function drawEvidence(el, file, zone) {
  const pictures = file.snapshots.map((s) => snapshot(s, file.may_see_faces, zone));
  const place = h("div", { class: "case-map", "data-testid": "case-map", role: "figure",
    "aria-label": file.track.length ? t("case.map_track") : t("case.map_place") });
  replaceChildren(el, h("h3", {}, t("case.title")), pictures,
    file.lon != null || file.track.length || file.campus ? place : null,
    file.track.length ? h("p", { class: "muted", "data-testid": "case-track" },
      t("case.track", { bus: file.bus_name ?? file.bus_id, fixes: file.track.length })) : null,
    file.readings.length ? readings(file.readings, zone) : null);
  if (place.isConnected) drawMap(place, file).catch(() => place.remove());
}

/** One snapshot: faces blurred; for the roles allowed, a toggle loads the original (every view is audited). */
function snapshot(s, mayUnblur, zone) {
  const url = `/api/v1/snapshots/${s.id}.jpg`;
  const img = h("img", { src: url, class: "snapshot", "data-testid": "case-snapshot", width: s.width,
    height: s.height, loading: "lazy", alt: t("case.snapshot_alt", { camera: s.camera_name, time: formatTime(s.time, zone) }) });
  let faces = false;
  const toggle = mayUnblur && h("button", { type: "button", class: "link", "data-testid": "case-faces",
    "aria-pressed": "false", onclick: () => {
      faces = !faces;
      img.src = faces ? `${url}?faces=true` : url;
      toggle.textContent = faces ? t("case.hide_faces") : t("case.show_faces");
      toggle.setAttribute("aria-pressed", String(faces));
    } }, t("case.show_faces"));
  return h("figure", { class: "case-snapshot" }, img,
    h("figcaption", {}, h("span", { translate: "no" }, s.camera_name), ` · ${formatTimeAgo(s.time, zone)} `, toggle));
}

/** The place on a small map: the campus, the incident, and the bus's track with where it was at the moment. */
async function drawMap(el, file) {
  const tiles = await basemap(api);
  setDatum(tiles.crs);
  const map = L.map(el, { zoomControl: false, attributionControl: true, scrollWheelZoom: false });
  map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
  if (tiles.layer) tiles.layer.addTo(map);
  // The view holds the place with the bus's track if there is one, else with the campus around it.
  const focus = L.featureGroup().addTo(map);
  if (file.campus) {
    L.geoJSON(file.campus, { coordsToLatLng: (c) => toLatLng(c[0], c[1]),
      style: { className: "campus", color: "#1d4ed8", weight: 2, fillOpacity: 0.12 } })
      .addTo(file.track.length ? map : focus);
  }
  if (file.track.length) {
    L.polyline(file.track.map((f) => toLatLng(f.lon, f.lat)),
      { className: "case-track", color: "#0f766e", weight: 4, opacity: 0.85 }).addTo(focus);
    const moment = Date.parse(file.moment);
    const at = file.track.reduce((a, b) => (Math.abs(Date.parse(b.time) - moment) < Math.abs(Date.parse(a.time) - moment) ? b : a));
    L.circleMarker(toLatLng(at.lon, at.lat), { radius: 6, className: "case-bus", color: "#0f766e", fillOpacity: 1 })
      .bindTooltip(label(file.bus_name ?? file.bus_id ?? "")).addTo(focus);
  }
  if (file.lon != null && file.lat != null) {
    L.circleMarker(toLatLng(file.lon, file.lat), { radius: 8, className: "case-place", color: "#b91c1c", fillOpacity: 0.6 })
      .addTo(focus);
  }
  const bounds = focus.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds.pad(0.2), { maxZoom: 17 });
  el.dataset.drawn = "true";
}

function readings(list, zone) {
  const value = (r) => (BINARY_METRICS.has(r.metric) ? t(r.value ? "case.on" : "case.off") : String(r.value));
  return h("div", { "data-testid": "case-readings" }, h("h4", {}, t("case.readings")),
    h("ol", { class: "events" }, list.map((r) => h("li", {},
      h("time", { datetime: r.time }, formatTime(r.time, zone)), " ",
      h("span", { translate: "no" }, r.sensor_name), ` · ${metricName(r.metric)}: `, h("strong", {}, value(r))))));
}

function metricName(metric) {
  return has(`metric.${metric}`) ? t(`metric.${metric}`) : metric;
}

/** Who has seen it (when), who acknowledged or took it on (from the timeline). */
function drawPeople(el, file, incident, zone) {
  const responding = (incident.timeline ?? []).filter((e) => e.kind === "respond" || e.kind === "acknowledge");
  const person = (name, role, time, kind) => h("li", {}, h("strong", { translate: "no" }, name),
    role ? ` · ${t(`case.role.${role}`)}` : "", kind ? ` · ${t(`case.did.${kind}`)}` : "", " · ",
    h("time", { datetime: time, title: formatTime(time, zone, true) }, formatAgo(time)));
  replaceChildren(el,
    h("h3", {}, t("case.seen")),
    file.seen.length
      ? h("ul", { class: "events", "data-testid": "case-seen" }, file.seen.map((s) => person(s.name, s.role, s.time)))
      : h("p", { class: "muted" }, t("case.seen_nobody")),
    h("h3", {}, t("case.responding")),
    responding.length
      ? h("ul", { class: "events", "data-testid": "case-responding" },
        responding.map((e) => person(e.actor_name ?? e.actor, null, e.time, e.kind)))
      : h("p", { class: "muted" }, t("case.responding_nobody")));
}

/** The school's guards and administrators, each a tel: link a phone dials with one tap. */
function drawContacts(el, list) {
  const dial = (phone) => `tel:${phone.replace(/[^\d+]/g, "")}`;
  replaceChildren(el, h("h3", {}, t("case.contacts")), list.length
    ? h("ul", { class: "contacts" }, list.map((c) => h("li", { "data-user-id": c.user_id },
      h("a", { href: dial(c.phone), class: "tel", "aria-label": t("case.call", { name: c.name }) },
        h("span", { class: "name", translate: "no" }, c.name),
        h("span", { class: "phone" }, c.phone), h("span", { class: "muted" }, t(`case.role.${c.role}`))))))
    : h("p", { class: "muted" }, t("case.contacts_none")));
}

/** Leaflet's stylesheet, for pages that show a map only in this panel (the history page). */
function leafletStyles() {
  if (document.querySelector('link[href$="leaflet/leaflet.css"]')) return;
  document.head.append(h("link", { rel: "stylesheet", href: "/vendor/leaflet/leaflet.css" }));
}

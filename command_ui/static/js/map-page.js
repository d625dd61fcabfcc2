/**
 * The district safety officer's map: the district's layers over its basemap, buses moving live in the colour of
 * their state (on time, late, off route, silent), open incidents pulsing in their severity's colour with their
 * type's pictogram, a legend, a side list of open incidents and a panel to read and act on one. A click on a
 * bus (or its route) opens its arrivals and its day's track with a replay slider.
 */

import * as L from "/vendor/leaflet/leaflet-src.esm.js";
import { ACT_ON_INCIDENTS, api } from "./api.js";
import { BusPanel } from "./bus-panel.js";
import { h, replaceChildren } from "./dom.js";
import { formatTimeAgo } from "./format.js";
import { t } from "./i18n.js";
import { showIncident } from "./incident-detail.js";
import { OpenIncidents, alarmBadges, incidentTitle, loadSchools, typeName } from "./incidents.js";
import { LiveFeed, statusShower } from "./live.js";
import { busState, glyph } from "./map-icons.js";
import {
  basemap, campusLayer, deviceLayer, geofenceLayer, keepLabelsApart, label, labelPane, routeLayer, setDatum, toLatLng,
  watchBox,
} from "./map-layers.js";
import { Legend } from "./map-legend.js";
import { showError, startPage } from "./shell.js";
import { cameraPopups } from "./video-player.js";

// maxZoom: the generated basemap has no zoom limit of its own, and clustering needs the map to have one.
const map = L.map("map", { zoomControl: false, preferCanvas: false, maxZoom: 19 }).setView([40.8, -96.7], 12);
// Leaflet's own controls speak English: their tooltips in the reader's language, its credit without one.
L.control.zoom({ zoomInTitle: t("map.zoom_in"), zoomOutTitle: t("map.zoom_out") }).addTo(map);
map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
/** Leaflet's scale bar, its units said in the reader's language (米, 公里). */
const Scale = L.Control.Scale.extend({
  _updateMetric(maxMeters) {
    const meters = this._getRoundNum(maxMeters);
    const text = meters < 1000 ? t("map.scale_m", { n: meters }) : t("map.scale_km", { n: meters / 1000 });
    this._updateScale(this._mScale, text, meters / maxMeters);
  },
});
new Scale({ position: "bottomright", imperial: document.documentElement.lang === "en" }).addTo(map);
const legend = new Legend(map);
const incidents = new OpenIncidents();
const incidentLayer = L.layerGroup().addTo(map);
const busLayer = L.layerGroup().addTo(map);
const responderLayer = L.layerGroup().addTo(map);
const incidentMarkers = new Map();
const busMarkers = new Map();
const responderMarkers = new Map();
let people = new Map();  // phone tracker id -> its device (the person's name)
let schools = new Map();
let buses = new Map();
const busIds = new Map();  // bus id -> the ids an incident may name it by (the bus's own, its trackers')
let me = null;
const busPanel = new BusPanel(map, {
  section: document.getElementById("bus-panel"), body: document.getElementById("bus-panel-body"),
  schools: () => schools, buses: () => buses,
});

function openBus(busId) {
  busPanel.open(busId).catch((error) => showError(error, document.getElementById("bus-panel-body")));
}
let selected = null;

function busIcon(heading) {
  const arrow = h("div", { class: "bus-arrow", style: `transform: rotate(${heading ?? 0}deg)` });
  return L.divIcon({ className: "bus", iconSize: [22, 22], html: arrow });
}

/** Colour a bus by its state, and name it with its state for a screen reader and the keyboard. */
function paintBus(key, known, now = Date.now()) {
  const state = busState(known.time, incidents.byId.values(), busIds.get(key) ?? new Set([key]), now);
  const el = known.marker.getElement();
  if (!el || el.dataset.state === state) return;
  el.classList.remove(`bus-state-${el.dataset.state}`);
  el.classList.add(`bus-state-${state}`);
  el.dataset.state = state;
  el.setAttribute("aria-label", t("map.bus_named", {
    name: buses.get(key)?.properties.name ?? key, state: t(`map.bus_state.${state}`) }));
}

function paintBuses() {
  const now = Date.now();
  for (const [key, known] of busMarkers) paintBus(key, known, now);
}

/** Place or move a bus; several trackers may report for one bus, the newest fix wins. */
function moveBus(p) {
  const key = p.bus_id ?? p.device_id;
  const known = busMarkers.get(key);
  // Compared as instants: the REST layer and the live feed write the same moment with different precision.
  const time = Date.parse(p.time);
  if (known && known.time > time) return;
  if (known) {
    known.marker.setLatLng(toLatLng(p.lon, p.lat));
    const arrow = known.marker.getElement()?.querySelector(".bus-arrow");
    if (arrow && p.heading_deg != null) arrow.style.transform = `rotate(${p.heading_deg}deg)`;
    known.time = time;
    paintBus(key, known);
    return;
  }
  // Above the incidents (zIndexOffset): a bus parked at the depot must not vanish under an incident's disc.
  const marker = L.marker(toLatLng(p.lon, p.lat), { icon: busIcon(p.heading_deg), title: key, zIndexOffset: 2000 })
    .addTo(busLayer);
  marker.bindTooltip(label(buses.get(key)?.properties.name ?? key));
  marker.on("click", () => openBus(key));
  const entry = { marker, time };
  busMarkers.set(key, entry);
  paintBus(key, entry);
}

/** Place or move a person's phone (a guard, an administrator, an officer): the responders the officer sends. */
function moveResponder(p) {
  const time = Date.parse(p.time);
  const known = responderMarkers.get(p.device_id);
  if (known && known.time > time) return;
  if (known) {
    known.marker.setLatLng(toLatLng(p.lon, p.lat));
    known.time = time;
    return;
  }
  const name = people.get(p.device_id)?.properties.name ?? p.device_id;
  const icon = L.divIcon({ className: "responder", iconSize: [16, 16], html: "" });
  const marker = L.marker(toLatLng(p.lon, p.lat), { icon, title: name, zIndexOffset: 500 }).addTo(responderLayer);
  marker.bindTooltip(label(name));
  responderMarkers.set(p.device_id, { marker, time });
}

function drawIncidents() {
  for (const [id, marker] of incidentMarkers) {
    if (!incidents.byId.has(id)) {
      marker.remove();
      incidentMarkers.delete(id);
    }
  }
  for (const i of incidents.byId.values()) {
    if (i.lat == null || i.lon == null) continue;
    const html = h("span", { class: "incident-symbol" }, h("span", { class: "pulse-ring", "data-incident-id": i.id }),
      glyph(i.type));
    const icon = L.divIcon({ className: `incident-marker sev-${i.severity} status-${i.status} type-${i.type}`,
      iconSize: [28, 28], html });
    const known = incidentMarkers.get(i.id);
    if (known) {
      known.setLatLng(toLatLng(i.lon, i.lat)).setIcon(icon);
    } else {
      const marker = L.marker(toLatLng(i.lon, i.lat), { icon, title: incidentTitle(i), zIndexOffset: 1000 }).addTo(incidentLayer);
      marker.on("click", () => select(i.id));
      incidentMarkers.set(i.id, marker);
    }
    incidentMarkers.get(i.id).getElement()?.setAttribute("aria-label",
      `${typeName(i.type)}: ${incidentTitle(i)} (${t(`severity.${i.severity}`)})`);
  }
  legend.showTypes([...incidents.byId.values()].filter((i) => i.lat != null).map((i) => i.type));
  paintBuses();
  drawList();
}

function drawList() {
  const list = document.getElementById("incident-list");
  const open = incidents.sorted();
  replaceChildren(list, open.length ? open.map((i) => h("li", {},
    h("button", {
      type: "button", class: `incident-item sev-${i.severity}`, "data-incident-id": i.id,
      "aria-pressed": selected === i.id ? "true" : "false", onclick: () => select(i.id),
    },
    h("span", { class: "title" }, incidentTitle(i)),
    h("span", { class: "meta" }, `${schools.get(i.school_id)?.name ?? i.school_id} · ${typeName(i.type)} · `,
      formatTimeAgo(i.opened_at, schools.get(i.school_id)?.timezone), " · ",
      h("span", { class: `status status-${i.status}` }, t(`status.${i.status}`))),
    h("span", { class: "badges" }, alarmBadges(i, schools.get(i.school_id)?.timezone))))) : h("li", { class: "empty" }, t("map.none")));
}

async function select(id, focus = true) {
  selected = id;
  drawList();
  const panel = document.getElementById("panel");
  panel.hidden = false;
  const body = document.getElementById("panel-body");
  const incident = await showIncident(body, id, {
    schools, canAct: ACT_ON_INCIDENTS.has(me.role), onChanged: () => select(id, false),
    onResponder: (r) => {
      moveResponder({ device_id: r.device_id, lon: r.lon, lat: r.lat, time: r.time });
      map.setView(toLatLng(r.lon, r.lat), Math.max(map.getZoom(), 17));
    },
  });
  if (focus && incident.lat != null) {
    // body[data-focused] says the map has arrived (after its zoom animation) at the chosen incident.
    delete document.body.dataset.focused;
    map.once("moveend", () => { document.body.dataset.focused = String(id); });
    map.setView(toLatLng(incident.lon, incident.lat), Math.max(map.getZoom(), 16));
  }
}

async function drawSite() {
  // The datum first: over GCJ-02 tiles of China every layer below is drawn shifted.
  const tiles = await basemap(api);
  setDatum(tiles.crs);
  const { byId, features } = await loadSchools(api);
  schools = byId;
  const [fences, routes, panic, cameras, trackers, phones] = await Promise.all([
    api.get("/api/v1/geofences"), api.get("/api/v1/buses"),
    api.get("/api/v1/devices?kind=panic_button"), api.get("/api/v1/devices?kind=camera"),
    api.get("/api/v1/devices?kind=bus_tracker"), api.get("/api/v1/devices?kind=person_tracker"),
  ]);
  people = new Map(phones.features.map((f) => [f.id, f]));
  buses = new Map(routes.features.map((f) => [f.id, f]));
  for (const id of buses.keys()) busIds.set(id, new Set([id]));
  for (const f of trackers.features) busIds.get(f.properties.bus_id)?.add(f.id);
  const campuses = campusLayer(features, true, labelPane(map)).addTo(map);
  keepLabelsApart(map, campuses);
  const devices = await deviceLayer([["panic_button", panic], ["camera", cameras]]);
  cameraPopups(devices, cameras);
  const overlays = {
    [t("map.layers.campuses")]: campuses,
    [t("map.layers.geofences")]: geofenceLayer(fences).addTo(map),
    [t("map.layers.routes")]: routeLayer(routes, openBus).addTo(map),
    [t("map.layers.devices")]: devices.addTo(map),
    [t("map.layers.buses")]: busLayer,
    [t("map.layers.responders")]: responderLayer,
    [t("map.layers.incidents")]: incidentLayer,
  };
  if (tiles.provider === "generated") {
    map.attributionControl.addAttribution(escapeText(t("map.generated_credit")));
  }
  const layers = L.control.layers({ [t("map.basemap")]: tiles.layer.addTo(map) }, overlays,
    { collapsed: true }).addTo(map);
  const toggle = layers.getContainer().querySelector(".leaflet-control-layers-toggle");
  toggle?.setAttribute("title", t("map.layer_picker"));
  toggle?.setAttribute("aria-label", t("map.layer_picker"));
  if (campuses.getLayers().length) map.fitBounds(campuses.getBounds().pad(0.15));
  for (const f of trackers.features) {
    if (!f.geometry || !f.properties.last_fix) continue;
    const [lon, lat] = f.geometry.coordinates;
    moveBus({ device_id: f.id, bus_id: f.properties.bus_id, lon, lat, time: f.properties.last_fix });
  }
  // Phones that reported in the last half hour: where someone is now, not where they once were.
  for (const f of phones.features) {
    if (!f.geometry || !f.properties.last_fix || Date.now() - Date.parse(f.properties.last_fix) > 1_800_000) continue;
    const [lon, lat] = f.geometry.coordinates;
    moveResponder({ device_id: f.id, lon, lat, time: f.properties.last_fix });
  }
}

async function main() {
  me = await startPage();
  document.getElementById("panel-close").addEventListener("click", () => {
    document.getElementById("panel").hidden = true;
    selected = null;
    drawList();
  });
  document.getElementById("bus-panel-close").addEventListener("click", () => busPanel.close());
  await drawSite();
  incidents.load(await api.get("/api/v1/incidents?status=raised&status=acknowledged&status=responding&limit=500"));
  drawIncidents();
  const feed = new LiveFeed({
    onIncident: (incident) => {
      if (incidents.apply(incident) === "ignored") return;
      drawIncidents();
      // Redraw the open panel, unless the officer is writing a note in it.
      const writing = document.querySelector("#panel-body textarea")?.value;
      if (selected === incident.id && !writing) select(incident.id, false);
    },
    onPositions: (positions) => {
      for (const p of positions) {
        if (p.kind === "bus_tracker") moveBus(p);
        else if (p.kind === "person_tracker") moveResponder(p);
      }
    },
    onStatus: statusShower(document.getElementById("live-status"), t),
  }).start();
  // Positions only for what the map shows (with a margin, so a small pan needs no new request), and only the
  // moves its zoom can show: zooming ends in a moveend too, so the server learns each new zoom.
  const watchView = () => feed.watch(watchBox(map.getBounds().pad(0.25)), map.getZoom());
  watchView();
  let pending = null;
  map.on("moveend", () => {
    clearTimeout(pending);
    pending = setTimeout(watchView, 300);
  });
  // A bus goes silent by not reporting: nothing arrives to say so, so the states are looked at every 15 s.
  setInterval(paintBuses, 15_000);
  document.body.dataset.ready = "true";
}

/** Text for Leaflet's attribution, which takes HTML. */
function escapeText(text) {
  const box = document.createElement("span");
  box.textContent = text;
  return box.innerHTML;
}

main().catch((error) => showError(error));

/**
 * The command centre's video wall (/wall): the whole part of the organisation on a map, the open incidents
 * most urgent first, counters, a clock in the site's timezone and a ticker of the latest events. It runs with
 * nobody at it: a new critical incident flashes the screen and sounds an alarm (a drill is shown as one, in its
 * own colour, and never flashes nor rings), and after a dropped socket
 * or a server restart it says "reconnecting", then catches up (the live feed replays from its cursor, the
 * list and counters are read again) without a reload.
 *
 * Beside the map, the cameras of the most urgent camera incidents play live (wall-cameras.js).
 *
 * The map's basemap and fixed layers come from map-layers.js, read-only here: the same tiles, datum and
 * campuses as the map page. Not for guards (their page is /guard); the API refuses them the counters too.
 */

import * as L from "/vendor/leaflet/leaflet-src.esm.js";
import { api } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { formatClock, zoneName } from "./format.js";
import { LANG, t } from "./i18n.js";
import { OpenIncidents, alarmBadges, incidentTitle, loadSchools, typeName } from "./incidents.js";
import { LiveFeed, statusShower } from "./live.js";
import { basemap, campusLayer, keepLabelsApart, label, labelPane, setDatum, toLatLng } from "./map-layers.js";
import { showError, startPage } from "./shell.js";
import { WallCameras } from "./wall-cameras.js";

/** Roles that open the wall (mirrors command_ui.routers.wall.WATCH_WALL). */
const WALL_ROLES = new Set(["school_admin", "district_officer", "district_admin", "admin"]);
const COUNTERS = [
  ["critical", (c) => c.open_critical, (c) => c.open_critical > 0],
  ["high", (c) => c.open_high, (c) => c.open_high > 0],
  ["unacknowledged", (c) => c.unacknowledged, (c) => c.unacknowledged > 0],
  ["alarms_today", (c) => c.alarms_today, () => false],
  ["buses_out", (c) => c.buses_out, () => false],
  ["buses_late", (c) => c.buses_late, (c) => c.buses_late > 0],
  ["buses_silent", (c) => c.buses_silent, (c) => c.buses_silent > 0],
  ["devices_online", (c) => `${c.devices_online} / ${c.devices}`, () => false],
  ["devices_offline", (c) => c.devices_offline, (c) => c.devices_offline > 0],
  // Registered but never heard from: not an outage (nothing went silent) but an installation to finish.
  ["devices_never_reported", (c) => c.devices_never_reported, () => false],
];
const COUNTS_EVERY_MS = 15_000;
const COUNTS_SETTLE_MS = 500; // a burst of feed messages (the replay on connect) reads the counters once
const TICKER_LENGTH = 5;
const SHOWN = 8; // open incidents that fit the side at 1080 lines; the rest are counted below them

const incidents = new OpenIncidents();
const markers = new Map();
const buses = new Map();
const ticker = [];
let schools = new Map();
let zone = "UTC";
let map = null;
let incidentLayer = null;
let relabel = () => {}; // the school names' pass, run again when an incident's standing title comes or goes
let busLayer = null;
let cameras = null; // the camera tiles, once the map (whose size they share) is drawn

// --- The alarm: a flash and a sound for each new critical -------------------------------------------------

let audio = null;

/** The sound's context; a kiosk started without autoplay permission gets a button to allow it. */
function sound() {
  audio ??= new AudioContext();
  document.getElementById("sound-off").hidden = audio.state === "running";
  return audio;
}

/** Three rising two-tone beeps, made by an oscillator: nothing to download, nothing to serve. */
function ring() {
  const ctx = sound();
  if (ctx.state !== "running") return;
  const gain = ctx.createGain();
  gain.gain.value = 0.25;
  gain.connect(ctx.destination);
  for (let i = 0; i < 6; i += 1) {
    const tone = ctx.createOscillator();
    tone.frequency.value = i % 2 ? 1320 : 880;
    tone.connect(gain);
    tone.start(ctx.currentTime + i * 0.25);
    tone.stop(ctx.currentTime + i * 0.25 + 0.2);
  }
  document.body.dataset.rang = String(Number(document.body.dataset.rang ?? 0) + 1);
}

let flashTimer = null;

function alarm(incident) {
  document.body.dataset.alarms = String(Number(document.body.dataset.alarms ?? 0) + 1);
  const flash = document.getElementById("flash");
  replaceChildren(flash, h("span", {}, `${t("wall.new_critical")}: ${incidentTitle(incident)}`));
  flash.dataset.incidentId = String(incident.id);
  flash.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { flash.hidden = true; }, 20_000);
  ring();
}

// --- Drawing ------------------------------------------------------------------------------------------------

function schoolName(id) {
  return schools.get(id)?.name ?? id;
}

function minutesOpen(i) {
  return Math.max(0, Math.floor((Date.now() - Date.parse(i.opened_at)) / 60_000));
}

/** A drill is an exercise: drawn in its own colour with the drill badge, never as the red of a real alarm. */
function looks(i) {
  return i.drill ? `drill status-${i.status}` : `sev-${i.severity} status-${i.status}`;
}

function drawIncidents() {
  const open = incidents.sorted();
  const rows = open.slice(0, SHOWN).map((i) => h("li", {
    class: looks(i), "data-incident-id": i.id, "data-severity": i.severity, "data-drill": String(Boolean(i.drill)),
  }, h("span", { class: "title" }, incidentTitle(i), " ", alarmBadges(i, zone).filter((b) => b.dataset.badge === "drill")),
  h("span", { class: "meta" }, `${schoolName(i.school_id)} · ${typeName(i.type)} · `,
    t("wall.age", { minutes: minutesOpen(i) }), " · ", h("span", { class: "status" }, t(`status.${i.status}`)))));
  cameras?.update(open);
  if (open.length > SHOWN) rows.push(h("li", { class: "more" }, `+${open.length - SHOWN}`));
  replaceChildren(document.getElementById("wall-incidents"),
    rows.length ? rows : h("li", { class: "empty" }, t("wall.none")));
  for (const [id, marker] of markers) {
    if (!incidents.byId.has(id)) {
      marker.remove();
      markers.delete(id);
    }
  }
  for (const i of open) {
    if (i.lat == null || i.lon == null) continue;
    const icon = L.divIcon({ className: `incident-marker ${looks(i)}`, iconSize: [34, 34],
      html: h("span", { class: "pulse-ring", "data-incident-id": i.id }) });
    const known = markers.get(i.id);
    if (known) known.setLatLng(toLatLng(i.lon, i.lat)).setIcon(icon);
    else markers.set(i.id, L.marker(toLatLng(i.lon, i.lat), { icon, keyboard: false, zIndexOffset: 1000 })
      .bindTooltip(label(incidentTitle(i)), { permanent: i.severity === "critical" && !i.drill, direction: "top" })
      .addTo(incidentLayer));
  }
  relabel();
}

function drawTicker() {
  replaceChildren(document.getElementById("ticker"), ticker.length ? ticker.map((e) => h("li", {
    "data-incident-id": e.id, "data-status": e.status }, h("time", { datetime: e.time }, formatClock(e.time, zone)),
  `${schoolName(e.school_id)} · ${e.title} · ${t(`status.${e.status}`)}`)) : h("li", {}, t("wall.ticker_empty")));
}

function remember(incident) {
  // The feed's first message per incident repeats what the list said; one line per state, not per message.
  const key = `${incident.id}:${incident.status}:${incident.occurrences ?? 1}`;
  if (ticker.some((e) => e.key === key)) return;
  ticker.unshift({ key, id: incident.id, time: incident.updated_at ?? incident.opened_at,
    school_id: incident.school_id, title: incidentTitle(incident), status: incident.status });
  ticker.length = Math.min(ticker.length, TICKER_LENGTH);
  drawTicker();
}

async function drawCounters() {
  const counts = await api.get("/api/v1/wall/counts");
  document.body.dataset.countsRead = String(Number(document.body.dataset.countsRead ?? 0) + 1);
  replaceChildren(document.getElementById("counters"), COUNTERS.map(([key, value, alerting]) => h("li", {
    "data-counter": key, "data-alert": alerting(counts) ? "true" : "false" },
  h("span", { class: "value" }, String(value(counts))), h("span", { class: "name" }, t(`wall.counter.${key}`)))));
}

let clock = null;

function tickClock() {
  const now = new Date();
  clock ??= new Intl.DateTimeFormat(LANG, { timeZone: zone, hour: "2-digit", minute: "2-digit", second: "2-digit",
    hourCycle: "h23" });
  document.getElementById("clock").textContent = clock.format(now);
  document.getElementById("zone").textContent = zoneName(zone, now);
}

function moveBus(p) {
  const key = p.bus_id ?? p.device_id;
  const known = buses.get(key);
  if (known) {
    known.setLatLng(toLatLng(p.lon, p.lat));
    return;
  }
  const icon = L.divIcon({ className: "wall-bus", iconSize: [18, 18], html: "" });
  buses.set(key, L.marker(toLatLng(p.lon, p.lat), { icon, keyboard: false }).addTo(busLayer));
}

// --- Loading and staying live -----------------------------------------------------------------------------------

async function loadOpen() {
  incidents.load(await api.get("/api/v1/incidents?status=raised&status=acknowledged&status=responding&limit=500"));
  drawIncidents();
}

let refreshTimer = null;

/** Read the counters again soon: the messages of one burst share one read instead of one read each. */
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, COUNTS_SETTLE_MS);
}

/** Read the counters again; a failure waits for the next round. */
async function refresh() {
  try {
    await drawCounters();
  } catch {
    /* the server is away: the live pill says "reconnecting" and the next round tries again */
  }
}

async function drawMap() {
  map = L.map("map", { zoomControl: false, attributionControl: true, keyboard: false })
    .setView([40.8, -96.7], 12);
  map.attributionControl.setPrefix(false);
  const tiles = await basemap(api);
  setDatum(tiles.crs);
  tiles.layer?.addTo(map);
  const { byId, features } = await loadSchools(api);
  schools = byId;
  zone = [...schools.values()][0]?.timezone ?? "UTC";
  // Names below the markers (their own pane) and never covering one another at the city's zoom.
  const campuses = campusLayer(features, true, labelPane(map)).addTo(map);
  relabel = keepLabelsApart(map, campuses);
  if (campuses.getLayers().length) map.fitBounds(campuses.getBounds().pad(0.1));
  incidentLayer = L.layerGroup().addTo(map);
  busLayer = L.layerGroup().addTo(map);
  const trackers = await api.get("/api/v1/devices?kind=bus_tracker");
  for (const f of trackers.features) {
    if (!f.geometry || !f.properties.last_fix) continue;
    const [lon, lat] = f.geometry.coordinates;
    moveBus({ device_id: f.id, bus_id: f.properties.bus_id, lon, lat });
  }
}

async function main() {
  const me = await startPage();
  if (!WALL_ROLES.has(me.role)) {
    document.getElementById("refused").hidden = false;
    document.body.dataset.ready = "true";
    return;
  }
  document.getElementById("wall").hidden = false;
  document.getElementById("sound-off").addEventListener("click", () => audio?.resume().then(sound));
  document.addEventListener("click", () => audio?.resume().then(sound), { once: true });
  sound();
  await drawMap();
  cameras = new WallCameras(document.getElementById("wall-cameras"), {
    schoolName, title: incidentTitle, looks,
    // The tiles take a column from the map: Leaflet measures its box again, or it draws tiles for the old size.
    onLayout: () => requestAnimationFrame(() => map.invalidateSize()),
  });
  tickClock();
  setInterval(tickClock, 1000);
  await loadOpen();
  for (const i of [...incidents.byId.values()].sort((a, b) => Date.parse(a.updated_at) - Date.parse(b.updated_at))) {
    remember(i);
  }
  drawTicker();
  await drawCounters();
  setInterval(() => refresh(), COUNTS_EVERY_MS);
  setInterval(drawIncidents, 60_000); // the ages in minutes
  const showStatus = statusShower(document.getElementById("live-status"), t);
  let wasLive = false;
  const feed = new LiveFeed({
    onIncident: (incident) => {
      const change = incidents.apply(incident);
      if (change === "ignored") return;
      remember(incident);
      drawIncidents();
      // A drill never flashes nor rings: the wall is watched for real alarms.
      if (change === "new" && incident.severity === "critical" && !incident.drill) alarm(incident);
      refreshSoon();
    },
    onPositions: (positions) => {
      for (const p of positions) if (p.kind === "bus_tracker") moveBus(p);
    },
    onStatus: (state, retryInMs) => {
      showStatus(state, retryInMs);
      document.body.dataset.live = state;
      // Back after an outage: what changed while away comes by the feed's replay (from its cursor, so a
      // critical raised meanwhile still rings); the counters are read anew.
      if (state === "live" && wasLive) refreshSoon();
      if (state === "live") wasLive = true;
    },
  }).start();
  // The whole scope, with the wall map's zoom: the server sends only the moves that zoom can show (a bus crossing
  // a pixel, a turn, or ten seconds gone), not every fix of the city's fleet.
  const watchAll = () => feed.watch(null, map.getZoom());
  watchAll();
  map.on("zoomend", watchAll);
  document.body.dataset.ready = "true";
}

main().catch((error) => showError(error));

/**
 * The guard's phone: their school's open incidents, newest alarms ringing and vibrating, where each one is,
 * and one-tap Acknowledge / Responding / Resolved (with an outcome). Each incident shown is receipted as
 * seen, so the officer knows somebody on site has it.
 *
 * It is an installable app too (manifest, /sw.js): it opens without a network and says it is offline, and one
 * tap lets the phone ring when it is locked (Web Push); a notification opens this page at its incident.
 */

import * as L from "/vendor/leaflet/leaflet-src.esm.js";
import { ACT_ON_INCIDENTS, ApiError, api } from "./api.js";
import {
  currentPush, keepPushWords, pushSupported, registerWorker, ring, ringWhenLocked, soundReady, stopRinging,
  unlockSound,
} from "./alarm.js";
import { h, replaceChildren } from "./dom.js";
import { formatTimeAgo, metres } from "./format.js";
import { LANG, LANGUAGES, catalog, t } from "./i18n.js";
import { OUTCOMES, OpenIncidents, incidentTitle, loadSchools, movesFrom } from "./incidents.js";
import { LiveFeed, statusShower } from "./live.js";
import { basemap, campusLayer, setDatum, toLatLng } from "./map-layers.js";
import { setUpSharing } from "./share-location.js";
import { showError, startPage } from "./shell.js";

const incidents = new OpenIncidents();
const seenSent = new Set();
const fresh = new Set();
let schools = new Map();
let places = [];
let miniMap = null;
let markers = null;
// The incident a notification opened (/guard?incident=7): marked on every drawing, scrolled to once.
const asked = Number(new URLSearchParams(location.search).get("incident")) || null;
let scrolled = false;
// What the service worker needs to say a push in each language (see static/sw.js).
const PUSH_WORDS = ["incident.title.", "severity.", "push.", "action.acknowledge"];

/** "Near <place>" from the closest device that has a place (a panic button's room), else the school name. */
function whereText(incident) {
  const school = schools.get(incident.school_id)?.name ?? incident.school_id;
  if (incident.lat == null) return school;
  let best = null;
  let bestM = 200;  // farther than this, a room name would mislead
  for (const p of places) {
    if (p.school_id !== incident.school_id) continue;
    const m = metres(p.lat, p.lon, incident.lat, incident.lon);
    if (m < bestM) [best, bestM] = [p, m];
  }
  return best ? `${t("guard.near", { place: best.place })} · ${school}` : school;
}

function card(i) {
  const zone = schools.get(i.school_id)?.timezone;
  const moves = movesFrom(i.status).filter((m) => m !== "close" && m !== "reopen");
  const message = h("p", { class: "error", role: "alert" });
  return h("article", {
    class: [`card sev-${i.severity} status-${i.status}`, fresh.has(i.id) && "fresh", i.id === asked && "focus"]
      .filter(Boolean).join(" "),
    "data-incident-id": i.id, "data-status": i.status,
  },
  fresh.has(i.id) && h("p", { class: "new-flag" }, t("guard.new")),
  h("h2", {}, incidentTitle(i)),
  h("p", { class: "where" }, h("strong", {}, `${t("guard.where")}: `), whereText(i)),
  h("p", { class: "meta" },
    h("span", { class: `badge sev-${i.severity}` }, t(`severity.${i.severity}`)), " ",
    h("span", { class: "badge status", "data-testid": "status" }, t(`status.${i.status}`)), " ",
    h("time", { datetime: i.opened_at }, formatTimeAgo(i.opened_at, zone))),
  h("div", { class: "big-buttons" }, moves.map((m) => h("button", {
    type: "button", class: `act act-${m}`, "data-action": m,
    onclick: () => (m === "resolve" ? pickOutcome(i, message) : act(i, { action: m }, message)),
  }, t(`action.${m}`)))),
  message);
}

async function act(incident, body, message) {
  try {
    const result = await api.post(`/api/v1/incidents/${incident.id}/actions`, body);
    fresh.delete(incident.id);
    // Keeps the old updated_at: should the live feed already have brought this change (or a later one),
    // its newer row wins over this local copy.
    incidents.apply({ ...incident, status: result.status, outcome: result.outcome });
    draw();
    return true;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    message.textContent = t("action.refused", { detail: error.detail });
    return false;
  }
}

function pickOutcome(incident, message) {
  const dialog = document.getElementById("outcome-dialog");
  const note = dialog.querySelector("textarea");
  const problem = dialog.querySelector(".error");
  note.value = "";
  problem.textContent = "";
  replaceChildren(dialog.querySelector(".big-buttons"), OUTCOMES.map((o) => h("button", {
    type: "button", class: `outcome outcome-${o}`, "data-outcome": o,
    onclick: async () => {
      const text = note.value.trim();
      if (o === "false_alarm" && !text) {
        problem.textContent = t("guard.note_needed");
        return;
      }
      dialog.close();
      await act(incident, { action: "resolve", outcome: o, note: text || null }, message);
    },
  }, t(`outcome.${o}`))));
  dialog.showModal();
}

// Receipts only from those who may act on incidents (the server refuses others: an auditor reading the
// guard's view is not on it).
let mayAct = false;

function markSeen() {
  if (!mayAct || document.visibilityState !== "visible") return;
  for (const id of incidents.byId.keys()) {
    if (seenSent.has(id)) continue;
    seenSent.add(id);
    api.post(`/api/v1/incidents/${id}/seen`).catch(() => seenSent.delete(id));
  }
}

function draw() {
  const open = incidents.sorted();
  replaceChildren(document.getElementById("cards"),
    open.length ? open.map(card) : h("p", { class: "all-clear" }, t("guard.none")));
  markers.clearLayers();
  for (const i of open) {
    if (i.lat == null) continue;
    // Where it is, nothing to press: the card beside it is what the guard acts on (and a keyboard stop with no
    // name would be one more tab for nothing).
    L.marker(toLatLng(i.lon, i.lat), {
      icon: L.divIcon({ className: `incident-marker sev-${i.severity}`, iconSize: [24, 24],
        html: h("span", { class: "pulse-ring" }) }),
      interactive: false, keyboard: false,
    }).addTo(markers);
  }
  if (open.length && open[0].lat != null) miniMap.setView(toLatLng(open[0].lon, open[0].lat), 17);
  focusAsked();
  markSeen();
}

/** Bring the incident a notification opened into view, once (later drawings keep it marked, not scrolled to). */
function focusAsked() {
  const found = asked && document.querySelector(`.card[data-incident-id="${asked}"]`);
  if (scrolled || !found) return;
  scrolled = true;
  found.scrollIntoView({ block: "center" });
}

/** The "ring when locked" button: says what this phone can do, subscribes on a tap, unsubscribes on another. */
async function setUpPush(registration) {
  const button = document.getElementById("push");
  const message = document.getElementById("push-message");
  button.hidden = false;
  // No worker (a plain-HTTP address other than localhost) or no push (Safari outside a home-screen app).
  if (!registration || !pushSupported()) {
    button.hidden = true;
    message.textContent = t("guard.push_unsupported");
    return;
  }
  const key = await api.get("/api/v1/push/key");
  if (!key.enabled) {
    // Not set up here (docs/push.md): nothing the guard can change, so the page just offers no button.
    button.hidden = true;
    document.body.dataset.push = "unavailable";
    return;
  }
  await keepPushWords(Object.fromEntries(LANGUAGES.map((l) => [l, catalog(l, PUSH_WORDS)])));
  let on = Boolean(Notification.permission === "granted" && await currentPush(api).catch(() => null));
  const show = () => {
    button.textContent = t(on ? "guard.push_stop" : "guard.push");
    button.setAttribute("aria-pressed", on ? "true" : "false");
    document.body.dataset.push = on ? "on" : "off";
  };
  button.addEventListener("click", async () => {
    message.textContent = "";
    try {
      if (on) await stopRinging(api);
      else await ringWhenLocked(api, key.public_key);
      on = !on;
    } catch (error) {
      message.textContent = error.message === "denied" ? t("guard.push_denied")
        : t("guard.push_failed", { detail: error.detail ?? error.message });
    }
    show();
  });
  show();
}

/** Whether an error means no answer came at all: fetch() rejects with a TypeError only then. */
function unreachable(error) {
  return !navigator.onLine || (error instanceof TypeError && /fetch|load failed|network/i.test(error.message));
}

/** No network: say so, and try again (the page itself came from the service worker's cache). */
function showOffline() {
  document.getElementById("offline").hidden = false;
  document.body.dataset.offline = "true";
  const again = () => location.reload();
  window.addEventListener("online", again, { once: true });
  setTimeout(again, 15000);
}

function setUpSound() {
  const button = document.getElementById("sound");
  const show = () => {
    button.textContent = t(soundReady() ? "guard.sound_on" : "guard.sound");
    button.setAttribute("aria-pressed", soundReady() ? "true" : "false");
  };
  button.addEventListener("click", async () => {
    await unlockSound();
    show();
  });
  show();
}

async function main() {
  // The worker first: should anything below fail, the next visit still opens offline.
  const worker = registerWorker().catch(() => null);
  if (LANG !== "en") document.querySelector("link[rel=manifest]").href = `/static/manifest.${LANG}.webmanifest`;
  const me = await startPage();
  mayAct = ACT_ON_INCIDENTS.has(me.role);
  setUpSound();
  worker.then(setUpPush).catch((error) => {
    // Unreachable: the offline banner says so already.
    if (!unreachable(error)) {
      document.getElementById("push-message").textContent = t("guard.push_failed", { detail: error.message });
    }
  });
  setUpSharing(document.getElementById("share"), document.getElementById("share-text"),
    document.getElementById("share-message"));
  const loaded = await loadSchools(api);
  schools = loaded.byId;
  document.getElementById("school").textContent = [...schools.values()].map((s) => s.name).join(", ");
  const devices = await api.get("/api/v1/devices");
  places = devices.features.filter((f) => f.geometry && f.properties.place).map((f) => ({
    place: f.properties.place, school_id: f.properties.school_id,
    lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1],
  }));
  miniMap = L.map("mini-map", { zoomControl: false, attributionControl: false });
  // The same basemap as the officer's map; over GCJ-02 tiles every layer is shifted onto them.
  const tiles = await basemap(api);
  setDatum(tiles.crs);
  tiles.layer?.addTo(miniMap);
  const campuses = campusLayer(loaded.features).addTo(miniMap);
  markers = L.layerGroup().addTo(miniMap);
  if (campuses.getLayers().length) miniMap.fitBounds(campuses.getBounds());
  else miniMap.setView([0, 0], 2);
  incidents.load(await api.get("/api/v1/incidents?status=raised&status=acknowledged&status=responding&limit=500"));
  draw();
  document.addEventListener("visibilitychange", markSeen);
  new LiveFeed({
    onIncident: (incident) => {
      const change = incidents.apply(incident);
      if (change === "ignored") return;
      if (change === "new" && incident.status === "raised") {
        fresh.add(incident.id);
        ring();
        document.body.dataset.rings = String(Number(document.body.dataset.rings ?? 0) + 1);
      }
      draw();
    },
    onStatus: statusShower(document.getElementById("live-status"), t),
  }).start();
  document.body.dataset.ready = "true";
}

main().catch((error) => {
  if (unreachable(error)) {
    showOffline();
  } else {
    showError(error);
  }
});

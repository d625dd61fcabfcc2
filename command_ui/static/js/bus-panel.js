/**
 * The bus panel of the officer's map: a bus's live arrival time at each stop (refreshed while open), its
 * track of the day on the map, and a replay of any day with a time slider that moves a marker along it.
 * Times are shown in the bus's school's timezone; the day is that school's local day.
 */

import * as L from "/vendor/leaflet/leaflet-src.esm.js";
import { api } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { formatClock, formatTime, localDate } from "./format.js";
import { t } from "./i18n.js";
import { toLatLng } from "./map-layers.js";

const REFRESH_MS = 15_000;

/** Where the bus was at `at` (ms), interpolated between the two fixes around it; null before the first. */
export function positionAt(coordinates, times, at) {
  if (!times.length || at < times[0]) return null;
  let lo = 0;
  let hi = times.length - 1;
  if (at >= times[hi]) return coordinates[hi];
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (times[mid] <= at) lo = mid;
    else hi = mid;
  }
  const share = (at - times[lo]) / Math.max(times[hi] - times[lo], 1);
  const [x0, y0] = coordinates[lo];
  const [x1, y1] = coordinates[hi];
  return [x0 + (x1 - x0) * share, y0 + (y1 - y0) * share];
}

export class BusPanel {
  /**
   * @param {L.Map} map the officer's map
   * @param {{section: HTMLElement, body: HTMLElement, schools: () => Map<string, object>,
   *          buses: () => Map<string, object>}} where the panel and what the page knows
   */
  constructor(map, where) {
    this.map = map;
    this.where = where;
    this.layer = L.layerGroup().addTo(map);
    this.busId = null;
    this.trackOf = null;
    this.timer = null;
  }

  /** Show a bus: its arrivals now, and today's track ready to replay. */
  async open(busId) {
    this.close();
    this.busId = busId;
    const bus = this.where.buses().get(busId);
    const school = this.where.schools().get(bus?.properties.school_id);
    this.zone = school?.timezone;
    this.where.section.hidden = false;
    this.etaList = h("ol", { id: "eta-list", class: "eta-list" });
    this.asOf = h("p", { class: "muted", id: "eta-as-of" });
    this.day = h("input", { type: "date", id: "replay-date", value: localDate(new Date(), this.zone),
      onchange: () => this.loadTrack() });
    this.slider = h("input", { type: "range", id: "replay-slider", min: 0, max: 0, step: 1, value: 0,
      "aria-label": t("bus.replay"), oninput: () => this.seek() });
    this.clock = h("output", { id: "replay-time", for: "replay-slider" });
    this.play = h("button", { type: "button", id: "replay-play", onclick: () => this.toggle() }, t("bus.play"));
    this.trackNote = h("p", { class: "muted", id: "track-note" });
    replaceChildren(this.where.body,
      h("h2", { class: "bus-title", "data-bus-id": busId }, bus?.properties.name ?? busId),
      h("p", { class: "muted" }, school?.name ?? "", bus?.properties.plate ? ` · ${bus.properties.plate}` : ""),
      h("section", {}, h("h3", {}, t("bus.arrivals")), this.asOf, this.etaList),
      h("section", { class: "replay" }, h("h3", {}, t("bus.track")),
        h("label", {}, `${t("bus.day")} `, this.day), this.trackNote,
        h("div", { class: "replay-controls" }, this.play, this.slider, this.clock)));
    await Promise.all([this.loadEta(), this.loadTrack()]);
    this.timer = setInterval(() => this.loadEta().catch(() => {}), REFRESH_MS);
    this.where.section.dataset.busId = busId;
  }

  /** Hide the panel and take its track off the map. */
  close() {
    clearInterval(this.timer);
    this.stop();
    this.layer.clearLayers();
    this.where.section.hidden = true;
    delete this.where.section.dataset.busId;
    this.busId = null;
    this.trackOf = null;
  }

  async loadEta() {
    const busId = this.busId;
    const eta = await api.get(`/api/v1/buses/${encodeURIComponent(busId)}/eta`);
    if (busId !== this.busId) return;
    this.asOf.textContent = eta.as_of ? t("bus.as_of", { time: formatTime(eta.as_of, this.zone) }) : t("bus.never");
    replaceChildren(this.etaList, eta.stops.length ? eta.stops.map((s) => {
      const minutes = Math.round(s.delay_s / 60);
      const lateness = minutes > 0 ? t("bus.late", { minutes }) : minutes < 0 ? t("bus.early", { minutes: -minutes })
        : t("bus.on_time");
      return h("li", { "data-stop-id": s.stop_id, class: s.reached ? "reached" : "ahead" },
        h("span", { class: "stop-name" }, s.name),
        h("span", { class: "stop-times" },
          s.reached ? t("bus.reached", { time: formatClock(s.reached, this.zone) })
            : t("bus.expected", { time: formatClock(s.eta, this.zone) }),
          " · ", t("bus.scheduled", { time: formatClock(s.scheduled, this.zone) })),
        h("span", { class: `lateness ${minutes > 0 ? "late" : "ok"}` }, lateness));
    }) : h("li", { class: "empty" }, t("bus.no_trip")));
  }

  async loadTrack() {
    this.stop();
    const busId = this.busId;
    const day = this.day.value;
    // Chromium fires "change" on a date input again when it loses focus (a tap on the slider): the day shown is
    // not loaded twice, which would put the marker back at the start under the reader's hand.
    if (busId === this.trackOf?.busId && day === this.trackOf?.day) return;
    this.trackOf = { busId, day };
    // Only the latest request draws: a slow answer for a day (or bus) no longer chosen must not put its
    // track back over the one the reader is replaying.
    const ticket = (this.ticket = (this.ticket ?? 0) + 1);
    let body;
    try {
      body = await api.get(`/api/v1/buses/${encodeURIComponent(busId)}/track?date=${encodeURIComponent(day)}`);
    } catch (error) {
      if (ticket === this.ticket) this.trackOf = null; // a failed day may be asked for again
      throw error;
    }
    if (busId !== this.busId || ticket !== this.ticket) return;
    this.layer.clearLayers();
    const track = body.features[0];
    const geometry = track.geometry;
    this.coordinates = !geometry ? [] : geometry.type === "Point" ? [geometry.coordinates] : geometry.coordinates;
    this.times = track.properties.times.map((iso) => Date.parse(iso));
    const count = this.coordinates.length;
    this.trackNote.textContent = count ? t("bus.fixes", { count: track.properties.fixes }) : t("bus.no_track");
    this.slider.disabled = this.play.disabled = count === 0;
    if (!count) {
      this.slider.max = 0;
      this.clock.textContent = "";
      this.where.section.dataset.trackPoints = "0";
      return;
    }
    const line = this.coordinates.map(([lon, lat]) => toLatLng(lon, lat));
    L.polyline(line, { className: "bus-track", color: "#0f766e", weight: 4, opacity: 0.8 }).addTo(this.layer);
    const marker = L.divIcon({ className: "replay-marker", iconSize: [16, 16], html: "" });
    this.marker = L.marker(line[0], { icon: marker, keyboard: false, zIndexOffset: 900 }).addTo(this.layer);
    this.slider.max = Math.round((this.times[count - 1] - this.times[0]) / 1000);
    this.slider.value = 0;
    this.seek();
    this.where.section.dataset.trackPoints = String(count);
  }

  /** Move the replay marker to the slider's time. */
  seek() {
    if (!this.coordinates?.length) return;
    const at = this.times[0] + Number(this.slider.value) * 1000;
    const [lon, lat] = positionAt(this.coordinates, this.times, at);
    this.marker.setLatLng(toLatLng(lon, lat));
    this.clock.value = formatTime(new Date(at).toISOString(), this.zone);
    this.marker.getElement()?.setAttribute("data-at", new Date(at).toISOString());
  }

  /** Play the day at 60× (a minute a second), or pause. */
  toggle() {
    if (this.playing) {
      this.stop();
      return;
    }
    if (Number(this.slider.value) >= Number(this.slider.max)) this.slider.value = 0;
    this.play.textContent = t("bus.pause");
    this.playing = setInterval(() => {
      this.slider.value = Math.min(Number(this.slider.value) + 6, Number(this.slider.max));
      this.seek();
      if (Number(this.slider.value) >= Number(this.slider.max)) this.stop();
    }, 100);
  }

  stop() {
    clearInterval(this.playing);
    this.playing = null;
    if (this.play) this.play.textContent = t("bus.play");
  }
}

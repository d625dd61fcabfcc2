/**
 * Video for people: a camera live (mpegts.js playing the MPEG-TS the server relays over the websocket
 * /api/v1/video/live/{camera}) and an incident's clips (a <video> the server feeds with HTTP Range, and an
 * export link whose SHA-256 the audit trail keeps), each opening the camera's timeline (js/video-timeline.js)
 * to play its recording from any moment. The incident panel and a camera's map popup call these;
 * every view is scoped and audited by the server, so nothing here decides who may watch.
 */

import { api } from "./api.js";
import { h } from "./dom.js";
import { formatTime } from "./format.js";
import { t } from "./i18n.js";
import { cameraTimeline } from "./video-timeline.js";

let mpegtsLoading = null;

/** Load mpegts.js (served from npm's dist at /vendor/mpegts/) once, on the first live view only. */
function loadMpegts() {
  if (window.mpegts) return Promise.resolve(window.mpegts);
  mpegtsLoading ??= new Promise((resolve, reject) => {
    const script = h("script", { src: "/vendor/mpegts/mpegts.js" });
    script.addEventListener("load", () => resolve(window.mpegts));
    script.addEventListener("error", () => reject(new Error("mpegts.js did not load")));
    document.head.append(script);
  });
  return mpegtsLoading;
}

/** Add the player's stylesheet once (pages need not list it). */
function loadStyle() {
  if (document.querySelector("link[data-video-css]")) return;
  document.head.append(h("link", { rel: "stylesheet", href: "/static/css/video.css", dataset: { videoCss: "1" } }));
}

/**
 * A live view of one camera. Muted so the browser lets it start by itself; latency is kept low by letting
 * mpegts.js skip ahead when its buffer grows (a command centre wants now, not a smooth past).
 * @param {string} cameraId the camera's id
 * @returns {{element: HTMLElement, stop: () => void}} the figure to show, and how to end the view
 */
export function liveVideo(cameraId) {
  loadStyle();
  const video = h("video", { class: "video-live", muted: true, autoplay: true, playsinline: true,
    "data-testid": "live-video", "data-camera": cameraId });
  video.muted = true;
  const status = h("figcaption", { class: "video-status" }, t("video.connecting"));
  const element = h("figure", { class: "video-player" }, video, status);
  let player = null;
  let stopped = false;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const url = `${scheme}//${location.host}/api/v1/video/live/${encodeURIComponent(cameraId)}`;
  loadMpegts().then((mpegts) => {
    if (stopped) return;
    if (!mpegts.getFeatureList().mseLivePlayback) {
      status.textContent = t("video.unsupported");
      return;
    }
    player = mpegts.createPlayer({ type: "mpegts", isLive: true, url },
      { enableWorker: false, lazyLoad: false, liveBufferLatencyChasing: true, autoCleanupSourceBuffer: true });
    player.on(mpegts.Events.ERROR, () => { status.textContent = t("video.ended"); });
    player.attachMediaElement(video);
    player.load();
    video.addEventListener("playing", () => { status.textContent = t("video.live"); }, { once: true });
    video.play().catch(() => { status.textContent = t("video.press_play"); });
  }).catch(() => { status.textContent = t("video.unsupported"); });
  const stop = () => {
    stopped = true;
    if (player) {
      player.destroy();
      player = null;
    }
  };
  return { element, stop };
}

/**
 * An incident's clips: each plays in place and can be exported (the download is audited with its SHA-256).
 * @param {number} incidentId the incident
 * @param {string} [zone] the school's time zone, for the times shown
 * @returns {HTMLElement} a section, filled when the list arrives (empty and hidden when there is none)
 */
export function incidentClips(incidentId, zone) {
  loadStyle();
  const list = h("div", { class: "video-clips", "data-testid": "incident-clips", hidden: true });
  api.get(`/api/v1/video/incidents/${incidentId}/clips`).then((clips) => {
    if (!clips.length) return;
    list.hidden = false;
    list.append(h("h3", {}, t("video.clips")), ...clips.map((clip) => h("figure", { class: "video-player" },
      h("video", { class: "video-clip", controls: true, preload: "metadata", src: clip.url,
        "data-testid": "clip-video" }),
      h("figcaption", { class: "video-status" },
        t("video.clip_span", { start: formatTime(clip.start_at, zone), end: formatTime(clip.end_at, zone) }), " · ",
        h("a", { href: `/api/v1/video/clips/${clip.id}/export`, download: "", title: `SHA-256 ${clip.sha256}` },
          t("video.export")), " · ",
        // The camera's whole day around the finding, to look before and after the clip's 30 seconds.
        h("button", { type: "button", class: "video-timeline-open", "data-testid": "clip-timeline",
          onclick: (event) => {
            event.currentTarget.replaceWith(cameraTimeline(clip.camera_id, { zone, at: clip.finding_at }));
          } }, t("video.timeline_open"))))));
  }).catch(() => { /* no clips for this caller: nothing to show */ });
  return list;
}

/**
 * Give each camera marker of the map's device layer a popup that plays the camera live while it is open.
 * The markers carry no id, so each is matched by the title deviceLayer (map-layers.js) gives it: the kind's
 * name, then the camera's name and place, as built there.
 * @param {object} group the Leaflet layer group holding the device markers
 * @param {{features: Array<{id: string, properties: {name?: string, place?: string}}>}} cameras GeoJSON cameras
 */
export function cameraPopups(group, cameras) {
  const byTitle = new Map(cameras.features.map((f) => {
    const name = [f.properties.name, f.properties.place].filter(Boolean).join(" — ") || f.id;
    return [`${t("map.device.camera")}: ${name}`, f.id];
  }));
  group.eachLayer((marker) => {
    const id = byTitle.get(marker.options?.title);
    if (!id) return;
    let view = null;
    marker.bindPopup(() => {
      view?.stop();
      view = liveVideo(id);
      const box = h("div", { class: "camera-popup", dataset: { camera: id } },
        h("strong", {}, t("video.watch_live")), view.element);
      // Recordings instead of live: the day's timeline, its findings marked, in place of the live view.
      box.append(h("button", { type: "button", class: "video-timeline-open", "data-testid": "open-timeline",
        onclick: () => {
          view?.stop();
          view = null;
          // Not popup.update(): with content given as a function it would call it again, restarting live view.
          box.replaceChildren(cameraTimeline(id));
        } }, t("video.timeline_open")));
      return box;
    }, { minWidth: 320 });
    marker.on("popupclose", () => {
      view?.stop();
      view = null;
    });
  });
}

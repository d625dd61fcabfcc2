/**
 * Scrubbing a camera's recording: a bar for the last day (or one day of the school's) with the recorded spans
 * shaded and a mark on each of the camera's findings; a click on the bar or on a mark plays the recording from
 * that moment. The server cuts the recording from the keyframe at or before the moment (audited, scoped like a
 * live view) and this plays the cut in a plain <video>, which seeks inside it with HTTP Range. The server bounds
 * the cutting: too many moments asked for, or every cutter busy, reads "try again in a moment".
 */

import { ApiError, api } from "./api.js";
import { h } from "./dom.js";
import { formatTime } from "./format.js";
import { has, t } from "./i18n.js";

/** Add the video stylesheet once (the same link video-player.js adds; whichever comes first). */
function loadStyle() {
  if (document.querySelector("link[data-video-css]")) return;
  document.head.append(h("link", { rel: "stylesheet", href: "/static/css/video.css", dataset: { videoCss: "1" } }));
}

/** The text of a finding's kind: the signal's name where the catalogue has one, else the kind itself. */
function kindText(kind) {
  return has(`signal.${kind}`) ? t(`signal.${kind}`) : kind;
}

/**
 * A camera's timeline with its player below.
 * @param {string} cameraId the camera
 * @param {{day?: string, zone?: string, at?: string}} [options] a local day (YYYY-MM-DD; the last 24 h when
 *   left out), the zone times are shown in (the school's, as the server says, when left out), and a moment to
 *   start playing at once (an incident's finding)
 * @returns {HTMLElement} the section, filled when the timeline arrives
 */
export function cameraTimeline(cameraId, options = {}) {
  loadStyle();
  const bar = h("div", { class: "video-timeline-bar", "data-testid": "timeline-bar", role: "group",
    "aria-label": t("video.timeline") });
  const status = h("p", { class: "video-status", "data-testid": "timeline-status" }, t("video.timeline_loading"));
  const video = h("video", { class: "video-playback", controls: true, muted: true, autoplay: true,
    playsinline: true, "data-testid": "playback-video", hidden: true });
  video.muted = true;
  const section = h("section", { class: "video-timeline", "data-testid": "camera-timeline",
    dataset: { camera: cameraId } }, h("h3", {}, t("video.timeline")), bar, status,
  h("figure", { class: "video-player" }, video));
  let zone = options.zone;
  let asked = 0;  // the latest request wins: an earlier cut arriving late must not replace it

  const play = async (at) => {
    const mine = ++asked;
    status.textContent = t("video.playback_cutting", { time: formatTime(at, zone, true) });
    try {
      const cut = await api.get(`/api/v1/video/cameras/${encodeURIComponent(cameraId)}/playback`
        + `?at=${encodeURIComponent(at)}`);
      if (mine !== asked) return;
      video.hidden = false;
      video.dataset.startAt = cut.start_at;
      video.dataset.at = cut.at;
      video.src = cut.url;
      video.play().catch(() => { /* the controls are there to press play */ });
      status.textContent = t("video.playback_from", { time: formatTime(cut.start_at, zone, true) });
    } catch (error) {
      if (mine !== asked) return;
      // 429: this person asked for many moments lately; 503: every cutter is busy; 504: a cut ran too long.
      const code = error instanceof ApiError ? error.status : 0;
      status.textContent = code === 429 || code === 503 ? t("video.playback_busy")
        : code === 504 ? t("video.playback_slow")
          : t("video.playback_none", { time: formatTime(at, zone, true) });
    }
  };

  const query = options.day ? `?day=${encodeURIComponent(options.day)}` : "";
  api.get(`/api/v1/video/cameras/${encodeURIComponent(cameraId)}/timeline${query}`).then((day) => {
    zone ??= day.time_zone;
    const start = Date.parse(day.start);
    const width = Date.parse(day.end) - start;
    const share = (iso) => Math.min(100, Math.max(0, ((Date.parse(iso) - start) / width) * 100));
    for (const span of day.spans) {
      bar.append(h("span", { class: "video-timeline-span", "data-testid": "timeline-span",
        style: `left: ${share(span.start_at)}%; width: ${Math.max(0.2, share(span.end_at) - share(span.start_at))}%` }));
    }
    for (const finding of day.findings) {
      const label = `${kindText(finding.kind)} · ${formatTime(finding.at, zone, true)}`
        + (finding.incident_id ? ` · ${t("video.timeline_incident", { id: finding.incident_id })}` : "");
      bar.append(h("button", { type: "button", class: "video-timeline-mark", "data-testid": "timeline-mark",
        title: label, "aria-label": label, style: `left: ${share(finding.at)}%`,
        dataset: { at: finding.at, kind: finding.kind },
        onclick: (event) => { event.stopPropagation(); play(finding.at); } }));
    }
    // A click anywhere on the bar plays from that moment (the server answers when nothing was recorded then).
    bar.addEventListener("click", (event) => {
      const box = bar.getBoundingClientRect();
      play(new Date(start + ((event.clientX - box.left) / box.width) * width).toISOString());
    });
    status.textContent = day.spans.length
      ? t("video.timeline_span", { start: formatTime(day.start, zone, true), end: formatTime(day.end, zone, true),
        n: day.findings.length })
      : t("video.timeline_empty");
    if (options.at) play(options.at);
  }).catch(() => { status.textContent = t("video.timeline_denied"); });
  return section;
}

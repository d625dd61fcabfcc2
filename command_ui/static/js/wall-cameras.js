/**
 * The wall's camera tiles: the open incidents that came from a camera, most urgent first, each playing its
 * camera live (js/video-player.js) with the camera's place, school and the incident's title as text and a border
 * in the incident's severity. As many as a wall holds legibly: 4 at 1920×1080, 9 at 3840×2160.
 *
 * Which camera an incident came from is asked once per incident (GET /api/v1/wall/cameras); the answer also
 * says whether this account may watch video at all. One that may not (the site keeps unblurred video to a few
 * roles; its socket would close with 4403) sees the incident's face-blurred snapshot, never a broken player.
 * A tile whose incident closes or falls out of the first few is removed and its stream stopped at once, so the
 * server keeps no camera's upstream open for a tile nobody sees.
 */

import { api } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { t } from "./i18n.js";
import { liveVideo } from "./video-player.js";

const ASKED = 40; // the most urgent open incidents looked at (the API's MOST_ASKED): far more than a wall shows

/** Tiles the wall holds legibly: a 4K panel (or anything past 1920×1080's size) 3×3, else 2×2. */
function capacity() {
  return innerWidth > 2560 || innerHeight > 1440 ? 9 : 4;
}

/** What of an incident may change its camera answer: each change bumps its update time or its occurrences. */
function version(incident) {
  return `${incident.updated_at ?? incident.opened_at}:${incident.occurrences ?? 1}`;
}

export class WallCameras {
  /**
   * @param {HTMLElement} root the grid the tiles go in (hidden while it has none)
   * @param {{schoolName: (id: string) => string, title: (incident: object) => string,
   *          looks: (incident: object) => string, onLayout: () => void}} how names, classes, and a callback when
   *   the grid appears or goes (the map beside it changes size)
   */
  constructor(root, how) {
    this.root = root;
    this.how = how;
    this.cameras = new Map(); // incident id -> its camera (from the API), or null: asked, has none
    this.versions = new Map(); // incident id -> the version of it that was asked about (see version())
    this.asking = new Set();
    this.tiles = new Map(); // incident id -> {element, stop}
    this.mayWatch = false;
    this.open = [];
    addEventListener("resize", () => this.draw());
  }

  /**
   * The open incidents, most urgent first: ask about those not asked yet, then draw.
   * @param {Array<object>} open
   */
  update(open) {
    this.open = open;
    // Forget closed incidents' answers: the wall runs for weeks, and a closed incident never comes back as new.
    const ids = new Set(open.map((i) => i.id));
    for (const id of this.cameras.keys()) {
      if (!ids.has(id)) {
        this.cameras.delete(id);
        this.versions.delete(id);
      }
    }
    // Asked again when an incident changed and its answer could: camera evidence merged into an incident that had
    // none, or a newer snapshot for a tile that shows one (a live tile plays the camera whatever was seen).
    const stale = (i) => this.versions.get(i.id) !== version(i)
      && (this.cameras.get(i.id) === null || !this.mayWatch);
    const unknown = open.slice(0, ASKED)
      .filter((i) => (!this.cameras.has(i.id) || stale(i)) && !this.asking.has(i.id));
    if (unknown.length) this.ask(unknown);
    this.draw();
  }

  async ask(incidents) {
    const ids = incidents.map((i) => i.id);
    for (const i of incidents) {
      this.asking.add(i.id);
      this.versions.set(i.id, version(i));
    }
    try {
      const query = new URLSearchParams(ids.map((id) => ["incident", String(id)]));
      const answer = await api.get(`/api/v1/wall/cameras?${query}`);
      this.mayWatch = answer.may_watch;
      const found = new Map(answer.cameras.map((c) => [c.incident_id, c]));
      for (const id of ids) {
        const camera = found.get(id) ?? null;
        const before = this.cameras.get(id);
        if (before && (!camera || camera.camera_id !== before.camera_id || camera.snapshot_id !== before.snapshot_id)) {
          this.drop(id); // drawn again below from the new answer
        }
        this.cameras.set(id, camera);
      }
    } catch {
      /* the server is away: these are asked again with the next change */
    } finally {
      for (const id of ids) this.asking.delete(id);
    }
    this.draw();
  }

  draw() {
    const shown = this.open.filter((i) => this.cameras.get(i.id)).slice(0, capacity());
    const keep = new Set(shown.map((i) => i.id));
    for (const id of [...this.tiles.keys()]) if (!keep.has(id)) this.drop(id);
    shown.forEach((incident, order) => {
      let tile = this.tiles.get(incident.id);
      if (!tile) {
        tile = this.tile(incident, this.cameras.get(incident.id));
        this.tiles.set(incident.id, tile);
        this.root.append(tile.element);
      }
      // Order by CSS, not by moving nodes: a <video> taken out of the page may pause or restart.
      tile.element.style.order = String(order);
      tile.element.className = `wall-camera ${this.how.looks(incident)}`;
      tile.element.dataset.severity = incident.severity;
      replaceChildren(tile.title, this.how.title(incident));
    });
    const columns = shown.length > 4 ? 3 : shown.length > 1 ? 2 : 1;
    this.root.style.setProperty("--columns", String(columns));
    this.root.style.setProperty("--rows", String(Math.max(1, Math.ceil(shown.length / columns))));
    this.root.dataset.tiles = String(shown.length);
    if (this.root.hidden !== !shown.length) {
      this.root.hidden = !shown.length;
      this.how.onLayout();
    }
  }

  /** Take a tile down and stop its stream (the server's upstream goes with its last viewer). */
  drop(id) {
    const tile = this.tiles.get(id);
    if (!tile) return;
    tile.stop();
    tile.element.remove();
    this.tiles.delete(id);
  }

  /** One tile: live video for those who may watch, else the blurred snapshot, else (no picture) a line saying so. */
  tile(incident, camera) {
    // Cameras are often named after their school ("… Elementary main gate"): the school once, not twice.
    const school = this.how.schoolName(camera.school_id);
    // Each of name, place and school once: a camera named after its place ("…教学楼走廊") says it already.
    const where = [camera.camera_name, camera.place && !camera.camera_name.includes(camera.place) ? camera.place : null,
      camera.camera_name.includes(school) ? null : school].filter(Boolean).join(" · ");
    let media;
    let stop = () => {};
    if (this.mayWatch) {
      const view = liveVideo(camera.camera_id);
      ({ element: media, stop } = view);
      media.querySelector("video")?.setAttribute("aria-label", t("wall.camera.live", { camera: where }));
    } else if (camera.snapshot_id != null) {
      media = h("img", { class: "wall-snapshot", src: `/api/v1/snapshots/${camera.snapshot_id}.jpg`,
        alt: t("wall.camera.snapshot", { camera: where }), "data-testid": "wall-snapshot" });
    } else {
      media = h("p", { class: "wall-no-picture" }, t("wall.camera.no_picture"));
    }
    const title = h("span", { class: "wall-camera-title" });
    const element = h("figure", { "data-incident-id": incident.id, "data-camera": camera.camera_id,
      "data-mode": this.mayWatch ? "live" : "snapshot" }, h("div", { class: "wall-camera-media" }, media),
    h("figcaption", {}, title, h("span", { class: "wall-camera-place" }, where)));
    return { element, stop, title };
  }
}

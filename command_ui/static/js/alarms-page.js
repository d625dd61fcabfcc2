/**
 * Alarm management on one page (ISA-18.2, docs/alerts.md): the live alarm board (a flood as one banner, open
 * alarms grouped by school and type with the critical on top and drills last, stale alarms), the alarm-health
 * report, shelved sources, each school's drill mode, and what every camera learned as its fixed scene.
 * Forms and buttons appear only for the roles the API lets do the thing; the API still checks every request.
 * Everything the server says (names, reasons, titles) goes into the page as text, never as markup.
 */

import { ApiError, api } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { formatTime } from "./format.js";
import { LANG, t } from "./i18n.js";
import { alarmBadges, incidentTitle, loadSchools, typeName } from "./incidents.js";
import { showError, startPage } from "./shell.js";

/** Who shelves sources and starts drill mode (mirrors command_ui.routers.alarms.MANAGE_ALARMS). */
const MANAGE_ALARMS = new Set(["school_admin", "district_officer", "district_admin", "admin"]);
/** Who reads the alarm-health report (mirrors command_ui.routers.reports.READ_REPORTS). */
const READ_REPORTS = new Set(["school_admin", "district_officer", "district_admin", "auditor", "admin"]);
/** Who un-learns a camera's scene (mirrors command_ui.deps.EDIT_GEOFENCES, vision_scene.SceneEditor). */
const EDIT_SCENE = new Set(["school_admin", "district_admin", "admin"]);
/** Durations offered, in minutes: a shelf holds at most 24 hours, a drill mode at most 8 (alerts.shelving). */
const SHELF_MINUTES = [15, 30, 60, 120, 240, 480, 720, 1440];
const DRILL_MINUTES = [15, 30, 60, 120, 240, 480];
const BOARD_EVERY_MS = 30_000;

let me = null;
let schools = new Map();
const percent = new Intl.NumberFormat(LANG, { style: "percent", maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat(LANG, { maximumFractionDigits: 2 });

const schoolName = (id) => schools.get(id)?.name ?? id;
const zoneOf = (id) => schools.get(id)?.timezone;

/** A span of seconds as people say it: "45 s", "3 min 20 s", "2 h 5 min"; "—" when there is none. */
export function humanDuration(seconds) {
  if (seconds == null) return "—";
  const s = Math.round(seconds);
  if (s < 60) return t("duration.s", { s });
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? t("duration.m_s", { m, s: s % 60 }) : t("duration.m", { m });
  return m % 60 ? t("duration.h_m", { h: Math.floor(m / 60), m: m % 60 }) : t("duration.h", { h: m / 60 });
}

function durationOptions(choices, chosen) {
  return choices.map((m) => h("option", { value: m, selected: m === chosen }, humanDuration(m * 60)));
}

/** Run an action, show the server's refusal next to it, redraw on success. */
async function attempt(message, action, redraw) {
  message.textContent = "";
  try {
    await action();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    message.textContent = t("action.refused", { detail: error.detail });
    return;
  }
  await redraw();
}

function severityBadge(severity) {
  return h("span", { class: `badge sev-${severity}` }, t(`severity.${severity}`));
}

// --- the board ---------------------------------------------------------------------------------------------

function incidentLine(i) {
  const zone = zoneOf(i.school_id);
  return h("li", { "data-incident-id": i.id, class: i.drill ? "drill" : null },
    h("a", { href: `/history?incident=${i.id}` }, `#${i.id}`), " ", severityBadge(i.severity), " ",
    h("strong", { class: "title" }, incidentTitle(i)), " ",
    h("span", { class: "muted" }, `${schoolName(i.school_id)} · ${formatTime(i.raised_at, zone)} · `,
      t(`status.${i.status}`)), " ",
    h("span", { class: "badges" }, alarmBadges(i, zone)));
}

async function drawBoard() {
  const board = await api.get("/api/v1/alarms/board");
  const flooding = board.schools.filter((s) => s.flood);
  replaceChildren(document.getElementById("flood"), board.flood || flooding.length
    ? h("div", { class: "flood-banner", "data-testid": "flood-banner" },
      h("strong", {}, t("alarms.flood")), " ", t("alarms.flood_all", { count: board.recent }),
      h("ul", {}, flooding.map((s) => h("li", { "data-school-id": s.school_id },
        t("alarms.flood_school", { school: schoolName(s.school_id), count: s.recent })))))
    : null);
  document.getElementById("board-summary").textContent = t("alarms.summary",
    { open: board.incidents.length, recent: board.recent, time: formatTime(board.at) });
  const groups = document.querySelector("#groups tbody");
  replaceChildren(groups, board.groups.length ? board.groups.map((g) => h("tr", {
    "data-school-id": g.school_id, "data-type": g.type, "data-drill": String(g.drill), class: g.drill ? "drill" : null,
  },
  h("td", {}, schoolName(g.school_id)), h("td", {}, typeName(g.type)), h("td", {}, severityBadge(g.severity)),
  h("td", { class: "count" }, g.count),
  h("td", {}, g.drill ? h("span", { class: "badge alarm-drill", "data-badge": "drill" }, t("badge.drill")) : null)))
    : h("tr", {}, h("td", { colspan: 5, class: "muted" }, t("alarms.no_open"))));
  const list = document.getElementById("board-incidents");
  replaceChildren(list, board.incidents.length ? board.incidents.map(incidentLine)
    : h("li", { class: "muted" }, t("alarms.no_open")));
  const byId = new Map(board.incidents.map((i) => [i.id, i]));
  const stale = board.stale.map((id) => byId.get(id)).filter(Boolean);
  replaceChildren(document.getElementById("stale"), stale.length ? stale.map(incidentLine)
    : h("li", { class: "muted" }, t("alarms.no_stale")));
}

// --- the alarm-health report -------------------------------------------------------------------------------

function loadBadge(load) {
  return h("span", { class: `badge load-${load}`, "data-load": load }, t(`load.${load}`));
}

function table(headings, rows) {
  return h("table", { class: "data" }, h("thead", {}, h("tr", {}, headings.map((k) => h("th", {}, t(k))))),
    h("tbody", {}, rows));
}

/** The noisiest few (the report ranks ten; a table cell shows five and says how many more). */
function ranked(items, shown = 5, say = (name) => name) {
  if (!items.length) return h("span", { class: "muted" }, "—");
  return [h("ol", { class: "ranked" }, items.slice(0, shown).map((r) => h("li", {}, `${say(r.name)} `,
    h("span", { class: "muted" }, `×${r.alarms}`)))),
  items.length > shown ? h("span", { class: "muted" }, t("alarms.more", { count: items.length - shown })) : null];
}

async function drawHealth() {
  const days = Number(document.getElementById("health-period").value);
  const since = new Date(Date.now() - days * 86_400_000).toISOString();
  const report = await api.get(`/api/v1/alarms/health?since=${encodeURIComponent(since)}`);
  const body = document.getElementById("health-body");
  if (!report.schools.length && !report.operators.length) {
    replaceChildren(body, h("p", { class: "empty", "data-testid": "health-empty" }, t("alarms.health_none")));
    return;
  }
  replaceChildren(body,
    h("h3", {}, t("alarms.per_school")),
    table(["incident.school", "alarms.count", "alarms.per_operator_hour", "alarms.load", "alarms.flood_share",
      "alarms.peak", "alarms.false_ratio", "alarms.ack_p50", "alarms.ack_p90", "alarms.unacknowledged",
      "alarms.noisiest_types", "alarms.noisiest_sources"],
    report.schools.map((s) => h("tr", { "data-school-id": s.school_id },
      h("td", {}, schoolName(s.school_id)), h("td", { class: "count" }, s.alarms),
      h("td", {}, t("alarms.rate", { rate: decimal.format(s.per_operator_hour), operators: s.operators })),
      h("td", {}, loadBadge(s.load)), h("td", {}, percent.format(s.flood_share)), h("td", {}, s.peak_10min),
      h("td", { "data-testid": "false-ratio" }, s.false_alarm_ratio == null ? "—" : percent.format(s.false_alarm_ratio)),
      h("td", { "data-testid": "ack-p50" }, humanDuration(s.ack_p50_s)),
      h("td", { "data-testid": "ack-p90" }, humanDuration(s.ack_p90_s)),
      h("td", {}, s.unacknowledged), h("td", {}, ranked(s.noisiest_types, 5, typeName)),
      h("td", {}, ranked(s.noisiest_sources))))),
    h("h3", {}, t("alarms.per_operator")),
    report.operators.length
      ? table(["alarms.person", "alarms.taken", "alarms.per_hour", "alarms.load", "alarms.ack_p50", "alarms.ack_p90"],
        report.operators.map((o) => h("tr", { "data-actor": o.actor },
          h("td", {}, o.actor), h("td", { class: "count" }, o.acknowledged), h("td", {}, decimal.format(o.per_hour)),
          h("td", {}, loadBadge(o.load)), h("td", {}, humanDuration(o.ack_p50_s)),
          h("td", {}, humanDuration(o.ack_p90_s)))))
      : h("p", { class: "muted" }, t("alarms.no_operators")));
}

// --- shelves -----------------------------------------------------------------------------------------------

async function drawShelves() {
  const shelves = (await api.get("/api/v1/alarms/shelves")).filter((s) => s.active);
  const message = document.getElementById("shelf-message");
  const manage = MANAGE_ALARMS.has(me.role);
  replaceChildren(document.querySelector("#shelf-list tbody"), shelves.length ? shelves.map((s) => h("tr", {
    "data-shelf-id": s.id, "data-source-id": s.source_id,
  },
  h("td", {}, schoolName(s.school_id)), h("td", { class: "source" }, s.source_id),
  h("td", {}, s.type ? typeName(s.type) : t("alarms.every_type")), h("td", { class: "reason" }, s.reason),
  h("td", { class: "by" }, s.shelved_by), h("td", {}, formatTime(s.until, zoneOf(s.school_id))),
  h("td", {}, s.suppressed),
  h("td", {}, manage ? h("button", {
    type: "button", class: "unshelve", onclick: () => attempt(message,
      () => api.delete(`/api/v1/alarms/shelves/${s.id}`), drawShelves),
  }, t("alarms.unshelve")) : null)))
    : h("tr", {}, h("td", { colspan: 8, class: "muted" }, t("alarms.no_shelves"))));
}

async function setUpShelveForm() {
  const form = document.getElementById("shelve-form");
  if (!MANAGE_ALARMS.has(me.role)) {
    form.remove();  // not merely hidden: a guard has no form to submit
    return;
  }
  const [devices, buses] = await Promise.all([api.get("/api/v1/devices"), api.get("/api/v1/buses")]);
  const sources = [...devices.features, ...buses.features];
  const school = form.elements.school_id;
  replaceChildren(school, [...schools.values()].map((s) => h("option", { value: s.id }, s.name)));
  const fillSources = () => replaceChildren(document.getElementById("sources"), sources
    .filter((f) => f.properties.school_id === school.value)
    .map((f) => h("option", { value: f.id }, f.properties.name ?? f.id)));
  school.addEventListener("change", fillSources);
  fillSources();
  replaceChildren(form.elements.minutes, durationOptions(SHELF_MINUTES, 60));
  const message = form.querySelector(".error");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = {
      school_id: data.get("school_id"), source_id: String(data.get("source_id")).trim(),
      type: String(data.get("type")).trim() || null, minutes: Number(data.get("minutes")),
      reason: String(data.get("reason")).trim(),
    };
    attempt(message, () => api.post("/api/v1/alarms/shelves", body), async () => {
      form.elements.source_id.value = "";
      form.elements.type.value = "";
      form.elements.reason.value = "";
      await drawShelves();
    });
  });
  form.hidden = false;
}

// --- drill mode --------------------------------------------------------------------------------------------

function startDrillForm(schoolId, message) {
  const minutes = h("select", { name: "minutes", "aria-label": t("alarms.duration") }, durationOptions(DRILL_MINUTES, 60));
  const reason = h("input", { name: "reason", required: true, maxlength: 500, size: 24,
    placeholder: t("alarms.reason"), "aria-label": t("alarms.reason") });
  return h("form", {
    class: "inline-form start-drill",
    onsubmit: (event) => {
      event.preventDefault();
      attempt(message, () => api.put(`/api/v1/alarms/drill-mode/${encodeURIComponent(schoolId)}`,
        { minutes: Number(minutes.value), reason: reason.value.trim() }), drawDrillModes);
    },
  }, minutes, " ", reason, " ", h("button", { type: "submit" }, t("alarms.drill_start")));
}

async function drawDrillModes() {
  const active = new Map((await api.get("/api/v1/alarms/drill-mode")).map((m) => [m.school_id, m]));
  const manage = MANAGE_ALARMS.has(me.role);
  const rows = [...schools.values()].map((school) => {
    const mode = active.get(school.id);
    const message = h("p", { class: "error", role: "alert" });
    const state = mode
      ? [h("span", { class: "badge alarm-drill", "data-badge": "drill" }, t("alarms.in_drill")), " ",
        t("alarms.drill_until", { time: formatTime(mode.until, school.timezone) }), " · ",
        h("span", { class: "reason" }, mode.reason), " · ", h("span", { class: "by" }, mode.started_by)]
      : h("span", { class: "muted" }, t("alarms.normal"));
    const control = !manage ? null : mode
      ? h("button", {
        type: "button", class: "end-drill", onclick: () => attempt(message,
          () => api.delete(`/api/v1/alarms/drill-mode/${encodeURIComponent(school.id)}`), drawDrillModes),
      }, t("alarms.drill_end"))
      : startDrillForm(school.id, message);
    return h("tr", { "data-school-id": school.id, "data-drill": mode ? "on" : "off" },
      h("td", {}, school.name), h("td", {}, state), h("td", {}, control, message));
  });
  replaceChildren(document.querySelector("#drill-list tbody"), rows.length ? rows
    : h("tr", {}, h("td", { colspan: 3, class: "muted" }, t("alarms.no_schools"))));
}

// --- camera scene ------------------------------------------------------------------------------------------

/** A small frame of the camera's picture with each learned box drawn where it is (coordinates 0..1). */
function sceneFrame(objects) {
  const pct = (v) => `${Math.min(100, Math.max(0, Number(v) * 100)).toFixed(1)}%`;
  return h("div", { class: "scene-frame", "aria-hidden": "true" }, objects.map((o) => {
    const [x1, y1, x2, y2] = o.box.map(Number);
    return h("span", { class: "scene-box", style: `left: ${pct(x1)}; top: ${pct(y1)}; width: ${pct(x2 - x1)};`
      + ` height: ${pct(y2 - y1)}` });
  }));
}

function cameraScene(camera, objects, failed) {
  const school = camera.properties.school_id;
  const edit = EDIT_SCENE.has(me.role);
  const message = h("p", { class: "error", role: "alert" });
  const path = `/api/v1/cameras/${encodeURIComponent(camera.id)}/scene`;
  const redraw = drawScene;
  let body;
  if (failed) {
    body = h("p", { class: "error" }, t("error.load", { detail: failed.message }));
  } else if (!objects.length) {
    body = h("p", { class: "muted" }, t("alarms.scene_none"));
  } else {
    body = [sceneFrame(objects), h("ul", { class: "scene-objects" }, objects.map((o) => h("li", {
      "data-object-id": o.id,
    },
    h("strong", { class: "label" }, o.label), " ",
    h("span", { class: "muted" }, t("alarms.learned", { time: formatTime(o.learned_at, zoneOf(school)) })), " ",
    edit ? h("button", {
      type: "button", class: "forget", onclick: () => attempt(message, () => api.post(`${path}/${o.id}/forget`), redraw),
    }, t("alarms.forget")) : null))),
    edit ? h("button", {
      type: "button", class: "clear-scene", onclick: () => attempt(message, () => api.post(`${path}/clear`), redraw),
    }, t("alarms.clear_scene")) : null];
  }
  return h("article", { class: "camera", "data-camera-id": camera.id, "data-learned": objects.length },
    h("h3", {}, camera.properties.name ?? camera.id, " ", h("span", { class: "muted" }, `· ${schoolName(school)}`)),
    body, message);
}

async function drawScene() {
  const cameras = (await api.get("/api/v1/devices?kind=camera")).features;
  const scenes = await Promise.all(cameras.map((c) => api.get(`/api/v1/cameras/${encodeURIComponent(c.id)}/scene`)
    .then((objects) => ({ objects }), (error) => ({ objects: [], failed: error }))));
  replaceChildren(document.getElementById("scene-body"), cameras.length
    ? cameras.map((c, n) => cameraScene(c, scenes[n].objects, scenes[n].failed))
    : h("p", { class: "muted" }, t("alarms.no_cameras")));
}

// --- the page ----------------------------------------------------------------------------------------------

async function main() {
  me = await startPage();
  ({ byId: schools } = await loadSchools(api));
  const reports = READ_REPORTS.has(me.role);
  if (reports) {
    document.getElementById("health").hidden = false;
    document.getElementById("health-period").addEventListener("change",
      () => drawHealth().catch((error) => showError(error, document.getElementById("health-body"))));
  }
  await Promise.all([drawBoard(), reports ? drawHealth() : null, drawShelves(), setUpShelveForm(),
    drawDrillModes(), drawScene()]);
  // The board is live enough at a glance: read again every half minute while the page is shown.
  let reading = false;
  setInterval(async () => {
    if (reading || document.hidden) return;
    reading = true;
    try {
      await drawBoard();
    } catch {
      /* a missed refresh shows the previous board; the next one tries again */
    } finally {
      reading = false;
    }
  }, BOARD_EVERY_MS);
  document.body.dataset.ready = "true";
}

main().catch((error) => showError(error));

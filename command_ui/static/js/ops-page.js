/**
 * Operations for school and district administrators: devices offline or low on battery (and those never heard
 * from), cameras whose stream stopped, refused messages with their reasons, ids nobody registered (with the
 * registered id each most resembles, so a mistyped tracker id is found in a minute), the JT/T 808 and GT06
 * terminals (ops-terminals.js), the phones whose Web Push fails (ops-push.js) and what arrived per minute.
 * Each list says why it is empty. Everything the server sends (names, topics, payloads) goes in as text.
 */

import { api } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { formatTime } from "./format.js";
import { LANG, t } from "./i18n.js";
import { loadSchools } from "./incidents.js";
import { drawPush } from "./ops-push.js";
import { drawTerminals } from "./ops-terminals.js";
import { showError, startPage } from "./shell.js";

/** Who reads this page (mirrors command_ui.routers.ops.READ_OPS). */
const READ_OPS = new Set(["school_admin", "district_officer", "district_admin", "admin"]);
const REFRESH_MS = 60_000;

let schools = new Map();
let sharedZone; // the zone the caller's schools share, for times of no one school (loadSchools)
let wholeTree = false;
let myRole = "";
const schoolName = (id) => (id ? schools.get(id)?.name ?? id : t("ops.no_school"));
const zoneOf = (id) => schools.get(id)?.timezone ?? sharedZone;
const decimal = new Intl.NumberFormat(LANG, { maximumFractionDigits: 1 });
const rate = new Intl.NumberFormat(LANG, { maximumFractionDigits: 2 });

/** A translated label for a code (a reason, a kind, a state) where there is one, else the code itself. */
function label(prefix, code) {
  const key = `${prefix}.${code}`;
  const text = t(key);
  return text === key ? code : text;
}

function table(headings, rows) {
  return h("table", { class: "data" }, h("thead", {}, h("tr", {}, headings.map((k) => h("th", {}, t(k))))),
    h("tbody", {}, rows));
}

function empty(key, vars) {
  return h("p", { class: "empty" }, t(key, vars));
}

function body(section) {
  return document.querySelector(`#${section} .ops-body`);
}

// --- devices and cameras -----------------------------------------------------------------------------------

function deviceRow(d) {
  const zone = zoneOf(d.school_id);
  return h("tr", { "data-device-id": d.device_id, "data-state": d.state },
    h("td", {}, schoolName(d.school_id)),
    h("td", {}, h("span", { class: "name" }, d.name), " ", h("span", { class: "muted id" }, d.device_id)),
    h("td", {}, label("ops.kind", d.kind)),
    h("td", {}, h("span", { class: `badge ops-${d.state}` }, label("ops.state", d.state))),
    h("td", {}, d.last_seen ? formatTime(d.last_seen, zone) : "—"),
    h("td", {}, d.battery_pct == null ? "—" : `${decimal.format(d.battery_pct)} %`));
}

async function drawDevices() {
  const found = await api.get("/api/v1/ops/devices");
  const heard = found.devices.filter((d) => d.state !== "never_heard");
  const never = found.devices.filter((d) => d.state === "never_heard");
  const headings = ["ops.school", "ops.device", "ops.kind", "ops.state", "ops.last_seen", "ops.battery"];
  replaceChildren(body("devices"),
    heard.length ? table(headings, heard.map(deviceRow)) : empty("ops.devices_none"),
    never.length ? h("details", { class: "never-heard" },
      h("summary", {}, t("ops.never_heard", { count: never.length })),
      h("p", { class: "muted" }, t("ops.never_heard_help")),
      table(headings, never.map(deviceRow))) : null);
  replaceChildren(body("cameras"), found.cameras.length
    ? table(["ops.school", "ops.camera", "ops.stalled_since", "ops.reason"], found.cameras.map((c) => h("tr", {
      "data-camera-id": c.camera_id,
    }, h("td", {}, schoolName(c.school_id)),
    h("td", {}, h("span", { class: "name" }, c.name), " ", h("span", { class: "muted id" }, c.camera_id)),
    h("td", {}, formatTime(c.since, zoneOf(c.school_id))), h("td", {}, c.reason ?? "—"))))
    : empty("ops.cameras_none"));
  drawPush(body("push"), found.push, sharedZone);
}

// --- dead letters ------------------------------------------------------------------------------------------

function reasonOptions(reasons, chosen) {
  const select = document.getElementById("reason");
  const total = Object.values(reasons).reduce((a, b) => a + b, 0);
  const codes = Object.keys(reasons);
  if (chosen && !codes.includes(chosen)) codes.push(chosen);
  replaceChildren(select, h("option", { value: "" }, t("ops.every_reason", { count: total })),
    codes.map((code) => h("option", { value: code, selected: code === chosen },
      `${label("ops.why", code)} (${reasons[code] ?? 0})`)));
}

async function drawDeadLetters() {
  const chosen = document.getElementById("reason").value;
  const query = chosen ? `?reason=${encodeURIComponent(chosen)}` : "";
  const found = await api.get(`/api/v1/ops/dead-letters${query}`);
  reasonOptions(found.reasons, chosen);
  const rows = found.letters.map((d) => h("tr", { "data-reason": d.reason, "data-source": d.source },
    h("td", {}, formatTime(d.time, zoneOf(d.school_id))),
    h("td", {}, d.source),
    h("td", {}, h("strong", { class: "reason" }, label("ops.why", d.reason)),
      h("div", { class: "muted message" }, d.message)),
    h("td", {}, d.device_id ? [h("span", { class: "id" }, d.device_id), h("div", { class: "muted" },
      schoolName(d.school_id))] : h("span", { class: "muted" }, t("ops.no_device"))),
    h("td", { class: "payload" }, h("code", { class: "topic" }, d.topic),
      h("code", { class: "excerpt" }, d.excerpt || t("ops.empty_payload")),
      h("span", { class: "muted" }, t("ops.bytes", { count: d.size })))));
  replaceChildren(body("dead-letters"), rows.length
    ? table(["ops.time", "ops.source", "ops.reason", "ops.device", "ops.payload"], rows)
    : empty(chosen ? "ops.dead_letters_none_reason" : "ops.dead_letters_none",
      { reason: label("ops.why", chosen) }));
}

// --- unregistered ids --------------------------------------------------------------------------------------

async function drawUnregistered() {
  const found = await api.get("/api/v1/ops/unregistered");
  const rows = found.map((u) => h("tr", { "data-external-id": u.external_id, "data-source": u.source },
    h("td", {}, u.source),
    h("td", {}, h("code", { class: "id" }, u.external_id)),
    h("td", {}, u.closest ? h("span", { class: "closest" }, t("ops.did_you_mean", { id: u.closest }))
      : h("span", { class: "muted" }, "—")),
    h("td", {}, u.school_id ? schoolName(u.school_id) : h("span", { class: "muted" }, t("ops.no_school"))),
    h("td", { class: "count" }, u.messages),
    h("td", {}, formatTime(u.first_seen, zoneOf(u.school_id))),
    h("td", {}, formatTime(u.last_seen, zoneOf(u.school_id))),
    h("td", { class: "payload" }, h("code", {}, u.last_topic))));
  replaceChildren(body("unregistered"),
    rows.length ? table(["ops.source", "ops.external_id", "ops.closest", "ops.school", "ops.messages",
      "ops.first_seen", "ops.last_seen", "ops.last_message"], rows) : empty("ops.unregistered_none"),
    wholeTree ? null : h("p", { class: "muted" }, t("ops.unregistered_scoped")));
}

// --- rates -------------------------------------------------------------------------------------------------

const SERIES = ["positions", "events", "readings", "dead_letters"];

async function drawRates() {
  const { minutes } = await api.get("/api/v1/ops/ingest-rates?minutes=60");
  const totals = Object.fromEntries(SERIES.map((s) => [s, minutes.reduce((sum, m) => sum + m[s], 0)]));
  const all = minutes.map((m) => SERIES.reduce((sum, s) => sum + m[s], 0));
  if (!all.some(Boolean)) {
    replaceChildren(body("rates"), empty("ops.rates_none"));
    return;
  }
  const peak = Math.max(...all);
  const recent = all.slice(-5).reduce((a, b) => a + b, 0) / 5;
  replaceChildren(body("rates"),
    table(["ops.series", "ops.last_hour", "ops.per_minute", "ops.peak_minute"], SERIES.map((s) => h("tr", {
      "data-series": s,
    }, h("td", {}, t(`ops.series.${s}`)), h("td", { class: "count" }, totals[s]),
    h("td", { class: "count" }, rate.format(totals[s] / minutes.length)),
    h("td", { class: "count" }, Math.max(...minutes.map((m) => m[s])))))),
    h("p", { class: "muted" }, t("ops.rates_recent", { rate: rate.format(recent), peak })),
    h("div", { class: "rate-strip", role: "img", "aria-label": t("ops.rates_strip") }, minutes.map((m, n) => h("span", {
      class: m.dead_letters ? "refused" : null,
      style: `height: ${Math.max(2, Math.round((all[n] / peak) * 100))}%`,
      title: `${formatTime(m.minute, sharedZone)}: ${all[n]}`,
    }))));
}

// --- the page ----------------------------------------------------------------------------------------------

const drawTerminalList = () => drawTerminals(body("terminals"), myRole, schoolName, zoneOf, drawTerminalList);

async function drawAll() {
  await Promise.all([drawDevices(), drawDeadLetters(), drawUnregistered(), drawTerminalList(), drawRates()]);
  document.getElementById("as-of").textContent = t("ops.as_of", { time: formatTime(new Date().toISOString(), sharedZone) });
}

async function main() {
  const me = await startPage();
  if (!READ_OPS.has(me.role)) {
    replaceChildren(document.querySelector("main"), h("h1", {}, t("ops.title")),
      h("p", { class: "empty", "data-testid": "ops-refused" }, t("ops.not_yours")));
    document.body.dataset.ready = "true";
    return;
  }
  myRole = me.role;
  wholeTree = me.scope_path === "/" || me.scope_path.split("/").length === 3;
  ({ byId: schools, zone: sharedZone } = await loadSchools(api));
  document.getElementById("reason").addEventListener("change",
    () => drawDeadLetters().catch((error) => showError(error, body("dead-letters"))));
  await drawAll();
  let reading = false;
  setInterval(async () => {
    if (reading || document.hidden) return;
    reading = true;
    try {
      await drawAll();
    } catch {
      /* a missed refresh keeps the previous lists; the next one tries again */
    } finally {
      reading = false;
    }
  }, REFRESH_MS);
  document.body.dataset.ready = "true";
}

main().catch((error) => showError(error));

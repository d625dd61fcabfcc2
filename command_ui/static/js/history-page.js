/**
 * Incident history for administrators, officers and auditors: search by school, type, severity, status,
 * outcome and dates (in the query string, so a search is a link), page after page by the API's Link header,
 * export the same search as CSV, and read the response-time and uptime reports. Each incident opens in
 * full (?incident=ID). Dates are the day in the school's timezone when one school is chosen, else UTC.
 */

import { ACT_ON_INCIDENTS, READ_AUDIT, api } from "./api.js";
import { PALETTE, shareBars, weeklyLines } from "./charts.js";
import { h, replaceChildren } from "./dom.js";
import { formatTime } from "./format.js";
import { t } from "./i18n.js";
import { showIncident } from "./incident-detail.js";
import {
  OUTCOMES, SEVERITIES, STATUSES, TYPES, alarmBadges, incidentTitle, loadSchools, typeName,
} from "./incidents.js";
import { showError, startPage } from "./shell.js";

/** Roles that read reports and export incident lists (mirrors command_ui.routers.reports.READ_REPORTS). */
const READ_REPORTS = new Set(["school_admin", "district_officer", "district_admin", "auditor", "admin"]);

let schools = new Map();
const params = new URLSearchParams(location.search);

/** The search in the page's query string, as the API's query string (dates become instants). */
function apiQuery() {
  const query = new URLSearchParams();
  for (const name of ["school", "status", "severity", "outcome"]) {
    for (const value of params.getAll(name)) if (value) query.append(name, value);
  }
  if (params.get("type")) query.set("type", params.get("type"));
  const zone = schools.get(params.get("school"))?.timezone ?? "UTC";
  if (params.get("since")) query.set("since", startOfDay(params.get("since"), zone));
  if (params.get("until")) query.set("until", startOfDay(nextDay(params.get("until")), zone));
  return query;
}

/** Midnight starting a local date in a time zone, as an ISO instant. */
function startOfDay(date, zone) {
  const guess = new Date(`${date}T00:00:00Z`);
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
    minute: "2-digit", second: "2-digit",
  }).formatToParts(guess).map((p) => [p.type, p.value]));
  const shown = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  return new Date(guess.getTime() - (shown - guess.getTime())).toISOString();
}

function nextDay(date) {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

function checkboxes(container, name, values, label) {
  const chosen = new Set(params.getAll(name));
  replaceChildren(container, values.map((v) => h("label", {},
    h("input", { type: "checkbox", name, value: v, checked: chosen.has(v) }), ` ${t(label(v))}`)));
}

function drawFilters() {
  const select = document.getElementById("filter-school");
  replaceChildren(select, h("option", { value: "" }, t("history.any")),
    [...schools.values()].map((s) => h("option", { value: s.id, selected: params.get("school") === s.id }, s.name)));
  document.getElementById("filter-type").value = params.get("type") ?? "";
  replaceChildren(document.getElementById("types"), TYPES.map((type) => h("option", { value: type, label: typeName(type) })));
  document.getElementById("filter-since").value = params.get("since") ?? "";
  document.getElementById("filter-until").value = params.get("until") ?? "";
  const form = document.getElementById("filters");
  checkboxes(form.querySelector(".severities"), "severity", SEVERITIES, (v) => `severity.${v}`);
  checkboxes(form.querySelector(".statuses"), "status", STATUSES, (v) => `status.${v}`);
  checkboxes(form.querySelector(".outcomes"), "outcome", OUTCOMES, (v) => `outcome.${v}`);
  // Empty fields stay out of the URL, so a search link reads as what was asked.
  form.addEventListener("formdata", (event) => {
    for (const [key, value] of [...event.formData.entries()]) if (!value) event.formData.delete(key);
  });
}

function row(i) {
  const school = schools.get(i.school_id);
  return h("tr", { "data-incident-id": i.id },
    h("td", {}, h("a", { href: `/history?incident=${i.id}` }, `#${i.id}`)),
    h("td", {}, formatTime(i.opened_at, school?.timezone, true)),
    h("td", {}, school?.name ?? i.school_id),
    h("td", { "data-type": i.type }, typeName(i.type)),
    h("td", {}, h("span", { class: `badge sev-${i.severity}` }, t(`severity.${i.severity}`))),
    h("td", {}, t(`status.${i.status}`), i.outcome ? ` (${t(`outcome.${i.outcome}`)})` : ""),
    h("td", {}, incidentTitle(i), " ", h("span", { class: "badges" }, alarmBadges(i, school?.timezone))));
}

/** Fetch one page; returns the next page's path from the Link header, or null on the last page. */
async function fetchPage(path, append) {
  const response = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
  const rows = await response.json();
  const body = document.querySelector("#incidents tbody");
  if (!append) replaceChildren(body);
  body.append(...rows.map(row));
  if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: 7 }, t("history.none"))));
  // The count comes with the first page only (or "at least" past the server's cap); later pages keep it.
  const exact = response.headers.get("X-Total-Count");
  const atLeast = response.headers.get("X-Total-Count-At-Least");
  if (exact !== null) document.getElementById("total").textContent = t("history.total", { count: exact });
  else if (atLeast !== null) {
    document.getElementById("total").textContent = t("history.total_more", { count: Number(atLeast).toLocaleString() });
  }
  const link = response.headers.get("Link")?.match(/<([^>]+)>;\s*rel="next"/);
  return link ? link[1] : null;
}

async function drawTable(canExport) {
  const query = apiQuery();
  const more = document.getElementById("more");
  let next = await fetchPage(`/api/v1/incidents?${query}&limit=50`, false);
  const showMore = () => {
    more.hidden = !next;
    document.body.dataset.pages = String(Number(document.body.dataset.pages ?? 0) + 1);
  };
  showMore();
  more.addEventListener("click", async () => {
    more.disabled = true;
    next = await fetchPage(next, true);
    more.disabled = false;
    showMore();
  });
  const csv = document.getElementById("csv");
  csv.href = `/api/v1/incidents/export.csv?${query}`;
  csv.hidden = !canExport;
}

async function drawReports() {
  const school = params.get("school");
  const scope = school ? `?school=${encodeURIComponent(school)}` : "";
  const [times, uptime] = await Promise.all([
    api.get(`/api/v1/reports/response-times${scope}`), api.get(`/api/v1/reports/device-uptime${scope}`),
  ]);
  const ids = [...new Set(times.weeks.map((w) => w.school_id))];
  const color = new Map(ids.map((id, i) => [id, PALETTE[i % PALETTE.length]]));
  const name = (id) => schools.get(id)?.name ?? id;
  const minutes = (s) => (s == null ? null : s / 60);
  for (const [metric, holder] of [["ack", "chart-ack"], ["resolve", "chart-resolve"]]) {
    const series = ids.flatMap((id) => {
      const weeks = times.weeks.filter((w) => w.school_id === id);
      return [["median", false], ["p90", true]].map(([stat, dashed]) => ({
        key: `${id}:${stat}`, color: color.get(id), dashed,
        name: dashed ? `${name(id)} (${t("reports.p90")})` : name(id),
        points: weeks.map((w) => ({ x: w.week, y: minutes(w[`${metric}_${stat}_s`]) })),
      }));
    });
    weeklyLines(document.getElementById(holder), series,
      { title: t(`reports.${metric}`), unitName: t("reports.minutes"), emptyText: t("reports.no_incidents") });
  }
  document.querySelector(".chart-key").hidden = !ids.length;
  shareBars(document.getElementById("chart-uptime"),
    uptime.schools.map((s) => ({ key: s.school_id, label: name(s.school_id), value: s.uptime })),
    { title: t("reports.uptime"), emptyText: t("reports.no_devices") });
  replaceChildren(document.getElementById("uptime-notes"), uptime.schools.map((s) => h("li", {
    "data-school-id": s.school_id }, `${name(s.school_id)}: `,
  t("reports.devices", { heard: s.heard, devices: s.devices, online: s.online_now }))));
  document.getElementById("reports").hidden = false;
}

async function main() {
  const me = await startPage();
  ({ byId: schools } = await loadSchools(api));
  if (READ_AUDIT.has(me.role)) document.getElementById("export").hidden = false;
  const id = Number(params.get("incident"));
  if (id) {
    document.getElementById("list-view").hidden = true;
    const detail = document.getElementById("detail-view");
    detail.hidden = false;
    const draw = () => showIncident(document.getElementById("detail"), id,
      { schools, canAct: ACT_ON_INCIDENTS.has(me.role), onChanged: draw });
    await draw();
  } else {
    drawFilters();
    const reports = READ_REPORTS.has(me.role);
    await Promise.all([drawTable(reports), reports ? drawReports() : null]);
  }
  document.body.dataset.ready = "true";
}

main().catch((error) => showError(error));

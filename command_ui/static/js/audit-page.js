/**
 * The audit trail for auditors and administrators: whether the hash chain holds (or the record where it breaks
 * and why), a search by person, incident, school, action and time, the records newest first a page at a time,
 * and a CSV export of exactly what the search found.
 * The search lives in the address (the form submits with GET), so a search can be bookmarked or sent on.
 * Every value the server sends (names, notes, addresses) goes into the page as text, never as markup.
 */

import { READ_AUDIT, api } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { formatTime } from "./format.js";
import { t } from "./i18n.js";
import { loadSchools, timelineText } from "./incidents.js";
import { showError, startPage } from "./shell.js";

const PAGE = 50;
/** Actions the trail records (store/audit_repo.py's callers), offered while typing; each has a label. */
const ACTIONS = ["auth.login", "auth.logout", "auth.login_failed", "auth.login_throttled", "auth.basic",
  "auth.basic_failed", "auth.basic_throttled", "user.locale", "user.password_set", "incident.raised",
  "incident.evidence", "incident.evidence_raised", "incident.repeat", "incident.ended", "incident.seen", "incident.acknowledge", "incident.respond", "incident.resolve", "incident.close",
  "incident.reopen", "incident.notified", "incident.escalated", "incident.renotified", "shelf.create",
  "shelf.end", "shelf.expired", "drill_mode.start", "drill_mode.end", "drill_mode.expired", "geofence.save",
  "geofence.remove", "snapshot.view", "vision_scene.forget", "site.load"];

/** A translated label where there is one, else the action's own code. */
function actionLabel(action) {
  const key = `audit.act.${action}`;
  const label = t(key);
  return label === key ? action : label;
}

/** The search in the address, as the form fields name it. */
function currentSearch() {
  const query = new URLSearchParams(location.search);
  const value = (name) => (query.get(name) ?? "").trim();
  const offset = Math.max(0, Number.parseInt(query.get("offset") ?? "0", 10) || 0);
  return { actor: value("actor"), incident: value("incident"), school: value("school"), action: value("action"),
    since: value("since"), until: value("until"), offset };
}

/** A datetime-local value (the reader's own clock) as an instant the API takes; "" when empty or invalid. */
function instant(local) {
  if (!local) return "";
  const when = new Date(local);
  return Number.isNaN(when.getTime()) ? "" : when.toISOString();
}

/** The API's filters for a search (no paging). */
function apiFilters(search) {
  const params = new URLSearchParams();
  if (search.actor) params.set("actor", search.actor);
  if (search.action) params.set("action", search.action);
  if (/^\d{1,18}$/.test(search.incident)) params.set("target", `incident:${search.incident}`);
  if (search.school) params.set("school", search.school);
  if (instant(search.since)) params.set("since", instant(search.since));
  if (instant(search.until)) params.set("until", instant(search.until));
  return params;
}

/** The zone records are shown in (set once the caller's schools are known). */
let zone;

function fillForm(search, schools) {
  const form = document.getElementById("filters");
  for (const name of ["actor", "incident", "action", "since", "until"]) form.elements[name].value = search[name];
  replaceChildren(form.elements.school, h("option", { value: "" }, t("audit.any_school")),
    [...schools.values()].map((s) => h("option", { value: s.id, selected: s.id === search.school }, s.name)));
  replaceChildren(document.getElementById("actions"),
    ACTIONS.map((a) => h("option", { value: a }, actionLabel(a))));
}

// --- the chain ---------------------------------------------------------------------------------------------

async function drawChain() {
  const line = document.getElementById("chain");
  try {
    const result = await api.get("/api/v1/audit/verify");
    line.dataset.state = result.ok ? "ok" : "broken";
    if (result.ok) {
      line.textContent = t("audit.chain_ok", { count: result.records });
      return;
    }
    const why = t(`audit.break.${result.reason}`);
    replaceChildren(line, h("strong", {}, t("audit.chain_broken", { id: result.broken_at })), " ",
      why.startsWith("audit.break.") ? "" : `${why} `, h("span", { class: "explanation" }, result.explanation ?? ""));
  } catch (error) {
    line.dataset.state = "unknown";
    line.textContent = t("audit.chain_failed", { detail: error.message });
  }
}

// --- the records -------------------------------------------------------------------------------------------

/** A translated label where the key exists, else null. */
function known(key, vars) {
  const text = t(key, vars);
  return text === key ? null : text;
}

const ISO_INSTANT = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/;
/** Which translated words a detail's values are, by the key they stand under. */
const VALUE_KEYS = { status: "status", severity: "severity", outcome: "outcome", kind: "signal", type: "type",
  recipients: "chain", role: "role" };

/**
 * A detail value as text, in the reader's language where it is one of ours: statuses, severities, types and
 * recipients by their labels, instants in the reader's time, yes and no; objects as "key value" pairs. What a
 * person wrote (a note, a reason) stays as they wrote it.
 */
function valueText(value, key) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "boolean") return t(value ? "audit.yes" : "audit.no");
  if (Array.isArray(value)) return value.map((v) => valueText(v, key)).join(", ");
  if (typeof value === "object") {
    return Object.entries(value).map(([k, v]) => `${keyLabel(k)} ${valueText(v, k)}`).join(", ");
  }
  const text = String(value);
  if (ISO_INSTANT.test(text)) return formatTime(text, zone, true);
  const family = VALUE_KEYS[key];
  return (family && known(`${family}.${text}`)) || text;
}

function keyLabel(key) {
  return known(`audit.key.${key}`) ?? key;
}

/**
 * A record's detail as "key: value" lines. An incident transition the system wrote keeps an English note for
 * exports ("not acknowledged within 60 s at level 1"); it is shown as the timeline says it, by the API's
 * message key, like every other word on the page.
 */
function detailList(detail, said) {
  const entries = Object.entries(detail ?? {});
  if (!entries.length) return h("span", { class: "muted" }, "—");
  const text = (key, value) => (key === "note" && said && said.show_note === false
    ? timelineText(said) : valueText(value, key));
  return h("ul", { class: "audit-detail" }, entries.map(([key, value]) => h("li", { "data-key": key },
    h("span", { class: "key" }, `${keyLabel(key)}: `), h("span", { class: "value" }, text(key, value)))));
}

/** What a record is about: "incident:42" as the incident's number (a link to it), a person, a school... */
function targetCell(target) {
  if (!target) return h("span", { class: "muted" }, "—");
  const colon = target.indexOf(":");
  const kind = colon > 0 ? target.slice(0, colon) : "";
  const key = colon > 0 ? target.slice(colon + 1) : target;
  const text = (kind && known(`audit.about.${kind}`, { id: key })) || target;
  return kind === "incident" && /^\d+$/.test(key) ? h("a", { href: `/history?incident=${key}` }, text) : text;
}

function row(record) {
  return h("tr", { "data-record-id": record.id, "data-action": record.action, "data-target": record.target ?? "" },
    h("td", { class: "when" }, formatTime(record.at, zone, true)),
    h("td", { class: "actor" }, known(`actor.${record.actor}`) ?? record.actor,
      record.actor_title_key ? h("span", { class: "muted actor-title" }, ` · ${t(record.actor_title_key)}`) : ""),
    h("td", { class: "action" }, actionLabel(record.action)),
    h("td", { class: "target" }, targetCell(record.target)),
    h("td", { class: "detail" }, detailList(record.detail, record.message)));
}

function pageLink(id, search, offset) {
  const link = document.getElementById(id);
  const query = new URLSearchParams(location.search);
  query.set("offset", String(offset));
  link.href = `/audit?${query}`;
  link.hidden = false;
}

async function drawRecords(search) {
  const params = apiFilters(search);
  const csv = document.getElementById("csv");
  csv.href = `/api/v1/audit/export.csv?${params}`;
  csv.hidden = false;
  params.set("newest_first", "true");
  params.set("limit", String(PAGE + 1));
  params.set("offset", String(search.offset));
  const records = await api.get(`/api/v1/audit?${params}`);
  const shown = records.slice(0, PAGE);
  const body = document.querySelector("#records tbody");
  const filtered = [...apiFilters(search).keys()].length > 0;
  replaceChildren(body, shown.length ? shown.map(row) : h("tr", {}, h("td", {
    colspan: 5, class: "empty", "data-testid": "audit-empty",
  }, search.offset ? t("audit.none_further") : filtered ? t("audit.none_match") : t("audit.none_yet"))));
  document.getElementById("range").textContent = shown.length
    ? t("audit.range", { first: search.offset + 1, last: search.offset + shown.length }) : "";
  if (search.offset > 0) pageLink("newer", search, Math.max(0, search.offset - PAGE));
  if (records.length > PAGE) pageLink("older", search, search.offset + PAGE);
}

async function main() {
  const me = await startPage();
  if (!READ_AUDIT.has(me.role)) {
    replaceChildren(document.querySelector("main"), h("h1", {}, t("audit.title")),
      h("p", { class: "empty", "data-testid": "audit-refused" }, t("audit.not_yours")));
    document.body.dataset.ready = "true";
    return;
  }
  const search = currentSearch();
  const loaded = await loadSchools(api);
  const schools = loaded.byId;
  zone = loaded.zone; // records belong to no one school
  fillForm(search, schools);
  await Promise.all([drawChain(), drawRecords(search)]);
  document.body.dataset.ready = "true";
}

main().catch((error) => showError(error));

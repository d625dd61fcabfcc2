/**
 * The safety scorecard of the reader's schools for a month (command_ui/routers/compliance.py): every school with
 * each criterion's measured value against its target, weakest first; the units of the tree rolled up; links to
 * the month's bulletin as HTML and PDF. The unit picker offers the reader's own unit and the units under it.
 * Names from the server go in as text (dom.js).
 */

import { api } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { formatDuration } from "./format.js";
import { LANG, t } from "./i18n.js";
import { showError, startPage } from "./shell.js";

const decimal = new Intl.NumberFormat(LANG, { maximumFractionDigits: 1 });
const percent = new Intl.NumberFormat(LANG, { style: "percent", maximumFractionDigits: 0 });
const unitSelect = document.getElementById("unit");
const monthInput = document.getElementById("month");

/** This month as YYYY-MM on the reader's clock. */
function thisMonth() {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}`;
}

/** A criterion's cell: measured / target and its status, coloured by the status. */
function cell(judgement) {
  // The alarms' figure is the share of buttons online, so it and its target read as percentages; the time to
  // acknowledge is a duration in words ("5 小时 49 分钟", not 20,939 seconds).
  const format = (value) => (value === null ? "–"
    : judgement.criterion === "alarms" ? percent.format(value)
      : judgement.criterion === "response" ? formatDuration(value) : decimal.format(value));
  const measured = format(judgement.measured);
  const target = format(judgement.target);
  return h("td", { class: `criterion ${judgement.status}`, dataset: { criterion: judgement.criterion } },
    h("span", { class: "figure" }, `${measured} / ${target}`), " ",
    h("span", { class: "status" }, t(`scorecard.status.${judgement.status}`)));
}

function drawSchools(card) {
  const head = h("tr", {}, h("th", {}, t("scorecard.rank")), h("th", {}, t("scorecard.school")),
    h("th", {}, t("scorecard.score")), card.criteria.map((c) => h("th", {}, t(`scorecard.criterion.${c}`))));
  const rows = card.schools.map((s) => h("tr", { class: s.rectify ? "rectify" : null, dataset: { school: s.school_id } },
    h("td", { class: "num" }, String(s.rank)),
    h("td", {}, s.name, s.rectify ? h("span", { class: "badge" }, t("scorecard.rectify")) : null),
    h("td", { class: "num score" }, decimal.format(s.score)),
    s.criteria.map(cell)));
  const body = card.schools.length ? h("table", { class: "data scorecard" }, h("thead", {}, head), h("tbody", {}, rows))
    : h("p", { class: "empty" }, t("scorecard.none"));
  replaceChildren(document.querySelector("#schools .table-scroll"), body);
}

function drawUnits(card) {
  const rows = card.units.map((u) => h("tr", { dataset: { unit: u.unit_id } }, h("td", {}, u.name),
    h("td", { class: "num" }, String(u.schools)), h("td", { class: "num" }, u.score === null ? "–" : decimal.format(u.score)),
    h("td", { class: "num" }, String(u.rectify))));
  const head = h("tr", {}, ["scorecard.unit", "scorecard.school_count", "scorecard.score", "scorecard.rectify"]
    .map((k) => h("th", {}, t(k))));
  replaceChildren(document.querySelector("#units .table-scroll"), card.units.length
    ? h("table", { class: "data" }, h("thead", {}, head), h("tbody", {}, rows)) : h("p", { class: "empty" }, t("scorecard.none")));
}

/** The unit's archived bulletins (and its units'), newest month first, each a link to the bytes kept. */
async function drawArchive(unit) {
  const kept = await api.get(`/api/v1/reports/bulletins?${new URLSearchParams({ unit })}`);
  const when = new Intl.DateTimeFormat(LANG, { dateStyle: "medium", timeStyle: "short" });
  const head = h("tr", {}, ["bulletins.month", "bulletins.unit", "bulletins.lang", "bulletins.format",
    "bulletins.version", "bulletins.made_by", "bulletins.made_at", "bulletins.open"].map((k) => h("th", {}, t(k))));
  const rows = kept.map((b) => h("tr", { dataset: { bulletin: String(b.id), unit: b.unit_id, month: b.month } },
    h("td", {}, b.month), h("td", {}, b.unit_name), h("td", {}, t(`bulletins.lang.${b.lang}`)),
    h("td", {}, b.format.toUpperCase()), h("td", { class: "num" }, String(b.version)),
    h("td", {}, b.scheduled ? t("bulletins.scheduler") : b.generated_by),
    h("td", {}, when.format(new Date(b.generated_at))),
    h("td", {}, h("a", b.format === "pdf"
      ? { href: b.url, download: `bulletin-${b.unit_id}-${b.month}-v${b.version}.pdf` }
      : { href: b.url, target: "_blank", rel: "noopener" }, t("bulletins.open")))));
  replaceChildren(document.querySelector("#archive .table-scroll"), kept.length
    ? h("table", { class: "data archive" }, h("thead", {}, head), h("tbody", {}, rows))
    : h("p", { class: "empty" }, t("bulletins.none")));
}

/** Point the bulletin links at the picked unit and month, in the reader's language. */
function linkBulletin(unit, month) {
  const query = (format) => `/api/v1/reports/bulletin?${new URLSearchParams({ unit, month, format, lang: LANG })}`;
  document.getElementById("bulletin-html").href = query("html");
  const pdf = document.getElementById("bulletin-pdf");
  pdf.href = query("pdf");
  pdf.download = `bulletin-${unit}-${month}.pdf`;
}

async function load() {
  const unit = unitSelect.value;
  const month = monthInput.value || thisMonth();
  linkBulletin(unit, month);
  const card = await api.get(`/api/v1/reports/scorecard?${new URLSearchParams({ unit, month })}`);
  const rectify = card.schools.filter((s) => s.rectify).length;
  document.getElementById("summary").textContent = t("scorecard.summary",
    { unit: card.unit_name, month: card.month, schools: card.schools.length, rectify });
  drawSchools(card);
  drawUnits(card);
  await drawArchive(unit);
  document.body.dataset.shown = `${card.unit_id} ${card.month}`;
}

async function main() {
  await startPage();
  // A link may name the month (the demo prints last month's); this month otherwise.
  const asked = new URLSearchParams(window.location.search).get("month");
  monthInput.value = /^\d{4}-(0[1-9]|1[0-2])$/.test(asked || "") ? asked : thisMonth();
  // The reader's own unit (the server's default) first, then every unit under it, for the picker.
  const own = await api.get(`/api/v1/reports/scorecard?${new URLSearchParams({ month: monthInput.value })}`);
  const choices = [{ unit_id: own.unit_id, name: own.unit_name },
    ...own.units.filter((u) => u.unit_id !== own.unit_id).sort((a, b) => a.name.localeCompare(b.name, LANG))];
  replaceChildren(unitSelect, choices.map((u) => h("option", { value: u.unit_id }, u.name)));
  const reload = () => load().catch((error) => showError(error));
  unitSelect.addEventListener("change", reload);
  monthInput.addEventListener("change", reload);
  document.getElementById("pick").addEventListener("submit", (event) => { event.preventDefault(); reload(); });
  await load();
}

main().catch((error) => showError(error)).finally(() => { document.body.dataset.ready = "true"; });

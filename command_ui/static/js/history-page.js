/**
 * Incident history for administrators and auditors: a table filtered by status, each incident opening in
 * full (?incident=ID), and the audit trail's CSV export for the roles that may read it.
 */

import { ACT_ON_INCIDENTS, READ_AUDIT, api } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { formatTime } from "./format.js";
import { t } from "./i18n.js";
import { showIncident } from "./incident-detail.js";
import { STATUSES, loadSchools } from "./incidents.js";
import { showError, startPage } from "./shell.js";

let schools = new Map();

function chosenStatuses() {
  const params = new URLSearchParams(location.search);
  const chosen = params.getAll("status").filter((s) => STATUSES.includes(s));
  return chosen.length ? chosen : STATUSES;
}

function drawFilters() {
  const chosen = new Set(chosenStatuses());
  const form = document.getElementById("filters");
  form.addEventListener("change", () => form.requestSubmit());
  replaceChildren(form.querySelector(".statuses"), STATUSES.map((s) => h("label", {},
    h("input", { type: "checkbox", name: "status", value: s, checked: chosen.has(s) }), ` ${t(`status.${s}`)}`)));
}

async function drawTable() {
  const query = chosenStatuses().map((s) => `status=${encodeURIComponent(s)}`).join("&");
  const rows = await api.get(`/api/v1/incidents?${query}&limit=500`);
  const body = document.querySelector("#incidents tbody");
  replaceChildren(body, rows.length ? rows.map((i) => {
    const school = schools.get(i.school_id);
    return h("tr", { "data-incident-id": i.id },
      h("td", {}, h("a", { href: `/history?incident=${i.id}` }, `#${i.id}`)),
      h("td", {}, formatTime(i.opened_at, school?.timezone, true)),
      h("td", {}, school?.name ?? i.school_id),
      h("td", {}, i.type),
      h("td", {}, h("span", { class: `badge sev-${i.severity}` }, t(`severity.${i.severity}`))),
      h("td", {}, t(`status.${i.status}`), i.outcome ? ` (${t(`outcome.${i.outcome}`)})` : ""),
      h("td", {}, i.title));
  }) : h("tr", {}, h("td", { colspan: 7 }, t("history.none"))));
}

async function main() {
  const me = await startPage();
  ({ byId: schools } = await loadSchools(api));
  if (READ_AUDIT.has(me.role)) document.getElementById("export").hidden = false;
  const id = Number(new URLSearchParams(location.search).get("incident"));
  if (id) {
    document.getElementById("list-view").hidden = true;
    const detail = document.getElementById("detail-view");
    detail.hidden = false;
    const draw = () => showIncident(document.getElementById("detail"), id,
      { schools, canAct: ACT_ON_INCIDENTS.has(me.role), onChanged: draw });
    await draw();
  } else {
    drawFilters();
    await drawTable();
  }
  document.body.dataset.ready = "true";
}

main().catch((error) => showError(error));

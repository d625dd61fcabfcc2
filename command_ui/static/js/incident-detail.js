/**
 * One incident in full: facts, timeline, evidence and notifications, and the action form (acknowledge,
 * respond, resolve with an outcome and a note, close, reopen) for those allowed to act; its case file (the
 * snapshot, the place and the bus's track on a small map, readings, readers, staff to call: case-file.js).
 * Shared by the map's side panel and the history page.
 */

import { ApiError, api } from "./api.js";
import { caseFile } from "./case-file.js";
import { h, replaceChildren } from "./dom.js";
import { formatDistance, formatTime, formatTimeAgo } from "./format.js";
import { has, t } from "./i18n.js";
import { OPEN, OUTCOMES, alarmBadges, incidentTitle, movesFrom, signalName, timelineText, typeName } from "./incidents.js";
import { incidentClips } from "./video-player.js";

/**
 * Fetch and draw an incident into `container`.
 * @param {HTMLElement} container where to draw
 * @param {number} id incident id
 * @param {{schools: Map<string, object>, canAct: boolean, onChanged?: (result: object) => void,
 *          onResponder?: (responder: object) => void}} options
 */
export async function showIncident(container, id, options) {
  let incident = await api.get(`/api/v1/incidents/${id}`);
  if (await markSeen(incident, options.canAct)) incident = await api.get(`/api/v1/incidents/${id}`); // its timeline says so now
  const school = options.schools.get(incident.school_id);
  const zone = school?.timezone;
  replaceChildren(
    container,
    h("h2", { class: "incident-title" }, incidentTitle(incident)),
    h("p", { class: "badges" },
      h("span", { class: `badge sev-${incident.severity}` }, t(`severity.${incident.severity}`)),
      h("span", { class: `badge status-${incident.status}`, "data-testid": "detail-status" },
        t(`status.${incident.status}`)),
      incident.outcome && h("span", { class: "badge" }, t(`outcome.${incident.outcome}`)),
      alarmBadges(incident, zone)),
    facts([
      [t("incident.type"), typeName(incident.type)],
      [t("incident.school"), school?.name ?? incident.school_id],
      [t("incident.opened"), when(incident.opened_at, zone)],
      [t("incident.updated"), when(incident.updated_at, zone)],
      [t("incident.occurrences"), incident.occurrences],
      [t("incident.escalation"), incident.escalation_level],
      incident.cleared_at && [t("incident.cleared"), t("incident.cleared_unacknowledged",
        { time: formatTime(incident.cleared_at, zone, true) })],
    ].filter(Boolean)),
    options.canAct ? actionForm(incident, options) : null,
    OPEN.has(incident.status) ? responders(incident.id, options) : null,
    caseFile(incident, { canAct: options.canAct, zone }),
    incidentClips(incident.id, zone),
    section(t("incident.timeline"), incident.timeline.map((e) => h("li", { "data-kind": e.kind },
      h("time", { datetime: e.time }, formatTime(e.time, zone)), " ", h("strong", {}, timelineText(e)),
      e.actor && ` · ${e.actor === "system" ? t("actor.system") : e.actor_name ?? e.actor}`,
      e.note && e.show_note !== false && h("div", { class: "note" }, e.note)))),
    section(t("incident.evidence"), (incident.evidence ?? []).map((e) => h("li", {},
      h("time", { datetime: e.time }, formatTime(e.time, zone)), " ",
      h("strong", {}, has(`signal.${e.kind}`) ? signalName(e.kind) : e.summary ?? e.kind ?? ""),
      e.source_id && h("span", { class: "muted" }, ` (${e.source_name ?? e.source_id})`)))),
    section(t("incident.deliveries"), incident.deliveries.map((d) => h("li", {},
      h("time", { datetime: d.at }, formatTime(d.at, zone)), ` ${known("notifier", d.notifier)} · `
        + `${known("delivery", d.event)} · `,
      d.ok ? "✓" : h("span", { class: "error" }, `✗ ${d.error ?? ""}`)))),
  );
  return incident;
}

/** Incidents this page has told the server it showed: the server records each person once anyway. */
const seenSent = new Set();

/**
 * Opening an open incident's panel is the reader's receipt: "who has seen it" is part of the case file, and
 * the server records it once per person, audited. A closed one is history, read without leaving a mark; so is
 * one read by someone who may not act on it (an auditor, a report reader): "seen" tells the responders who is
 * on it. Resolves to whether a receipt went out.
 */
async function markSeen(incident, canAct) {
  if (!canAct || !OPEN.has(incident.status) || seenSent.has(incident.id)) return false;
  seenSent.add(incident.id);
  try {
    await api.post(`/api/v1/incidents/${incident.id}/seen`);
    return true;
  } catch {
    seenSent.delete(incident.id); // tried again at the next opening
    return false;
  }
}

/** Who could answer, nearest first: filled in when the answer comes, so the rest of the panel never waits. */
function responders(id, options) {
  const el = h("section", { class: "responders", "data-testid": "responders" },
    h("h3", {}, t("incident.responders")), h("p", { class: "muted" }, "…"));
  api.get(`/api/v1/incidents/${id}/responders`).then((list) => {
    const now = Date.now();
    const row = (r) => h("li", { "data-user-id": r.user_id },
      r.lon != null && options.onResponder
        ? h("button", { type: "button", class: "link", onclick: () => options.onResponder(r) }, r.name)
        : h("strong", {}, r.name),
      ` · ${t(`role.${r.role}`)} · ${r.distance_m == null ? "—" : formatDistance(r.distance_m)} · `,
      h("span", { class: "muted" }, age(now - Date.parse(r.time))));
    replaceChildren(el, h("h3", {}, t("incident.responders")), list.length
      ? h("ol", { class: "events" }, list.map(row)) : h("p", {}, t("incident.no_responders")));
  }).catch(() => {
    replaceChildren(el, h("h3", {}, t("incident.responders")), h("p", { class: "error" }, t("incident.responders_failed")));
  });
  return el;
}

function age(ms) {
  const minutes = Math.round(ms / 60000);
  return minutes < 1 ? t("incident.fix_now") : t("incident.fix_age", { minutes });
}

/** An absolute time in the school's zone, with how long ago beside it. */
function when(iso, zone) {
  return formatTimeAgo(iso, zone, true);
}

/** A word the server sends (a notifier, an event) in the reader's language, as sent when no text is known. */
function known(prefix, word) {
  return has(`${prefix}.${word}`) ? t(`${prefix}.${word}`) : word ?? "";
}

function facts(rows) {
  return h("dl", { class: "facts" }, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v ?? ""))]));
}

function section(title, items) {
  return h("section", {}, h("h3", {}, title), items.length ? h("ol", { class: "events" }, items) : h("p", {}, "—"));
}

function actionForm(incident, options) {
  const moves = movesFrom(incident.status);
  const message = h("p", { class: "error", role: "alert" });
  const note = h("textarea", { name: "note", rows: 2, placeholder: t("incident.note_placeholder") });
  const outcome = h("select", { name: "outcome" },
    OUTCOMES.map((o) => h("option", { value: o }, t(`outcome.${o}`))));
  const send = async (action) => {
    const body = { action, note: note.value.trim() || null };
    if (action === "resolve") body.outcome = outcome.value;
    try {
      const result = await api.post(`/api/v1/incidents/${incident.id}/actions`, body);
      options.onChanged?.(result);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      message.textContent = t("action.refused", { detail: error.detail });
    }
  };
  return h("form", { class: "actions", onsubmit: (e) => e.preventDefault() },
    h("label", {}, t("incident.note"), note),
    moves.includes("resolve") && h("label", {}, t("incident.outcome"), outcome),
    h("div", { class: "buttons" }, moves.map((m) => h("button", {
      type: "button", class: `act act-${m}`, "data-action": m, onclick: () => send(m),
    }, t(`action.${m}`)))),
    message);
}

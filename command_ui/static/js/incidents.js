/** What every page knows about incidents: which are open, how urgent, which moves a status allows. */

/** Statuses of an incident somebody still has to deal with. */
export const OPEN = new Set(["raised", "acknowledged", "responding"]);

/** Most urgent first (mirrors domain.incident.Severity). */
export const SEVERITIES = ["critical", "high", "medium", "low", "info"];

/** Every status, in lifecycle order. */
export const STATUSES = ["raised", "acknowledged", "responding", "resolved", "closed"];

/** Outcomes a resolve takes. */
export const OUTCOMES = ["real", "false_alarm", "drill"];

/** The moves the lifecycle allows from each status (mirrors alerts.lifecycle.TRANSITIONS). */
const MOVES = {
  raised: ["acknowledge", "respond", "resolve"],
  acknowledged: ["respond", "resolve"],
  responding: ["resolve"],
  resolved: ["close", "reopen"],
  closed: ["reopen"],
};

/** The moves allowed from a status. */
export function movesFrom(status) {
  return MOVES[status] ?? [];
}

/** Sort most urgent first, then newest first. */
export function byUrgency(a, b) {
  const severity = SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity);
  return severity || Date.parse(b.opened_at) - Date.parse(a.opened_at);
}

/**
 * The open incidents a page shows, kept current from the list and then the live feed.
 * apply() says what a change meant: "new" (first seen, open), "changed", "gone" (closed out) or "ignored".
 */
export class OpenIncidents {
  constructor() {
    this.byId = new Map();
  }

  /** Replace everything with the open ones of a list. */
  load(list) {
    this.byId = new Map(list.filter((i) => OPEN.has(i.status)).map((i) => [i.id, i]));
  }

  /** Take one change from the live feed. */
  apply(incident) {
    const known = this.byId.get(incident.id);
    if (!OPEN.has(incident.status)) {
      return this.byId.delete(incident.id) ? "gone" : "ignored";
    }
    // The live feed numbers each incident's states (event_seq, in commit order; updated_at may carry a
    // device's clock). A REST answer has no number and is never newer than the feed, which starts after it.
    if (known?.event_seq != null && incident.event_seq != null && known.event_seq > incident.event_seq) {
      return "ignored";
    }
    this.byId.set(incident.id, incident);
    return known ? "changed" : "new";
  }

  /** The open incidents, most urgent first. */
  sorted() {
    return [...this.byId.values()].sort(byUrgency);
  }
}

/** Load the schools in scope: a Map of id → {name, timezone, ...} and the GeoJSON features. */
export async function loadSchools(api) {
  const collection = await api.get("/api/v1/schools");
  const byId = new Map(collection.features.map((f) => [f.id, { id: f.id, ...f.properties }]));
  return { byId, features: collection.features };
}

/**
 * A head teacher's page (班主任): their class and the buses its pupils ride, each with where and when it last
 * reported, in the school's time (Beijing time in the example city), and the class's children on it (their stop,
 * morning and afternoon runs). Once a bus's trip has ended at the depot, the head teacher (or the school's admin)
 * confirms here that all the class's children got off (下车清点), the check the driver's button also gives.
 * Anyone above a class sees every class of their scope here too. Everything the server sends (names, plates)
 * goes in as text.
 */

import { api } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { formatClock, formatTime, formatTimeAgo } from "./format.js";
import { has, t } from "./i18n.js";
import { showError, startPage } from "./shell.js";

const REFRESH_MS = 30_000;
// Who counts a class's children off a bus (mirrors command_ui.routers.classes.CONFIRM_CHILD_CHECK).
const CONFIRM_CHILD_CHECK = new Set(["head_teacher", "school_admin", "admin"]);

let me = null;

/** The class's children on a bus: name, stop, and the runs they ride (a child on one run only is marked so). */
function riders(list) {
  if (!list.length) return h("p", { class: "muted riders-none" }, t("class.riders.none"));
  return h("ol", { class: "riders" }, list.map((r) => {
    const only = r.morning ? "class.riders.morning_only" : "class.riders.afternoon_only";
    const runs = r.morning && r.afternoon ? "" : t(only);
    return h("li", { class: "rider" }, h("span", { class: "pupil" }, r.pupil),
      r.stop_name ? h("span", { class: "muted" }, " · ", r.stop_name) : null,
      runs ? h("span", { class: "muted" }, " · ", runs) : null);
  }));
}

/** The newest trip's child check: when the bus got back, how the check stands, and the class's own confirmation. */
function check(c, b) {
  const trip = b.trip;
  if (!trip) return null;
  const zone = c.timezone;
  const lines = [h("span", {}, t("class.check.arrived", { time: formatTime(trip.arrived_at, zone) }))];
  if (trip.done_at) {
    const done = trip.done_by
      ? t("class.check.done_by", { time: formatClock(trip.done_at, zone), who: trip.done_by })
      : t("class.check.done", { time: formatClock(trip.done_at, zone) });
    lines.push(h("span", { class: "check-done" }, " · ", done));
  } else if (trip.missed) {
    lines.push(h("span", { class: "check-missed" }, " · ", t("class.check.missed")));
  } else if (trip.deadline) {
    lines.push(h("span", {}, " · ", t("class.check.due", { time: formatClock(trip.deadline, zone) })));
  }
  let mine;
  if (b.confirmation) {
    const given = b.confirmation;
    const key = given.pupils == null ? "class.check.confirmed" : "class.check.confirmed_count";
    mine = h("p", { class: "confirmed" }, t(key, {
      name: given.person_name ?? given.person_id, time: formatClock(given.confirmed_at, zone), count: given.pupils,
    }));
    // A teacher vouches for their own class: the bus is done when every class on it has confirmed.
    if (!trip.done_at && trip.waiting_for > 0) {
      mine = h("div", {}, mine, h("p", { class: "check-waiting" }, t("class.check.waiting", { count: trip.waiting_for })));
    }
  } else if (CONFIRM_CHILD_CHECK.has(me.role)) {
    const count = b.riders.length;
    mine = h("button", {
      type: "button", class: "confirm-check",
      onclick: (event) => confirm(event.currentTarget, c, b),
    }, count ? t("class.check.confirm_count", { count }) : t("class.check.confirm"));
  }
  return h("div", { class: "child-check" }, h("p", {}, ...lines), mine ?? null);
}

async function confirm(button, c, b) {
  button.disabled = true;
  try {
    await api.post(`/api/v1/classes/${encodeURIComponent(c.id)}/buses/${encodeURIComponent(b.id)}/child-check`,
      { arrived_at: b.trip.arrived_at });
    await draw();
  } catch (error) {
    button.disabled = false;
    // The server's refusals are message keys (class.child_check.*): say them in the reader's language.
    showError(has(error.message) ? new Error(t(error.message)) : error, button.parentElement);
  }
}

/** One bus on a roster: its name and plate, its newest fix or that it has none, its riders and its check. */
function bus(c, b) {
  const label = b.plate ? t("class.bus", { name: b.name, plate: b.plate }) : b.name;
  const fix = b.last_fix
    ? t("class.last_fix", { time: formatTimeAgo(b.last_fix, c.timezone) })
    : t("class.no_fix");
  return h("li", { class: "roster-bus", "data-bus": b.id },
    h("strong", {}, label), " ", h("span", { class: "muted" }, fix),
    riders(b.riders), check(c, b));
}

/** One class: its name and school, its head teacher, its roster. */
function card(c) {
  return h("section", { class: "class-card", "data-class": c.id },
    h("h2", {}, t("class.heading", { name: c.name, school: c.school_name })),
    h("p", { class: "muted" }, c.head_teacher_name ? t("class.head_teacher", { name: c.head_teacher_name }) : ""),
    c.buses.length
      ? h("ul", { class: "roster" }, c.buses.map((b) => bus(c, b)))
      : h("p", { class: "muted" }, t("class.no_buses")));
}

async function draw() {
  const classes = await api.get("/api/v1/classes");
  const box = document.getElementById("classes");
  replaceChildren(box, classes.length ? classes.map(card) : h("p", { class: "muted" }, t("class.none")));
}

try {
  me = await startPage();
  await draw();
  document.body.dataset.ready = "true";
  setInterval(() => draw().catch((error) => showError(error)), REFRESH_MS);
} catch (error) {
  showError(error);
  document.body.dataset.ready = "true";
}

/**
 * A head teacher's page (班主任): their class and the buses its pupils ride, each with where and when it last
 * reported, in the school's time (Beijing time in the example city). Anyone above a class sees every class of
 * their scope here too. Everything the server sends (names, plates) goes in as text.
 */

import { api } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { formatTimeAgo } from "./format.js";
import { t } from "./i18n.js";
import { showError, startPage } from "./shell.js";

const REFRESH_MS = 30_000;

/** One bus on a roster: its name and plate, then its newest fix or that it has none. */
function bus(b, timeZone) {
  const label = b.plate ? t("class.bus", { name: b.name, plate: b.plate }) : b.name;
  const fix = b.last_fix
    ? t("class.last_fix", { time: formatTimeAgo(b.last_fix, timeZone) })
    : t("class.no_fix");
  return h("li", { class: "roster-bus", "data-bus": b.id },
    h("strong", {}, label), " ", h("span", { class: "muted" }, fix));
}

/** One class: its name and school, its head teacher, its roster. */
function card(c) {
  return h("section", { class: "class-card", "data-class": c.id },
    h("h2", {}, t("class.heading", { name: c.name, school: c.school_name })),
    h("p", { class: "muted" }, c.head_teacher_name ? t("class.head_teacher", { name: c.head_teacher_name }) : ""),
    c.buses.length
      ? h("ul", { class: "roster" }, c.buses.map((b) => bus(b, c.timezone)))
      : h("p", { class: "muted" }, t("class.no_buses")));
}

async function draw() {
  const classes = await api.get("/api/v1/classes");
  const box = document.getElementById("classes");
  replaceChildren(box, classes.length ? classes.map(card) : h("p", { class: "muted" }, t("class.none")));
}

try {
  await startPage();
  await draw();
  document.body.dataset.ready = "true";
  setInterval(() => draw().catch((error) => showError(error)), REFRESH_MS);
} catch (error) {
  showError(error);
  document.body.dataset.ready = "true";
}

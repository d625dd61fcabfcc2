/**
 * The patrol page, three ways by its query:
 * - `?c=&v=&s=` (what a checkpoint's QR code or NFC tag opens): the guard confirms they stand at the named
 *   checkpoint; the phone's position goes with the scan, and the answer says whether it counted and why not.
 * - `?school=<id>`: a school admin's printable checkpoint codes, each with its rotate button.
 * - nothing: the rounds of today at the signed-in guard's school.
 * Everything the server sends goes in as text; refusals arrive as message keys (patrol.refused.*).
 */

import { ApiError, api } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { has, t } from "./i18n.js";
import { showError, startPage } from "./shell.js";

const POSITION_WAIT_MS = 10_000;

/** The phone's position, or null when it has none or the guard refuses it (the server then says so). */
function position() {
  if (!navigator.geolocation) return Promise.resolve(null);
  return new Promise((resolve) => {
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lon: p.coords.longitude, lat: p.coords.latitude, accuracy_m: p.coords.accuracy }),
      () => resolve(null),
      { enableHighAccuracy: true, timeout: POSITION_WAIT_MS, maximumAge: 0 });
  });
}

/** A refusal in the reader's language when the server named it by key; else its text. */
function refusal(error) {
  if (error instanceof ApiError && has(error.detail)) return t(error.detail);
  throw error;
}

async function scan(box, code) {
  let point;
  try {
    point = await api.get(`/api/v1/patrols/checkpoint?c=${encodeURIComponent(code.c)}`
      + `&v=${encodeURIComponent(code.v)}&s=${encodeURIComponent(code.s)}`);
  } catch (error) {
    replaceChildren(box, h("p", { class: "patrol-result refused", "data-testid": "patrol-result" }, refusal(error)));
    return;
  }
  const result = h("div", { "data-testid": "patrol-result-box" });
  const confirm = h("button", { type: "button", "data-testid": "patrol-confirm" }, t("patrol.confirm"));
  confirm.addEventListener("click", async () => {
    confirm.disabled = true;
    replaceChildren(result, h("p", { class: "muted" }, t("patrol.locating")));
    const where = await position();
    try {
      const done = await api.post("/api/v1/patrols/scans", {
        checkpoint: code.c, version: Number(code.v), signature: code.s,
        device_time: new Date().toISOString(), ...(where ?? {}),
      });
      replaceChildren(result, h("p", {
        class: `patrol-result ${done.counted ? "counted" : "not-counted"}`, "data-testid": "patrol-result",
        "data-reason": done.reason,
      }, t(`patrol.result.${done.reason}`, {
        name: done.checkpoint_name, round: done.round, visited: done.visited, planned: done.planned,
      })));
    } catch (error) {
      replaceChildren(result, h("p", { class: "patrol-result refused", "data-testid": "patrol-result" },
        refusal(error)));
    }
  });
  replaceChildren(box,
    h("p", {}, t("patrol.at")),
    h("p", { class: "checkpoint-name", "data-testid": "checkpoint-name" }, point.name),
    point.needs_position ? h("p", { class: "muted" }, t("patrol.needs_position")) : null,
    confirm, result);
}

async function codes(box, schoolId) {
  const list = await api.get(`/api/v1/schools/${encodeURIComponent(schoolId)}/patrols/codes`);
  const cards = list.map((c) => {
    const rotate = h("button", { type: "button" }, t("patrol.codes.rotate"));
    rotate.addEventListener("click", async () => {
      if (!window.confirm(t("patrol.codes.rotate_confirm", { name: c.name }))) return;
      await api.post(`/api/v1/patrols/checkpoints/${encodeURIComponent(c.id)}/rotate`);
      await codes(box, schoolId);
    });
    return h("figure", { class: "code-card", "data-checkpoint": c.id },
      h("img", { src: `${c.qr}?v=${c.version}`, alt: c.name }),
      h("figcaption", {}, h("strong", {}, c.name), h("div", { class: "muted" }, t("patrol.codes.version",
        { version: c.version })), h("div", { class: "code-url" }, c.url)),
      rotate);
  });
  const print = h("button", { type: "button" }, t("patrol.codes.print"));
  print.addEventListener("click", () => window.print());
  replaceChildren(box, h("h2", {}, t("patrol.codes.title")), print,
    cards.length ? h("div", { class: "code-grid" }, cards) : h("p", { class: "muted" }, t("patrol.none")));
}

async function rounds(box, me) {
  // A guard's or school admin's scope is their school: its id is the last part of the path.
  const schoolId = me.scope_path.split("/").filter(Boolean).pop();
  let day;
  try {
    day = await api.get(`/api/v1/schools/${encodeURIComponent(schoolId ?? "")}/patrols`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      replaceChildren(box, h("p", { class: "muted" }, t("patrol.none")));
      return;
    }
    throw error;
  }
  const time = (iso) => new Date(iso).toLocaleTimeString(undefined, { timeZone: day.timezone, hour: "2-digit",
    minute: "2-digit" });
  // A school admin prints (and replaces) the school's codes from here (command_ui.routers.patrols.CODE_KEEPERS).
  const print = me.role === "school_admin"
    ? h("p", {}, h("a", { href: `/patrol?school=${encodeURIComponent(schoolId)}` }, t("patrol.codes.title")))
    : null;
  replaceChildren(box,
    print,
    h("h2", {}, t("patrol.rounds.title")),
    h("p", { "data-testid": "patrol-summary" }, t("patrol.rounds.summary", day)),
    h("ol", {}, day.rounds.map((r) => h("li", { "data-round": r.round },
      h("strong", {}, r.round), " ", t("patrol.rounds.deadline", { time: time(r.deadline) }),
      h("span", { class: `round-status ${r.status}` }, t(`patrol.status.${r.status}`)),
      " ", h("span", { class: "muted" }, t("patrol.rounds.visited", { visited: r.visited.length,
        planned: r.checkpoints.length }))))));
}

try {
  const me = await startPage();
  const query = new URLSearchParams(location.search);
  const code = { c: query.get("c"), v: query.get("v"), s: query.get("s") };
  if (code.c && code.v && code.s) {
    const box = document.getElementById("scan");
    box.hidden = false;
    await scan(box, code);
  } else if (query.get("school")) {
    const box = document.getElementById("codes");
    box.hidden = false;
    await codes(box, query.get("school"));
  } else {
    const box = document.getElementById("rounds");
    box.hidden = false;
    await rounds(box, me);
  }
  document.body.dataset.ready = "true";
} catch (error) {
  showError(error);
  document.body.dataset.ready = "true";
}

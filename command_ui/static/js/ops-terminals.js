/**
 * The operations page's JT/T 808 terminals and GT06 trackers: number or IMEI, protocol, registered and
 * authenticated (JT/T 808 only), last heard, reports refused before authenticating, and the numbers no site
 * file lists. An administrator of the school or above revokes a JT/T 808 terminal's code here (asked to confirm):
 * the terminal must register again and its connection is closed. Everything the server sends goes in as text.
 */

import { api } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { formatTime } from "./format.js";
import { t } from "./i18n.js";

/** Who may revoke a code (mirrors command_ui.routers.terminals: the roles of command_ui.deps.EDIT_GEOFENCES). */
const REVOKE = new Set(["school_admin", "district_admin", "admin"]);

function yesNo(value) {
  if (value == null) return h("span", { class: "muted" }, t("ops.terminals.not_applicable"));
  return h("span", { class: `badge ${value ? "ops-yes" : "ops-no"}` }, t(value ? "ops.terminals.yes" : "ops.terminals.no"));
}

/** Draw the terminals into ``target``; ``schoolName`` and ``zoneOf`` come from the page, ``redraw`` after a revoke. */
export async function drawTerminals(target, role, schoolName, zoneOf, redraw) {
  const found = await api.get("/api/v1/terminals");
  const headings = ["ops.school", "ops.device", "ops.terminals.protocol", "ops.terminals.number",
    "ops.terminals.registered", "ops.terminals.authenticated", "ops.last_seen", "ops.terminals.refused", ""];
  const rows = found.terminals.map((term) => {
    const revoke = REVOKE.has(role) && term.protocol === "jt808" && term.registered
      ? h("button", { type: "button", class: "revoke", "data-testid": `revoke-${term.device_id}` },
        t("ops.terminals.revoke"))
      : null;
    revoke?.addEventListener("click", async () => {
      if (!window.confirm(t("ops.terminals.revoke_confirm", { number: term.number }))) return;
      revoke.disabled = true;
      await api.post(`/api/v1/terminals/${encodeURIComponent(term.device_id)}/revoke`);
      await redraw();
    });
    return h("tr", { "data-device-id": term.device_id, "data-protocol": term.protocol },
      h("td", {}, schoolName(term.school_id)),
      h("td", {}, h("span", { class: "name" }, term.name), " ", h("span", { class: "muted id" }, term.device_id)),
      h("td", {}, t(`ops.terminals.protocol.${term.protocol}`)),
      h("td", {}, h("code", { class: "id" }, term.number)),
      h("td", { class: "registered" }, yesNo(term.registered)),
      h("td", { class: "authenticated" }, yesNo(term.authenticated)),
      h("td", {}, term.last_seen ? formatTime(term.last_seen, zoneOf(term.school_id)) : "—"),
      h("td", { class: "count refused" }, term.refused),
      h("td", {}, revoke));
  });
  const table = (heads, body) => h("table", { class: "data" },
    h("thead", {}, h("tr", {}, heads.map((k) => h("th", {}, k ? t(k) : "")))), h("tbody", {}, body));
  replaceChildren(target,
    rows.length ? table(headings, rows) : h("p", { class: "empty" }, t("ops.terminals.none")),
    found.unknown.length ? [h("h3", {}, t("ops.terminals.unknown")),
      table(["ops.terminals.protocol", "ops.terminals.number", "ops.messages", "ops.first_seen", "ops.last_seen"],
        found.unknown.map((u) => h("tr", { "data-number": u.number },
          h("td", {}, t(`ops.terminals.protocol.${u.protocol}`)), h("td", {}, h("code", { class: "id" }, u.number)),
          h("td", { class: "count" }, u.messages), h("td", {}, formatTime(u.first_seen)),
          h("td", {}, formatTime(u.last_seen)))))] : null);
}

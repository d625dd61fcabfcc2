/**
 * The operations page's push delivery health (issue 17): the phones and browsers of the people in the reader's
 * scope that ring when locked (Web Push), and for each whether its last push went through or why it failed.
 * A failing subscription is a guard whose locked phone stays silent at the next alarm, so those come first,
 * marked; the push service is named by its host alone (the endpoint is a capability URL, see routers/push.py).
 */

import { h, replaceChildren } from "./dom.js";
import { formatTime } from "./format.js";
import { t } from "./i18n.js";

function row(p, zone) {
  const failing = p.last_error != null;
  return h("tr", { "data-subscription-id": String(p.subscription_id), "data-state": failing ? "failing" : "ok" },
    h("td", {}, h("span", { class: "name" }, p.display_name), " ", h("span", { class: "muted id" }, p.user_id)),
    h("td", {}, p.push_service),
    h("td", {}, h("span", { class: `badge ops-${failing ? "offline" : "ok"}` },
      t(failing ? "ops.push.failing" : "ops.push.ok"))),
    h("td", {}, p.last_push_at ? formatTime(p.last_push_at, zone) : t("ops.push.never")),
    h("td", {}, failing ? [h("code", {}, p.last_error),
      p.last_error_at ? h("div", { class: "muted" }, formatTime(p.last_error_at, zone)) : null] : "—"));
}

/** Draw the push subscriptions (``push`` of /api/v1/ops/devices) into their section's body. */
export function drawPush(target, subscriptions, zone) {
  const failing = subscriptions.filter((p) => p.last_error != null).length;
  replaceChildren(target, subscriptions.length ? [
    h("p", { class: failing ? "error" : "muted", "data-testid": "push-summary" },
      t("ops.push.summary", { count: subscriptions.length, failing })),
    h("table", { class: "data" }, h("thead", {}, h("tr", {}, ["ops.push.person", "ops.push.service",
      "ops.state", "ops.push.last_push", "ops.push.last_error"].map((k) => h("th", {}, t(k))))),
    h("tbody", {}, subscriptions.map((p) => row(p, zone)))),
  ] : h("p", { class: "empty" }, t("ops.push.none")));
}

/** What every signed-in page has: who is signed in, the navigation their role allows, the language picker. */

import { READ_AUDIT, saveMyLanguage, signOut, whoAmI } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { LANG, LANGUAGES, adoptAccountLanguage, switchLanguage, t, translatePage } from "./i18n.js";

// Who reads the operations page (mirrors command_ui.routers.ops.READ_OPS).
const READ_OPS = new Set(["school_admin", "district_officer", "district_admin", "admin"]);
// Who reads reports and the safety scorecard (mirrors command_ui.routers.reports.READ_REPORTS).
const READ_REPORTS = new Set(["school_admin", "district_officer", "district_admin", "auditor", "admin"]);

/**
 * Check the session, speak the person's language, fill the page's <nav id="nav">; resolves to
 * {id, role, scope_path, locale}.
 * (An ended session goes to the sign-in page inside whoAmI.)
 */
export async function startPage() {
  translatePage();
  const me = await whoAmI();
  if (adoptAccountLanguage(me.locale)) {
    location.reload();
    return new Promise(() => {}); // the page is going away; nothing more to draw
  }
  document.body.dataset.role = me.role;
  const nav = document.getElementById("nav");
  if (nav) {
    const here = location.pathname;
    const link = (href, key) => h("a", { href, "aria-current": here === href ? "page" : null }, t(key));
    const language = h("select", { "aria-label": t("nav.language"), onchange: (e) => chooseLanguage(e.target.value) },
      LANGUAGES.map((l) => h("option", { value: l, selected: l === LANG }, l === "en" ? "English" : "中文")));
    replaceChildren(nav,
      link("/", "nav.map"),
      link("/guard", "nav.guard"),
      me.role === "head_teacher" ? link("/class", "nav.class") : null,
      READ_AUDIT.has(me.role) || me.role === "school_admin" || me.role === "district_officer"
        ? link("/history", "nav.history") : null,
      // Every role reads the alarm board, shelves, drill modes and camera scenes; the page shows each only
      // the forms its role may use.
      link("/alarms", "nav.alarms"),
      READ_AUDIT.has(me.role) ? link("/audit", "nav.audit") : null,
      READ_OPS.has(me.role) ? link("/ops", "nav.ops") : null,
      // The wall is for the same people as operations (command_ui.routers.wall.WATCH_WALL).
      READ_OPS.has(me.role) ? link("/wall", "nav.wall") : null,
      // The safety scorecard for report readers (command_ui.routers.reports.READ_REPORTS): not guards, head teachers.
      READ_REPORTS.has(me.role) ? link("/scorecard", "nav.scorecard") : null,
      h("span", { class: "who", "data-testid": "who" }, me.id),
      // What they are called at their level (domain/titles.py): 市教育局安全科, 县（区）教育局, 乡镇中心校, 班主任...
      me.title_key ? h("span", { class: "who-title", "data-testid": "who-title", title: t("shell.signed_in_as", {
        name: me.id, title: t(me.title_key) }) }, t(me.title_key)) : null,
      language,
      h("button", { type: "button", class: "link", onclick: signOut }, t("nav.signout")));
  }
  return me;
}

/** Save a picked language with the account, then speak it; a failed save still switches this device. */
async function chooseLanguage(lang) {
  let saved = false;
  try {
    await saveMyLanguage(lang);
    saved = true;
  } catch {
    /* the built-in admin (409) or no network: the pick stays on this device, which is better than none */
  }
  switchLanguage(lang, saved);
}

/** Show a load failure where the person will see it. */
export function showError(error, where = document.body) {
  const box = h("p", { class: "error banner", role: "alert" }, t("error.load", { detail: error.message }));
  where.prepend(box);
}

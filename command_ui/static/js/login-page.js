/** Sign in, then go where the person works: guards to their phone page, everyone else to the map. */

import { ApiError, api } from "./api.js";
import { adoptAccountLanguage, t, translatePage } from "./i18n.js";

/**
 * Only a page of this site may be a ?next= target (never another origin). Resolved as the browser would:
 * "/\evil.example" looks like a path but leads to another site, as "//evil.example" does.
 */
function nextPath(role) {
  const next = new URLSearchParams(location.search).get("next");
  if (next && next.startsWith("/")) {
    const target = new URL(next, location.origin);
    if (target.origin === location.origin && !target.pathname.startsWith("/login")) {
      return target.pathname + target.search + target.hash;
    }
  }
  // A head teacher sees only their class: its page, not a map of buses they may not see.
  return role === "guard" ? "/guard" : role === "head_teacher" ? "/class" : "/";
}

translatePage();
const form = document.getElementById("login");
const message = document.getElementById("message");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  message.textContent = "";
  const data = new FormData(form);
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const me = await api.post("/api/v1/auth/login", {
      username: String(data.get("username")).trim(), password: String(data.get("password")),
    });
    adoptAccountLanguage(me.locale); // the next page opens in the person's language
    location.assign(nextPath(me.role));
  } catch (error) {
    message.textContent = t("login.failed", { detail: error instanceof ApiError ? error.detail : error.message });
    button.disabled = false;
  }
});

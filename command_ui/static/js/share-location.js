/**
 * Sharing the guard's own position while on duty, so the officer's map shows who is nearest an incident. The
 * browser's geolocation goes to POST /api/v1/me/position at most every 15 s, sooner after moving 25 m. It is off
 * until the person turns it on, and the choice is remembered on this phone. A refusal (no phone tracker
 * assigned in the site file, location permission denied) is shown and turns sharing off.
 */

import { ApiError, api } from "./api.js";
import { metres } from "./format.js";
import { t } from "./i18n.js";

const KEY = "campusguard.share-location";
const EVERY_MS = 15_000;
const MOVED_M = 25;

/**
 * Wire the sharing switch.
 * @param {HTMLInputElement} box the checkbox
 * @param {HTMLElement} text its label text
 * @param {HTMLElement} message where a refusal is shown
 */
export function setUpSharing(box, text, message) {
  let watcher = null;
  let last = null;
  const show = () => {
    text.textContent = t(box.checked ? "guard.sharing" : "guard.share");
    document.body.dataset.sharing = String(box.checked);
  };
  const stop = (why) => {
    if (watcher !== null) navigator.geolocation.clearWatch(watcher);
    watcher = null;
    box.checked = false;
    localStorage.removeItem(KEY);
    if (why) message.textContent = t("guard.share_failed", { detail: why });
    show();
  };
  const send = async (position) => {
    // No time: the server stamps it. A phone's clock may be minutes off, and maximumAge keeps fixes fresh.
    const fix = { lon: position.coords.longitude, lat: position.coords.latitude,
      accuracy_m: position.coords.accuracy ?? null };
    const moved = last ? metres(last.lat, last.lon, fix.lat, fix.lon) : Infinity;
    if (last && Date.now() - last.at < EVERY_MS && moved < MOVED_M) return;
    last = { ...fix, at: Date.now() };
    try {
      await api.post("/api/v1/me/position", fix);
      message.textContent = "";
      document.body.dataset.shared = String(Number(document.body.dataset.shared ?? 0) + 1);
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) stop(error.detail);
      else message.textContent = t("guard.share_failed", { detail: error.message ?? String(error) });
    }
  };
  const start = () => {
    if (!navigator.geolocation) {
      stop("no geolocation in this browser");
      return;
    }
    localStorage.setItem(KEY, "on");
    message.textContent = "";
    last = null;
    // Only a refusal turns sharing off; no fix indoors for a while (timeout, unavailable) is shown and waited out.
    const failed = (error) => {
      if (error.code === error.PERMISSION_DENIED) stop(error.message);
      else message.textContent = t("guard.share_failed", { detail: error.message });
    };
    watcher = navigator.geolocation.watchPosition(send, failed,
      { enableHighAccuracy: true, maximumAge: 10_000, timeout: 60_000 });
    show();
  };
  box.addEventListener("change", () => (box.checked ? start() : stop()));
  box.checked = localStorage.getItem(KEY) === "on";
  if (box.checked) start();
  else show();
}

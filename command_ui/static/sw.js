/**
 * The guard phone's service worker (served as /sw.js, registered with scope /guard): the page shell offline,
 * and Web Push. It controls the guard's page alone; the other pages never pass through it.
 *
 * Offline: the guard page and the files it is built from are kept in one cache, fetched from the network first
 * and from the cache only when the network fails, so a phone in a dead spot still opens the page and says it is
 * offline rather than showing the browser's error. Nothing under /api/ is ever cached: the worker does not
 * touch those requests at all, so no person's data stays on a phone after it is read.
 *
 * Push (RFC 8030/8291, sent by alerts/notifiers/webpush.py): each message names an incident, its severity and
 * its title as a message key with values; the worker says it in the person's language from the catalog the
 * guard page keeps for it (js/alarm.js), English from the message itself where none is kept yet. The
 * notification opens /guard at the incident; its Acknowledge action acknowledges through the API with the
 * person's session, and opens the page instead when it cannot.
 *
 * This file is public, static code holding no data; it sets nothing that CSP would refuse.
 */

// The whole import graph of the guard page (tests/ui/test_guard_precache.py checks it); a new version name
// makes phones drop the old cache and install the new list.
const VERSION = "campusguard-shell-v2";
const CATALOG_CACHE = "campusguard-push-catalog";
const CATALOG_URL = "/sw/catalog.json";
const SHELL = [
  "/guard",
  "/static/css/campusguard.css",
  "/static/css/guard-app.css",
  "/static/manifest.webmanifest",
  "/static/manifest.zh-CN.webmanifest",
  "/static/icons/icon-192.png",
  "/static/icons/badge-72.png",
  "/static/icons/apple-touch-icon.png",
  "/static/css/map.css",
  "/vendor/leaflet/leaflet.css",
  "/vendor/leaflet/leaflet-src.esm.js",
  "/vendor/markercluster/leaflet.markercluster.js",
  "/static/js/guard-page.js",
  "/static/js/alarm.js",
  "/static/js/api.js",
  "/static/js/basemap-layer.js",
  "/static/js/cluster.js",
  "/static/js/dom.js",
  "/static/js/format.js",
  "/static/js/gcj02.js",
  "/static/js/i18n.js",
  "/static/js/incidents.js",
  "/static/js/label-declutter.js",
  "/static/js/live.js",
  "/static/js/map-icons.js",
  "/static/js/map-layers.js",
  "/static/js/share-location.js",
  "/static/js/shell.js",
];

self.addEventListener("install", (event) => {
  // One file missing (renamed in a later version) must not keep the whole shell from installing: each is
  // fetched on its own, and the rest are cached as the page loads them (see "fetch").
  event.waitUntil(caches.open(VERSION)
    .then((cache) => Promise.all(SHELL.map((url) => cache.add(url).catch(() => undefined))))
    .then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n !== VERSION && n !== CATALOG_CACHE)
      .map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

/** Whether a request is part of the page shell: our pages' static files, never the API or a live socket. */
function isShell(url, request) {
  if (request.method !== "GET" || url.origin !== self.location.origin) return false;
  if (url.pathname.startsWith("/api/")) return false;
  return url.pathname === "/guard" || url.pathname.startsWith("/static/") || url.pathname.startsWith("/vendor/");
}

async function networkFirst(request) {
  const cache = await caches.open(VERSION);
  try {
    const response = await fetch(request);
    if (response.ok && response.type === "basic") await cache.put(request, response.clone());
    return response;
  } catch (error) {
    // /guard?incident=7 is the same page as /guard: the query is read by the page, not the server.
    const kept = await cache.match(request, { ignoreSearch: true });
    if (kept) return kept;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (isShell(url, event.request)) event.respondWith(networkFirst(event.request));
});

// --- Web Push ------------------------------------------------------------------------------------------------

async function readCatalog(locale) {
  try {
    const response = await (await caches.open(CATALOG_CACHE)).match(CATALOG_URL);
    const catalogs = response ? await response.json() : {};
    return catalogs[locale] ?? catalogs.en ?? {};
  } catch {
    return {};
  }
}

function fill(text, params) {
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params?.[name] ?? ""));
}

/** The notification's words: "Critical · Panic: Main office" in the person's language. */
function describe(message, words) {
  const keyed = message.title_key && words[message.title_key];
  const title = keyed ? fill(keyed, message.title_params) : message.title;
  const severity = words[`severity.${message.severity}`] ?? message.severity;
  const drill = message.drill ? `${words["push.drill"] ?? "Drill"} · ` : "";
  return { title, heading: `${drill}${severity} · ${title}` };
}

self.addEventListener("push", (event) => {
  let message = {};
  try {
    message = event.data ? event.data.json() : {};
  } catch {
    message = { title: event.data ? event.data.text() : "" };
  }
  event.waitUntil(readCatalog(message.locale).then((words) => {
    const { title, heading } = describe(message, words);
    const critical = message.severity === "critical";
    return self.registration.showNotification(heading, {
      body: message.school ?? "",
      tag: `incident-${message.incident_id}`,
      renotify: true, // a reminder or an escalation about the same incident rings again
      requireInteraction: critical, // stays on the screen until someone answers it
      vibrate: critical ? [400, 150, 400, 150, 400, 150, 400] : [300, 150, 300],
      icon: "/static/icons/icon-192.png",
      badge: "/static/icons/badge-72.png",
      lang: message.locale ?? "en",
      timestamp: Date.parse(message.at ?? "") || Date.now(),
      data: { incident_id: message.incident_id, url: message.url ?? "/guard", title, locale: message.locale },
      actions: [{ action: "acknowledge", title: words["action.acknowledge"] ?? "Acknowledge" }],
    });
  }));
});

async function openGuard(url) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const open = windows.find((w) => new URL(w.url).pathname === "/guard");
  if (open) {
    await open.navigate(url).catch(() => undefined);
    return open.focus();
  }
  return self.clients.openWindow(url);
}

async function acknowledge(data) {
  const words = await readCatalog(data.locale);
  try {
    const response = await fetch(`/api/v1/incidents/${data.incident_id}/actions`, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ action: "acknowledge" }),
    });
    // 409: somebody acknowledged it first, which is what was wanted.
    if (response.ok || response.status === 409) {
      return self.registration.showNotification(fill(words["push.acknowledged"] ?? "Acknowledged: {title}",
        { title: data.title }), { tag: `incident-${data.incident_id}`, silent: true,
        icon: "/static/icons/icon-192.png", data });
    }
  } catch {
    /* no network: the page says it is offline */
  }
  await self.registration.showNotification(words["push.ack_failed"] ?? "Could not acknowledge from here.",
    { tag: `incident-${data.incident_id}`, icon: "/static/icons/icon-192.png", data });
  return openGuard(data.url);
}

self.addEventListener("notificationclick", (event) => {
  const data = event.notification.data ?? {};
  event.notification.close();
  if (event.action === "acknowledge" && data.incident_id) event.waitUntil(acknowledge(data));
  else event.waitUntil(openGuard(data.url ?? "/guard"));
});

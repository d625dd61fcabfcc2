/**
 * How a guard's phone calls for attention: a beep through WebAudio and a vibration while the page is open, and
 * Web Push through the service worker (/sw.js) when it is not: locked, or the browser closed. Browsers let a
 * page make sound only after a tap, and ask for notification permission only on one, so both are buttons.
 */

let audio = null;

/** Unlock sound (call from a tap); resolves to whether sound is now available. */
export async function unlockSound() {
  const Context = window.AudioContext ?? window.webkitAudioContext;
  if (!Context) return false;
  audio ??= new Context();
  if (audio.state === "suspended") await audio.resume();
  return audio.state === "running";
}

/** Whether sound is already unlocked. */
export function soundReady() {
  return audio?.state === "running";
}

/** Beep three times (two tones) and vibrate; returns silently where either is unavailable. */
export function ring() {
  navigator.vibrate?.([400, 150, 400, 150, 400]);
  if (!soundReady()) return;
  const start = audio.currentTime + 0.05;
  for (let i = 0; i < 3; i += 1) {
    for (const [offset, frequency] of [[0, 880], [0.18, 660]]) {
      const at = start + i * 0.6 + offset;
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = "square";
      osc.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.17);
      osc.connect(gain).connect(audio.destination);
      osc.start(at);
      osc.stop(at + 0.18);
    }
  }
}

// --- when the page is not open: the service worker and Web Push ---------------------------------------------

// Where the worker finds the words a push is said in (static/sw.js reads the same names).
const CATALOG_CACHE = "campusguard-push-catalog";
const CATALOG_URL = "/sw/catalog.json";

/** Register the service worker (offline shell, push); resolves to its registration, null where unsupported. */
export async function registerWorker() {
  if (!("serviceWorker" in navigator)) return null;
  // Scope /guard: the worker serves the guard's page alone, never the officer's map or other pages.
  await navigator.serviceWorker.register("/sw.js", { scope: "/guard" });
  return navigator.serviceWorker.ready;
}

/** Keep the words the worker says a push in, one table per language ({en: {...}, "zh-CN": {...}}). */
export async function keepPushWords(tables) {
  if (!("caches" in window)) return;
  const cache = await caches.open(CATALOG_CACHE);
  const body = new Response(JSON.stringify(tables), { headers: { "Content-Type": "application/json" } });
  await cache.put(CATALOG_URL, body);
}

/** Whether this browser can be pushed to at all (iOS Safari: only once added to the home screen). */
export function pushSupported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

/** This browser's subscription and our id for it; null when it has none we know of. */
export async function currentPush(api) {
  const registration = await navigator.serviceWorker.ready;
  const subscription = await registration.pushManager.getSubscription();
  if (!subscription) return null;
  const mine = await api.get("/api/v1/push/subscriptions");
  const row = mine.find((s) => s.endpoint === subscription.endpoint);
  return row ? { subscription, id: row.id } : null;
}

/**
 * Subscribe this browser and keep the subscription with the signed-in person (call from a tap: the browser asks
 * for permission then). Throws Error("denied") when notifications are blocked.
 */
export async function ringWhenLocked(api, publicKey) {
  const permission = await Notification.requestPermission();
  if (permission !== "granted") throw new Error("denied");
  const registration = await navigator.serviceWorker.ready;
  const subscription = await registration.pushManager.getSubscription()
    ?? await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: publicKey });
  return api.post("/api/v1/push/subscriptions", subscription.toJSON());
}

/** Stop pushing to this browser: delete our record of it, then the subscription itself. */
export async function stopRinging(api) {
  const current = await currentPush(api);
  if (!current) return;
  await api.delete(`/api/v1/push/subscriptions/${current.id}`);
  await current.subscription.unsubscribe();
}

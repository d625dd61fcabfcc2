/**
 * The live feed: one websocket carrying incident changes and moving positions (see
 * command_ui/routers/live.py). It reconnects with growing, jittered delays and passes the last cursor it saw,
 * so the server replays whatever happened while the connection was down and no change is lost. Positions come
 * only after watch() (a map page): a snapshot of the view, then each device's newest fix as it moves.
 */

import { toLogin } from "./api.js";

const UNAUTHORISED = 4401;
const PING_EVERY_MS = 25_000;
const MAX_DELAY_MS = 30_000;

export class LiveFeed {
  /**
   * @param {{onIncident?: (incident: object, cursor: number) => void,
   *          onPositions?: (positions: object[]) => void,
   *          onStatus?: (state: "connecting"|"live"|"reconnecting", retryInMs?: number) => void}} handlers
   * @param {number} [cursor] the last change already shown (0: replay every change in scope)
   */
  constructor(handlers, cursor = 0) {
    this.handlers = handlers;
    this.cursor = cursor;
    this.failures = 0;
    this.socket = null;
    this.stopped = false;
    this.pinger = null;
    this.retry = null;
    this.watching = null;
  }

  /**
   * Ask for positions: all in scope (bbox null) or those in a WGS-84 box; resent after every reconnect.
   * With the map's zoom, the server sends a device's fix only when it would move a pixel at that zoom (or
   * turn, or ten seconds have passed); without it, every fix. Call again when the map zooms.
   * @param {[number, number, number, number] | null} bbox west, south, east, north
   * @param {number | null} [zoom] the map's Web Mercator zoom (0..22)
   */
  watch(bbox = null, zoom = null) {
    this.watching = { type: "watch", positions: true, bbox };
    if (zoom != null) this.watching.zoom = zoom;
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(this.watching));
  }

  /** Open the connection (and keep it open until stop()). */
  start() {
    this.stopped = false;
    this.#connect();
    return this;
  }

  /** Close for good. */
  stop() {
    this.stopped = true;
    clearTimeout(this.retry);
    clearInterval(this.pinger);
    this.socket?.close(1000, "page closed");
  }

  #connect() {
    this.#status("connecting");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/v1/live?after=${this.cursor}`);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.failures = 0;
      this.#status("live");
      if (this.watching) socket.send(JSON.stringify(this.watching));
      this.pinger = setInterval(() => socket.send(JSON.stringify({ type: "ping" })), PING_EVERY_MS);
    });
    socket.addEventListener("message", (event) => this.#receive(event.data));
    socket.addEventListener("close", (event) => {
      clearInterval(this.pinger);
      if (this.stopped) return;
      if (event.code === UNAUTHORISED) {
        toLogin();
        return;
      }
      this.#scheduleReconnect();
    });
  }

  #receive(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (message.type === "incident") {
      // "resume", not the highest cursor: a change may commit below one already seen (two writers), and a
      // reconnect after the highest would skip it.
      this.cursor = message.resume ?? Math.max(this.cursor, message.cursor);
      this.handlers.onIncident?.(message.incident, message.cursor);
    } else if (message.type === "positions") {
      this.handlers.onPositions?.(rowsToObjects(message.fields, message.rows));
      // Drawn: ready for the next (the server sends one at a time, so a busy page is never buried in old ones).
      if (this.socket?.readyState === WebSocket.OPEN) this.socket.send('{"type":"ack"}');
    }
  }

  #scheduleReconnect() {
    // 1 s, 2 s, 4 s ... up to 30 s, each with up to a third added at random so that a district's screens
    // do not all come back in the same instant after a server restart.
    const base = Math.min(MAX_DELAY_MS, 1000 * 2 ** this.failures);
    const delay = Math.round(base * (1 + Math.random() / 3));
    this.failures += 1;
    this.#status("reconnecting", delay);
    this.retry = setTimeout(() => this.#connect(), delay);
  }

  #status(state, retryInMs) {
    this.handlers.onStatus?.(state, retryInMs);
  }
}

/** The positions message sends arrays in the order of its "fields"; give each row its names. */
function rowsToObjects(fields, rows) {
  return rows.map((row) => Object.fromEntries(fields.map((name, i) => [name, row[i]])));
}

/**
 * Show the feed's state in an element: "Live", or "Reconnecting in N s" counting down.
 * @param {HTMLElement} el the status element; its data-state attribute says the state for styling
 * @param {(key: string, vars?: object) => string} t translator
 */
export function statusShower(el, t) {
  let countdown = null;
  return (state, retryInMs) => {
    clearInterval(countdown);
    el.dataset.state = state;
    if (state === "reconnecting") {
      const until = Date.now() + (retryInMs ?? 0);
      const show = () => {
        el.textContent = t("live.reconnecting", { seconds: Math.max(0, Math.ceil((until - Date.now()) / 1000)) });
      };
      show();
      countdown = setInterval(show, 500);
    } else {
      el.textContent = t(state === "live" ? "live.live" : "live.connecting");
    }
  };
}

/**
 * The district's fixed layers on a Leaflet map: campuses, geofences, bus routes with their stops, panic
 * buttons and cameras. Drawn from the API's GeoJSON; no basemap is needed for any of them.
 */

import * as L from "/vendor/leaflet/leaflet-src.esm.js";
import { h } from "./dom.js";
import { wgs84ToGcj02 } from "./gcj02.js";
import { t } from "./i18n.js";

/** How our WGS-84 lon/lat become map positions: as they are, or shifted onto GCJ-02 tiles of China. */
let datum = "wgs84";

/** Choose the basemap's datum ("wgs84" or "gcj02") before drawing any layer. */
export function setDatum(crs) {
  datum = crs === "gcj02" ? "gcj02" : "wgs84";
  document.body.dataset.datum = datum;
}

/** A WGS-84 point as a Leaflet LatLng on the current basemap. */
export function toLatLng(lon, lat) {
  if (datum !== "gcj02") return L.latLng(lat, lon);
  const [x, y] = wgs84ToGcj02(lon, lat);
  return L.latLng(y, x);
}

/**
 * The WGS-84 box [west, south, east, north] to watch for a map view, or null when the view spans the world.
 * Over GCJ-02 tiles the view is shifted by up to about 700 m from WGS-84, so the box grows by 0.01 degrees.
 */
export function watchBox(bounds) {
  const margin = datum === "gcj02" ? 0.01 : 0;
  if (bounds.getEast() - bounds.getWest() + 2 * margin >= 360) return null;
  const wrap = (lon) => ((((lon + 180) % 360) + 360) % 360) - 180;
  // After wrapping, a west edge east of the east edge means the box crosses the antimeridian.
  return [wrap(bounds.getWest() - margin), Math.max(-90, bounds.getSouth() - margin),
    wrap(bounds.getEast() + margin), Math.min(90, bounds.getNorth() + margin)];
}

/**
 * A tooltip's or popup's content as a text node in a <span>: Leaflet parses a string given to bindTooltip or
 * bindPopup as HTML, and names come from the site file and from whoever drew a geofence.
 */
export function label(text) {
  return h("span", { class: "label-text" }, text);
}

/** L.geoJSON options placing GeoJSON (always WGS-84) on the current basemap. */
const onBasemap = { coordsToLatLng: (c) => toLatLng(c[0], c[1]) };

const dot = (cls, title) => L.divIcon({ className: `dot ${cls}`, iconSize: [12, 12], html: "", title });

/**
 * Campus polygons. With `labels`, each carries its school's name permanently: at district zoom a campus is
 * a few pixels across and the name is what the officer finds.
 */
export function campusLayer(features, labels = false) {
  return L.geoJSON({ type: "FeatureCollection", features }, {
    ...onBasemap,
    style: { className: "campus", color: "#1d4ed8", weight: 2, fillOpacity: 0.2 },
    onEachFeature: (f, layer) => layer.bindTooltip(label(f.properties.name ?? f.id), labels
      ? { permanent: true, direction: "right", offset: [8, 0], className: "school-label" }
      : { sticky: true }),
  });
}

/** Geofences (restricted areas, drawn fences), dashed. */
export function geofenceLayer(collection) {
  return L.geoJSON(collection, {
    ...onBasemap,
    style: { className: "geofence", color: "#b45309", weight: 1.5, dashArray: "4 4", fillOpacity: 0.08 },
    onEachFeature: (f, layer) => layer.bindTooltip(label(f.properties.name ?? f.id)),
  });
}

/** Bus routes as lines (a click on one calls `onBus(busId)`), their stops as small circles with the time. */
export function routeLayer(collection, onBus) {
  const group = L.layerGroup();
  L.geoJSON(collection, {
    ...onBasemap,
    style: { className: "route", color: "#6d28d9", weight: 3, opacity: 0.7 },
    onEachFeature: (f, layer) => {
      layer.bindTooltip(label(f.properties.name ?? f.id), { sticky: true });
      if (onBus) layer.on("click", () => onBus(f.id));
    },
  }).addTo(group);
  for (const bus of collection.features) {
    for (const stop of bus.properties.stops ?? []) {
      L.circleMarker(toLatLng(stop.lon, stop.lat), { radius: 4, className: "stop", color: "#6d28d9", fillOpacity: 1 })
        .bindTooltip(label(t("map.stop", { name: stop.name, time: stop.scheduled ?? "" })))
        .addTo(group);
    }
  }
  return group;
}

/** Fixed devices of one kind (panic buttons, cameras) as small dots. */
export function deviceLayer(collection, cls) {
  const group = L.layerGroup();
  for (const f of collection.features) {
    if (!f.geometry) continue;
    const [lon, lat] = f.geometry.coordinates;
    const name = [f.properties.name, f.properties.place].filter(Boolean).join(" — ") || f.id;
    L.marker(toLatLng(lon, lat), { icon: dot(cls, name), keyboard: false }).bindTooltip(label(name)).addTo(group);
  }
  return group;
}

/**
 * The basemap: the server's configuration (/api/v1/map/basemap), else the page's <meta name="campusguard-tiles*">
 * defaults. Returns {layer, crs}; layer is null when no tile URL is set, and the map then draws only the
 * district's own vector layers. `api` is the pages' fetch helper.
 */
export async function basemap(api) {
  const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content?.trim() ?? "";
  let config = null;
  try {
    config = await api.get("/api/v1/map/basemap");
  } catch {
    config = null; // an older server without the route: the page's defaults
  }
  const url = config?.url || meta("campusguard-tiles");
  const crs = (config?.url ? config.crs : meta("campusguard-tiles-crs")) || "wgs84";
  if (!url) return { layer: null, crs };
  // Leaflet shows an attribution as HTML; the credit is configured text, so it goes in escaped.
  const attribution = escapeHtml(config?.url ? config.attribution : meta("campusguard-tiles-attribution"));
  const layer = L.tileLayer(url, {
    maxZoom: config?.max_zoom ?? 19, attribution, subdomains: config?.subdomains || meta("campusguard-tiles-subdomains") || "abc",
  });
  return { layer, crs };
}

/** Text as HTML that shows exactly that text (for the few Leaflet options that take only an HTML string). */
function escapeHtml(text) {
  const box = document.createElement("span");
  box.textContent = text ?? "";
  return box.innerHTML;
}

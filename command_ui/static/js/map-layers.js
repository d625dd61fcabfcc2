/**
 * The district's fixed layers on a Leaflet map: campuses, geofences, bus routes with their stops, panic
 * buttons and cameras. Drawn from the API's GeoJSON; no basemap is needed for any of them.
 */

import * as L from "/vendor/leaflet/leaflet-src.esm.js";
import { t } from "./i18n.js";

const dot = (cls, title) => L.divIcon({ className: `dot ${cls}`, iconSize: [12, 12], html: "", title });

/**
 * Campus polygons. With `labels`, each carries its school's name permanently: at district zoom a campus is
 * a few pixels across and the name is what the officer finds.
 */
export function campusLayer(features, labels = false) {
  return L.geoJSON({ type: "FeatureCollection", features }, {
    style: { className: "campus", color: "#1d4ed8", weight: 2, fillOpacity: 0.2 },
    onEachFeature: (f, layer) => layer.bindTooltip(f.properties.name, labels
      ? { permanent: true, direction: "right", offset: [8, 0], className: "school-label" }
      : { sticky: true }),
  });
}

/** Geofences (restricted areas, drawn fences), dashed. */
export function geofenceLayer(collection) {
  return L.geoJSON(collection, {
    style: { className: "geofence", color: "#b45309", weight: 1.5, dashArray: "4 4", fillOpacity: 0.08 },
    onEachFeature: (f, layer) => layer.bindTooltip(f.properties.name ?? f.id),
  });
}

/** Bus routes as lines, their stops as small circles with the scheduled time. */
export function routeLayer(collection) {
  const group = L.layerGroup();
  L.geoJSON(collection, {
    style: { className: "route", color: "#6d28d9", weight: 3, opacity: 0.7 },
    onEachFeature: (f, layer) => layer.bindTooltip(f.properties.name ?? f.id, { sticky: true }),
  }).addTo(group);
  for (const bus of collection.features) {
    for (const stop of bus.properties.stops ?? []) {
      L.circleMarker([stop.lat, stop.lon], { radius: 4, className: "stop", color: "#6d28d9", fillOpacity: 1 })
        .bindTooltip(t("map.stop", { name: stop.name, time: stop.scheduled ?? "" }))
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
    const label = [f.properties.name, f.properties.place].filter(Boolean).join(" — ") || f.id;
    L.marker([lat, lon], { icon: dot(cls, label), keyboard: false }).bindTooltip(label).addTo(group);
  }
  return group;
}

/** A basemap from the page's <meta name="campusguard-tiles"> URL template, or null when it is empty. */
export function basemap() {
  const url = document.querySelector('meta[name="campusguard-tiles"]')?.content?.trim();
  if (!url) return null;
  const attribution = document.querySelector('meta[name="campusguard-tiles-attribution"]')?.content ?? "";
  return L.tileLayer(url, { maxZoom: 19, attribution });
}

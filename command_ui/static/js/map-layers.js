/**
 * The district's fixed layers on a Leaflet map: campuses, geofences, bus routes with their stops, panic
 * buttons and cameras (each with its pictogram, clustered where they crowd), and the basemap under them: a
 * tile provider's, or the district's own generated map. Drawn from the API's GeoJSON.
 */

import * as L from "/vendor/leaflet/leaflet-src.esm.js";
import { generatedBasemap } from "./basemap-layer.js";
import { withClusters } from "./cluster.js";
import { h } from "./dom.js";
import { wgs84ToGcj02 } from "./gcj02.js";
import { t } from "./i18n.js";
import { glyph } from "./map-icons.js";

// Permanent school names are kept from covering one another (and shown on hover when hidden) by the page that
// draws them: keepLabelsApart(map, campusLayer(features, true, ...)).
export { keepLabelsApart } from "./label-declutter.js";

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

/** A device's marker icon: its pictogram in a small disc of its kind's colour. */
export function deviceIcon(kind) {
  return L.divIcon({ className: `device-marker kind-${kind}`, iconSize: [24, 24], html: glyph(kind) });
}

/**
 * Campus polygons. With `labels`, each carries its school's name permanently: at district zoom a campus is
 * a few pixels across and the name is what the officer finds.
 */
export function campusLayer(features, labels = false, labelPane = undefined) {
  return L.geoJSON({ type: "FeatureCollection", features }, {
    ...onBasemap,
    style: { className: "campus", color: "#1d4ed8", weight: 2, fillOpacity: 0.2 },
    onEachFeature: (f, layer) => {
      // The campus and its name say which school they are (the name's hover, tests, a reader's tools).
      layer.on("add", () => layer.getElement?.()?.setAttribute("data-school-id", f.id));
      const name = label(f.properties.name ?? f.id);
      name.dataset.schoolId = f.id;
      layer.bindTooltip(name, labels
        ? { permanent: true, direction: "right", offset: [8, 0], className: "school-label",
          ...(labelPane ? { pane: labelPane } : {}) }
        : { sticky: true });
    },
  });
}

/**
 * A pane for names that must never cover a marker: above the streets, routes and campuses, below every marker
 * (Leaflet's tooltips otherwise sit above markers, and a school's name hid its own panic buttons).
 */
export function labelPane(map, name = "siteLabels") {
  if (!map.getPane(name)) {
    const pane = map.createPane(name);
    pane.style.zIndex = "550";
    pane.style.pointerEvents = "none";
  }
  return name;
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

/**
 * Fixed devices (panic buttons, cameras) with their pictograms, in one cluster group: a campus holds a dozen
 * within a few metres, which at district zoom is one numbered disc that splits as the map zooms in.
 * Each marker is named for a screen reader and the keyboard (its kind, name and place).
 */
export async function deviceLayer(collections) {
  const Lc = await withClusters();
  const group = Lc.markerClusterGroup({
    maxClusterRadius: 40, showCoverageOnHover: false, spiderfyOnMaxZoom: true,
    iconCreateFunction: (cluster) => {
      const count = cluster.getChildCount();
      const disc = h("span", { class: "cluster-count", role: "img", "aria-label": t("map.cluster", { count }) }, count);
      return L.divIcon({ className: "device-cluster", iconSize: [30, 30], html: disc });
    },
  });
  for (const [kind, collection] of collections) {
    for (const f of collection.features) {
      if (!f.geometry) continue;
      const [lon, lat] = f.geometry.coordinates;
      const name = [f.properties.name, f.properties.place].filter(Boolean).join(" — ") || f.id;
      const spoken = `${t(`map.device.${kind}`)}: ${name}`;
      const marker = L.marker(toLatLng(lon, lat), { icon: deviceIcon(kind), title: spoken, alt: spoken });
      marker.on("add", () => marker.getElement()?.setAttribute("aria-label", spoken));
      marker.bindTooltip(label(name)).addTo(group);
    }
  }
  return group;
}

let basemapFailed = false;

/**
 * The basemap the settings chose (/api/v1/map/basemap): a tile provider's layers (Tianditu's labels over its
 * streets), or the district's own generated map. Returns {layer, crs, provider}; `crs` is the tiles' datum
 * (gcj02: every WGS-84 layer is shifted onto them). `api` is the pages' fetch helper.
 *
 * Never rejects: streets under the layers help, but the incidents are the point. When the basemap cannot be
 * had, the page gets an empty layer in WGS-84 (our layers unshifted), a warning in the log once, and goes on.
 */
export async function basemap(api) {
  try {
    return await chosenBasemap(api);
  } catch (error) {
    if (!basemapFailed) console.warn("campusguard: no basemap, the map goes on without it:", error);
    basemapFailed = true;
    document.body.dataset.basemap = "none";
    return { layer: L.layerGroup(), crs: "wgs84", provider: "none" };
  }
}

async function chosenBasemap(api) {
  const config = await api.get("/api/v1/map/basemap");
  document.body.dataset.basemap = config.provider;
  useStylesheet("/static/css/map.css");
  if (config.generated) {
    // Our own data in WGS-84: drawn unshifted, whatever page asks.
    return { layer: await generatedBasemap(api, config.generated, (lon, lat) => L.latLng(lat, lon)), crs: "wgs84",
      provider: config.provider };
  }
  // Leaflet shows an attribution as HTML; the credit is configured text, so it goes in escaped.
  const tiles = config.layers.map((layer, i) => L.tileLayer(layer.url, {
    maxZoom: layer.max_zoom, subdomains: layer.subdomains, className: `tiles tiles-${i}`,
    attribution: i === 0 ? escapeHtml(layer.attribution) : "",
  }));
  return { layer: tiles.length === 1 ? tiles[0] : L.layerGroup(tiles), crs: config.crs, provider: config.provider };
}

/** Load a stylesheet of this origin once (pages that draw a basemap without linking map.css get it too). */
function useStylesheet(href) {
  if (document.querySelector(`link[href="${href}"]`)) return;
  document.head.append(h("link", { rel: "stylesheet", href }));
}

/** Text as HTML that shows exactly that text (for the few Leaflet options that take only an HTML string). */
function escapeHtml(text) {
  const box = document.createElement("span");
  box.textContent = text ?? "";
  return box.innerHTML;
}

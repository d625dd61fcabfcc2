/**
 * The generated basemap (/api/v1/map/generated, made from the site file by geo/basemap.py) drawn with Leaflet:
 * blocks, parks, water and streets on one canvas in a calm, paper-like style, and their names as labels that
 * appear by zoom (main streets, water and neighbourhoods first; local streets, parks and landmarks closer in).
 *
 * Labels are text in non-interactive markers: they take no clicks and have no box, so whatever lies under them
 * stays visible and clickable. Only the labels in view are in the DOM, and one that would crowd another
 * already placed is left out (main streets are placed first).
 */

import * as L from "/vendor/leaflet/leaflet-src.esm.js";
import { h } from "./dom.js";

/** Fill and stroke per kind; streets are drawn twice, a casing under a white fill, as printed maps do. */
const STYLE = {
  block: { stroke: false, fillColor: "#efe9dc", fillOpacity: 1 },
  park: { stroke: false, fillColor: "#cfe6bf", fillOpacity: 1 },
  water: { stroke: false, fillColor: "#a9d3e3", fillOpacity: 1 },
};
const STREET = {
  arterial: { casing: { color: "#cdbf9f", weight: 7 }, fill: { color: "#fffdf6", weight: 5 } },
  local: { casing: { color: "#ddd3bd", weight: 4 }, fill: { color: "#ffffff", weight: 2.5 } },
};
/** The first zoom a label shows at, by feature kind and rank. */
const LABEL_ZOOM = { place: 13, street1: 14, water1: 13, street2: 16, water2: 15, park2: 15, landmark1: 14, landmark2: 15 };
/** Labels closer than this (pixels) to one already placed are left out. */
const CROWD_PX = 90;
/** A street's name is repeated along its visible part about this far apart (pixels). */
const REPEAT_PX = 500;
/** How far beside its street a street's name is set (pixels). */
const SIDE_PX = 11;

/**
 * The generated basemap as a layer (drawing and labels), from the API.
 * @param {{get: (url: string) => Promise<object>}} api the pages' fetch helper
 * @param {string} url where the map is
 * @param {(lon: number, lat: number) => L.LatLng} toLatLng our WGS-84 onto the map's datum
 */
export async function generatedBasemap(api, url, toLatLng) {
  const collection = await api.get(url);
  const renderer = L.canvas({ padding: 0.5, pane: "basemap" });
  const shapes = L.featureGroup();
  const coordsToLatLng = (c) => toLatLng(c[0], c[1]);
  const areas = collection.features.filter((f) => f.properties.kind in STYLE);
  L.geoJSON({ type: "FeatureCollection", features: areas }, {
    coordsToLatLng, renderer, interactive: false, style: (f) => STYLE[f.properties.kind],
  }).addTo(shapes);
  const streets = collection.features.filter((f) => f.properties.kind === "street");
  // Locals under arterials, every casing under every fill: crossings then read as joined streets.
  for (const cls of ["local", "arterial"]) {
    for (const part of ["casing", "fill"]) {
      L.geoJSON({ type: "FeatureCollection", features: streets.filter((f) => f.properties.detail === cls) }, {
        coordsToLatLng, renderer, interactive: false, style: { ...STREET[cls][part], lineCap: "round" },
      }).addTo(shapes);
    }
  }
  const labels = new Labels(collection.features, toLatLng);
  const layer = new BasemapLayer([shapes, labels.layer]);
  layer.labels = labels;
  return layer;
}

/**
 * A layer group that makes its panes first: the drawing under everything of ours (where tiles would be), the
 * names above it but under the campuses, routes and markers, taking no pointer events.
 */
const BasemapLayer = L.LayerGroup.extend({
  onAdd(map) {
    for (const [name, z] of [["basemap", 210], ["basemapLabels", 380]]) {
      if (map.getPane(name)) continue;
      const pane = map.createPane(name);
      pane.style.zIndex = String(z);
      pane.style.pointerEvents = "none";
    }
    map.getContainer().classList.add("basemap-generated");
    L.LayerGroup.prototype.onAdd.call(this, map);
    this.labels.attach(map);
  },
  onRemove(map) {
    this.labels.detach();
    map.getContainer().classList.remove("basemap-generated");
    L.LayerGroup.prototype.onRemove.call(this, map);
  },
});

/** Where each name goes, and which of them are in the DOM for the current view. */
class Labels {
  constructor(features, toLatLng) {
    this.layer = L.layerGroup();
    this.spots = [];
    for (const f of features) {
      const { kind, name, rank } = f.properties;
      const minZoom = LABEL_ZOOM[kind === "place" ? "place" : `${kind}${rank}`];
      if (!name || minZoom === undefined) continue;
      const spot = { name, kind, rank, minZoom, detail: f.properties.detail };
      // A line's label goes on the part of it in view (found at each redraw); anything else has one spot.
      if (f.geometry.type === "LineString") spot.line = f.geometry.coordinates.map(([lon, lat]) => toLatLng(lon, lat));
      else spot.latlng = toLatLng(...centreOf(f.geometry));
      this.spots.push(spot);
    }
    // Placement order: main things first, so a local street never crowds out an arterial's name.
    this.spots.sort((a, b) => a.rank - b.rank || a.minZoom - b.minZoom);
    this.redraw = () => this.#draw();
  }

  attach(map) {
    this.map = map;
    map.on("moveend zoomend", this.redraw);
    this.#draw();
  }

  detach() {
    this.map?.off("moveend zoomend", this.redraw);
    this.layer.clearLayers();
  }

  #draw() {
    const map = this.map;
    this.layer.clearLayers();
    if (!map) return;
    const zoom = map.getZoom();
    const view = map.getBounds().pad(0.1);
    const box = L.bounds(map.latLngToLayerPoint(view.getNorthWest()), map.latLngToLayerPoint(view.getSouthEast()));
    const placed = [];
    for (const spot of this.spots) {
      if (zoom < spot.minZoom) continue;
      const spots = spot.line ? onScreen(map, spot.line, box)
        : view.contains(spot.latlng) ? [{ at: map.latLngToLayerPoint(spot.latlng), angle: 0 }] : [];
      for (const { at, angle } of spots) {
        if (placed.some((p) => p.distanceTo(at) < CROWD_PX)) continue;
        placed.push(at);
        const text = h("span", { class: "map-label-text", translate: "no" }, spot.name);
        // Turned along the street through the CSSOM (allowed by the CSP), never by a style attribute.
        if (angle) text.style.transform = `rotate(${angle}deg)`;
        const icon = L.divIcon({ className: `map-label kind-${spot.kind} rank-${spot.rank} ${spot.detail ?? ""}`,
          html: text, iconSize: null });
        L.marker(map.layerPointToLatLng(at), { icon, interactive: false, keyboard: false, pane: "basemapLabels" })
          .addTo(this.layer);
      }
    }
    map.getContainer().dataset.basemapLabels = String(placed.length);
  }
}

/** The middle of an area, or a point: [lon, lat]. */
function centreOf(geometry) {
  if (geometry.type === "Point") return geometry.coordinates;
  const ring = geometry.type === "Polygon" ? geometry.coordinates[0] : geometry.coordinates[0][0];
  return [ring.reduce((s, p) => s + p[0], 0) / ring.length, ring.reduce((s, p) => s + p[1], 0) / ring.length];
}

/**
 * Where a line's name goes in the view: along each visible stretch, every REPEAT_PX, turned to its direction
 * and kept upright. Returns [{at: layer point, angle: degrees}].
 */
function onScreen(map, line, box) {
  const spots = [];
  for (let i = 1; i < line.length; i += 1) {
    const seen = L.LineUtil.clipSegment(map.latLngToLayerPoint(line[i - 1]), map.latLngToLayerPoint(line[i]), box,
      false, true);
    if (!seen) continue;
    const [a, b] = seen;
    const length = a.distanceTo(b);
    if (length < 80) continue;  // too little of it in view to carry a name
    let angle = (Math.atan2(b.y - a.y, b.x - a.x) * 180) / Math.PI;
    if (angle > 90) angle -= 180;
    if (angle < -90) angle += 180;
    const count = Math.max(1, Math.floor(length / REPEAT_PX));
    // Beside the street, not on it: a bus route is drawn along the main streets, and the name stays readable.
    const side = L.point(-(b.y - a.y) / length, (b.x - a.x) / length).multiplyBy(SIDE_PX);
    for (let k = 0; k < count; k += 1) {
      const share = (k + 0.5) / count;
      spots.push({ at: L.point(a.x + (b.x - a.x) * share, a.y + (b.y - a.y) * share).add(side), angle: Math.round(angle) });
    }
  }
  return spots;
}

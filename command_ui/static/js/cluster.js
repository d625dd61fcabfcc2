/**
 * Leaflet.markercluster (npm, served at /vendor/markercluster/) for the ES-module Leaflet the pages import.
 * The plugin is a classic script that adds its classes to a global `L`; the module namespace is frozen, so it is
 * given a copy that holds the very same classes (markers made by the pages are what it clusters) and then
 * loaded once, as a script from this origin (the CSP allows nothing else).
 */

import * as L from "/vendor/leaflet/leaflet-src.esm.js";

let loading = null;

/** Leaflet with markerClusterGroup, once the plugin has loaded. */
export function withClusters() {
  loading ??= new Promise((resolve, reject) => {
    const global = { ...L };
    window.L = global;
    const script = document.createElement("script");
    script.src = "/vendor/markercluster/leaflet.markercluster.js";
    script.addEventListener("load", () => resolve(global));
    script.addEventListener("error", () => reject(new Error("could not load /vendor/markercluster")));
    document.head.append(script);
  });
  return loading;
}

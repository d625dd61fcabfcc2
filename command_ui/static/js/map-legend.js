/**
 * The map's legend: what each symbol means, drawn with the very symbols the map uses (map-icons.js). Devices
 * and the four bus states always; incident types as they appear on the map, so the list stays short. A
 * <details> element: open on a desktop, one tap away on a phone.
 */

import * as L from "/vendor/leaflet/leaflet-src.esm.js";
import { h, replaceChildren } from "./dom.js";
import { t } from "./i18n.js";
import { typeName } from "./incidents.js";
import { BUS_STATES, DEVICE_KINDS, glyph } from "./map-icons.js";

export class Legend {
  /** @param {L.Map} map the map to put it on (bottom left) */
  constructor(map) {
    this.types = h("ul", { class: "legend-list", "data-legend": "incidents" });
    const devices = h("ul", { class: "legend-list", "data-legend": "devices" }, DEVICE_KINDS.map((kind) => h("li",
      { "data-kind": kind }, h("span", { class: `legend-symbol device-marker kind-${kind}` }, glyph(kind)),
      t(`map.device.${kind}`))));
    const buses = h("ul", { class: "legend-list", "data-legend": "buses" }, BUS_STATES.map((state) => h("li",
      { "data-state": state }, h("span", { class: `legend-symbol bus-swatch bus-state-${state}` }),
      t(`map.bus_state.${state}`))));
    const open = window.matchMedia("(min-width: 900px)").matches;
    this.element = h("details", { class: "map-legend", open },
      h("summary", {}, t("map.legend")),
      h("h3", {}, t("map.legend_incidents")), this.types,
      h("h3", {}, t("map.legend_devices")), devices,
      h("h3", {}, t("map.legend_buses")), buses);
    const Control = L.Control.extend({ onAdd: () => this.element });
    new Control({ position: "bottomleft" }).addTo(map);
    // Scrolls and clicks on the legend stay on the legend.
    L.DomEvent.disableClickPropagation(this.element);
    L.DomEvent.disableScrollPropagation(this.element);
    this.showTypes([]);
  }

  /** List the incident types now on the map (their pictogram and name), or say there are none. */
  showTypes(types) {
    const sorted = [...new Set(types)].sort((a, b) => typeName(a).localeCompare(typeName(b)));
    replaceChildren(this.types, sorted.length ? sorted.map((type) => h("li", { "data-type": type },
      h("span", { class: "legend-symbol incident-symbol" }, glyph(type)), typeName(type)))
      : h("li", { class: "muted" }, t("map.legend_no_incidents")));
  }
}

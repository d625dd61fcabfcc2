/**
 * School names that never cover one another. At whole-city zoom some thirty campuses lie a few pixels apart, and
 * their permanent names piled up, each hiding its neighbours' names and what lay under them. After each zoom (and
 * once the fonts have loaded, which changes every name's width) a greedy pass over the names' boxes keeps the
 * most prominent name of each crowd (the larger campus first, then the name, so the choice is stable) and hides
 * the others; a hidden name shows while the pointer is over its campus. Zooming in spreads the campuses apart
 * and brings the hidden names back.
 *
 * Hidden means `visibility: hidden` (campusguard.css), which keeps the box in the layout: every box is
 * measured in one pass, then the classes are changed in another, so the pass costs one layout whatever the count.
 */

const GAP = 3; // px kept clear between two shown names, so that their borders never touch

function meet(a, b) {
  return a.left < b.right + GAP && b.left < a.right + GAP && a.top < b.bottom + GAP && b.top < a.bottom + GAP;
}

/** How prominent a campus is: its extent in square degrees (a larger campus is the one a reader looks for). */
function extent(campus) {
  const bounds = campus.getBounds?.();
  return bounds ? (bounds.getEast() - bounds.getWest()) * (bounds.getNorth() - bounds.getSouth()) : 0;
}

/**
 * Hide the permanent tooltips of `layer` that would overlap a more prominent one, or another text standing on
 * the map (an incident's permanent title on the wall: the alarm outranks any school's name); returns how many
 * names show.
 */
export function declutter(layer, container) {
  const labels = [];
  layer.eachLayer((campus) => {
    const element = campus.getTooltip?.()?.getElement();
    if (element?.isConnected) labels.push({ element, rank: extent(campus), name: element.textContent ?? "" });
  });
  labels.sort((a, b) => b.rank - a.rank || a.name.localeCompare(b.name));
  const boxes = labels.map(({ element }) => element.getBoundingClientRect());
  const shown = [...(container?.querySelectorAll(".leaflet-tooltip-pane .leaflet-tooltip") ?? [])]
    .filter((other) => !other.classList.contains("school-label")).map((other) => other.getBoundingClientRect());
  const obstacles = shown.length;
  labels.forEach(({ element }, i) => {
    const hide = shown.some((box) => meet(box, boxes[i]));
    element.classList.toggle("label-hidden", hide);
    if (!hide) shown.push(boxes[i]);
  });
  return shown.length - obstacles;
}

/**
 * Keep the school names of a campus layer apart on `map` from now on, and let a hidden one show on hover.
 * Returns the pass itself, for a page that adds other standing text (the wall's incident titles) to call.
 * `document.body.dataset.labelsShown` says how many show after each pass (tests wait on it).
 */
export function keepLabelsApart(map, layer) {
  const run = () => {
    if (!map.hasLayer(layer)) return;
    document.body.dataset.labelsShown = String(declutter(layer, map.getContainer()));
  };
  const peek = (campus, on) => campus.getTooltip?.()?.getElement()?.classList.toggle("label-peek", on);
  layer.eachLayer((campus) => {
    campus.on("mouseover", () => peek(campus, true));
    campus.on("mouseout", () => peek(campus, false));
  });
  // moveend follows every zoom and fit, resize changes nothing relative but costs nothing either.
  map.on("zoomend moveend resize", run);
  layer.on("add", run);
  document.fonts?.ready.then(run);
  map.whenReady(run);
  return run;
}

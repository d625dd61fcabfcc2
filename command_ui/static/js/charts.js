/**
 * Two small SVG charts drawn by hand (no chart library to vendor): weekly lines per school, and horizontal
 * percentage bars. Text goes in as text nodes, never markup; every mark carries data-* attributes so tests
 * and screen readers can find what it shows.
 */

const NS = "http://www.w3.org/2000/svg";
export const PALETTE = ["#1d4ed8", "#b45309", "#15803d", "#7c3aed", "#be123c", "#0f766e", "#4b5563", "#ca8a04"];

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = String(text);
  return el;
}

/**
 * Lines over weeks: `series` is [{key, label, color, dashed, points: [{x: "2026-11-02", y: number|null}]}];
 * a null y breaks the line. Returns an <svg> with a legend below it.
 */
export function weeklyLines(series, { title, unit = "", width = 560, height = 220 } = {}) {
  const pad = { left: 44, right: 24, top: 12, bottom: 28 };
  const weeks = [...new Set(series.flatMap((s) => s.points.map((p) => p.x)))].sort();
  const values = series.flatMap((s) => s.points.map((p) => p.y)).filter((y) => y != null);
  const top = niceTop(Math.max(1, ...values));
  const x = (week) => pad.left + (weeks.length <= 1 ? (width - pad.left - pad.right) / 2
    : (weeks.indexOf(week) * (width - pad.left - pad.right)) / (weeks.length - 1));
  const y = (v) => height - pad.bottom - (v / top) * (height - pad.top - pad.bottom);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": title });
  for (const tick of [0, top / 2, top]) {
    root.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y(tick), y2: y(tick), class: "grid" }));
    root.append(svg("text", { x: pad.left - 6, y: y(tick) + 4, "text-anchor": "end", class: "tick" },
      `${round(tick)}${unit}`));
  }
  for (const week of weeks) {
    root.append(svg("text", { x: x(week), y: height - 8, "text-anchor": "middle", class: "tick" }, week.slice(5)));
  }
  for (const s of series) {
    let path = "";
    for (const p of s.points.filter((q) => weeks.includes(q.x)).sort((a, b) => a.x.localeCompare(b.x))) {
      if (p.y == null) continue;
      path += `${path ? "L" : "M"}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`;
      root.append(svg("circle", { cx: x(p.x), cy: y(p.y), r: 3, fill: s.color, class: "point",
        "data-series": s.key, "data-week": p.x, "data-value": p.y }, undefined));
    }
    if (path) {
      root.append(svg("path", { d: path, fill: "none", stroke: s.color, "stroke-width": 2,
        "stroke-dasharray": s.dashed ? "5 4" : null, class: "series", "data-series": s.key }));
    }
  }
  return root;
}

/** Horizontal bars of shares (0..1): rows are [{key, label, value: number|null, note}]. */
export function shareBars(rows, { title, width = 560 } = {}) {
  const rowHeight = 26;
  const labelWidth = 190;
  const height = rows.length * rowHeight + 8;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart bars", role: "img", "aria-label": title });
  rows.forEach((row, i) => {
    const top = 4 + i * rowHeight;
    root.append(svg("text", { x: 0, y: top + 16, class: "label" }, row.label));
    const room = width - labelWidth - 60;
    root.append(svg("rect", { x: labelWidth, y: top + 3, width: room, height: 18, class: "track" }));
    if (row.value != null) {
      root.append(svg("rect", { x: labelWidth, y: top + 3, width: Math.max(room * row.value, 1), height: 18,
        class: "bar", "data-key": row.key, "data-value": row.value.toFixed(4) }));
    }
    root.append(svg("text", { x: width - 52, y: top + 16, class: "value" },
      row.value == null ? "—" : `${(row.value * 100).toFixed(1)} %`));
  });
  return root;
}

function niceTop(max) {
  const step = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= max) return m * step;
  return 10 * step;
}

function round(v) {
  return v >= 10 ? Math.round(v) : Math.round(v * 10) / 10;
}

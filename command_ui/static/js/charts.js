/**
 * The reports' charts, drawn by ECharts (the charting library Chinese command-centre dashboards use; npm's
 * echarts, served from /vendor/echarts/): weekly lines per school, and horizontal percentage bars. One theme
 * for both, ECharts' own texts (tooltips, the "no data" of an axis) in the reader's language, and an explicit
 * empty state in words instead of an empty frame.
 *
 * Under our Content-Security-Policy (style-src 'self'): the charts are drawn on a canvas, and so are their
 * tooltips (`renderMode: "richText"`). ECharts' default HTML tooltip would build markup with innerHTML (a school
 * named "<img ...>" would become an element) and style="" attributes the policy refuses; on the canvas a name is
 * only ever text. Each chart's container says what it shows in data-* attributes and an aria-label, so tests
 * and screen readers need not read the canvas.
 */

import * as echarts from "/vendor/echarts/echarts.esm.min.js";
import { h, replaceChildren } from "./dom.js";
import { LANG } from "./i18n.js";

export const PALETTE = ["#1d4ed8", "#b45309", "#15803d", "#7c3aed", "#be123c", "#0f766e", "#4b5563", "#ca8a04"];

const FONT = getComputedStyle(document.documentElement).fontFamily || "sans-serif";

echarts.registerTheme("campusguard", {
  color: PALETTE,
  backgroundColor: "transparent",
  textStyle: { fontFamily: FONT, color: "#111827" },
  categoryAxis: { axisLine: { lineStyle: { color: "#9ca3af" } }, axisLabel: { color: "#6b7280" },
    splitLine: { show: false } },
  valueAxis: { axisLine: { show: false }, axisLabel: { color: "#6b7280" },
    splitLine: { lineStyle: { color: "#e5e7eb" } } },
  legend: { textStyle: { color: "#374151" } },
});

/** ECharts' built-in locales: its tooltips and toolbox speak the page's language. */
const LOCALE = LANG === "zh-CN" ? "ZH" : "EN";
const charts = new Set();
window.addEventListener("resize", () => { for (const chart of charts) chart.resize(); });

/** Draw into `holder`, replacing what it showed; returns the ECharts instance. */
function draw(holder, option, summary) {
  const previous = echarts.getInstanceByDom(holder);
  if (previous) {
    charts.delete(previous); // a disposed chart must not be resized (nor kept alive) by the resize listener
    previous.dispose();
  }
  replaceChildren(holder);
  holder.classList.add("echart");
  holder.classList.remove("echart-empty");
  const chart = echarts.init(holder, "campusguard", { renderer: "canvas", locale: LOCALE });
  chart.setOption({ animation: false, ...option });
  charts.add(chart);
  holder.setAttribute("role", "img");
  holder.setAttribute("aria-label", summary.label);
  holder.dataset.state = "drawn";
  for (const [key, value] of Object.entries(summary.data)) holder.dataset[key] = value;
  return chart;
}

/** Say in words why there is nothing to draw, in the place the chart would be. */
export function emptyChart(holder, text) {
  const chart = echarts.getInstanceByDom(holder);
  if (chart) {
    charts.delete(chart);
    chart.dispose();
  }
  holder.classList.add("echart-empty");
  holder.removeAttribute("role");
  holder.removeAttribute("aria-label");
  holder.dataset.state = "empty";
  replaceChildren(holder, h("p", { class: "empty-state" }, text));
}

/**
 * Lines over weeks: `series` is [{key, name, color, dashed, points: [{x: "2026-11-02", y: number|null}]}];
 * a null y breaks the line. `unitName` labels the value axis ("minutes").
 */
export function weeklyLines(holder, series, { title, unitName, emptyText }) {
  const weeks = [...new Set(series.flatMap((s) => s.points.map((p) => p.x)))].sort();
  const values = series.flatMap((s) => s.points.map((p) => p.y)).filter((y) => y != null);
  if (!values.length) return emptyChart(holder, emptyText);
  const round = (v) => (v == null ? null : Math.round(v * 10) / 10);
  return draw(holder, {
    grid: { left: 48, right: 16, top: 36, bottom: 28 },
    tooltip: { trigger: "axis", renderMode: "richText", valueFormatter: (v) => (v == null ? "—" : `${round(v)}`) },
    legend: { type: "scroll", top: 0, data: series.filter((s) => !s.dashed).map((s) => s.name) },
    xAxis: { type: "category", data: weeks, axisLabel: { formatter: (week) => week.slice(5) } },
    yAxis: { type: "value", name: unitName, nameTextStyle: { align: "left" }, min: 0 },
    series: series.map((s) => ({
      id: s.key, name: s.name, type: "line", connectNulls: false, symbolSize: 6,
      itemStyle: { color: s.color }, lineStyle: { color: s.color, width: 2, type: s.dashed ? "dashed" : "solid" },
      data: weeks.map((w) => round(s.points.find((p) => p.x === w)?.y ?? null)),
    })),
  }, { label: title, data: { series: String(series.length), weeks: String(weeks.length) } });
}

/**
 * Horizontal bars of shares (0..1): rows are [{key, label, value: number|null}]; a null value (no devices, an
 * empty window) draws no bar and says "—".
 */
export function shareBars(holder, rows, { title, emptyText }) {
  if (!rows.length) return emptyChart(holder, emptyText);
  holder.classList.add("echart-bars");
  // Each bar its own line, so the frame grows with the schools instead of squeezing them.
  holder.style.height = `${Math.max(120, rows.length * 36 + 40)}px`;
  const percent = (v) => (v == null ? "—" : `${(v * 100).toFixed(1)} %`);
  const ordered = [...rows].reverse(); // ECharts draws a category axis bottom-up; the first row goes on top
  return draw(holder, {
    grid: { left: 8, right: 64, top: 8, bottom: 24, containLabel: true },
    // Plain text: in richText mode ECharts draws the string as it is, so a name's "<" stays a "<".
    tooltip: { trigger: "item", renderMode: "richText", formatter: (p) => `${p.name}: ${percent(ordered[p.dataIndex].value)}` },
    xAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value} %" } },
    yAxis: { type: "category", data: ordered.map((r) => r.label) },
    series: [{
      type: "bar", barMaxWidth: 20, itemStyle: { color: "#16a34a" },
      showBackground: true, backgroundStyle: { color: "#f3f4f6" },
      label: { show: true, position: "right", formatter: (p) => percent(ordered[p.dataIndex].value) },
      data: ordered.map((r) => (r.value == null ? null : Math.round(r.value * 1000) / 10)),
    }],
  }, {
    label: `${title}: ${rows.map((r) => `${r.label} ${percent(r.value)}`).join("; ")}`,
    data: { bars: String(rows.length), values: JSON.stringify(Object.fromEntries(rows.map((r) => [r.key, r.value]))) },
  });
}

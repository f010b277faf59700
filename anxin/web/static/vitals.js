// The last 24 h of a device's vitals as one small chart (uPlot, installed by
// scripts/install-web): heart rate and SpO2, the two an operator reads first.

import { clock, t, hhmm } from "./i18n.js";

export function vitalsChart(box, vitals) {
  if (typeof window.uPlot !== "function") {
    box.textContent = t("no_library");
    return null;
  }
  const xs = vitals.map((v) => Date.parse(v.ts) / 1000);
  const series = [
    ["hr", "#c0392b"], ["spo2", "#2471a3"], ["sbp", "#7d3c98"], ["temp", "#d68910"],
  ].filter(([key]) => vitals.some((v) => v[key] !== null));
  const data = [xs, ...series.map(([key]) => vitals.map((v) => v[key]))];
  return new window.uPlot({
    width: Math.max(280, box.clientWidth || 360),
    height: 160,
    title: t("vitals"),
    // words in the page's language; times 24-hour in the operators' zone, not the browser's
    series: [
      { label: t("time"), value: (_u, ts) => (ts === null ? "" : clock(new Date(ts * 1000).toISOString())) },
      ...series.map(([key, stroke]) => ({ label: t(key), stroke, spanGaps: true })),
    ],
    axes: [{ values: (_u, splits) => splits.map(hhmm) }, {}],
    legend: { show: true },
  }, data, box);
}

// The last 24 h of a device's vitals as one small chart (uPlot, installed by
// scripts/install-web): heart rate and SpO2, the two an operator reads first.

import { config, t } from "./i18n.js";

export function vitalsChart(box, vitals) {
  if (typeof window.uPlot !== "function") {
    box.textContent = t("no_library");
    return null;
  }
  const xs = vitals.map((v) => Date.parse(v.ts) / 1000);
  const series = [
    ["hr", "HR", "#c0392b"], ["spo2", "SpO₂", "#2471a3"], ["sbp", "SBP", "#7d3c98"],
    ["temp", "°C", "#d68910"],
  ].filter(([key]) => vitals.some((v) => v[key] !== null));
  const data = [xs, ...series.map(([key]) => vitals.map((v) => v[key]))];
  return new window.uPlot({
    width: Math.max(280, box.clientWidth || 360),
    height: 160,
    title: t("vitals"),
    series: [{}, ...series.map(([, name, stroke]) => ({ label: name, stroke, spanGaps: true }))],
    axes: [{}, {}],
    legend: { show: true },
    // the operators' zone, not the browser's
    tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1000), config.time_zone),
  }, data, box);
}

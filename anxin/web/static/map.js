// Open incidents where help goes, the service points with what they hold, and who was
// asked or sent: Leaflet on a plain background, with tiles only where the city has a
// tile server (ANXIN_MAP_TILE_URL).

import { api, el } from "./api.js";
import { config, label, t } from "./i18n.js";

const COLOURS = { P1: "#c0392b", P2: "#e67e22", P3: "#2e86c1" };

// A tooltip's lines as text nodes: Leaflet sets a string tooltip as HTML, and a
// resident's or a point's name is whatever someone typed.
function lines(...texts) {
  return el("div", {}, texts.filter((x) => x !== null).flatMap((x, k) => (k ? [el("br"), x] : [x])));
}

export class IncidentMap {
  constructor(box, { onOpen }) {
    this.box = box;
    this.onOpen = onOpen;
    this.map = null;
    this.layer = null;
    this.fitted = false;
  }

  async show() {
    if (typeof window.L !== "object") {
      this.box.textContent = t("no_library");
      return null;
    }
    if (this.map === null) {
      this.map = window.L.map(this.box, { attributionControl: true });
      if (config.tile_url) {
        window.L.tileLayer(config.tile_url, { attribution: config.tile_attribution }).addTo(this.map);
      }
      this.layer = window.L.layerGroup().addTo(this.map);
      // with no tiles, a scale is what tells an operator how far apart things are
      window.L.control.scale({ imperial: false }).addTo(this.map);
    }
    this.map.invalidateSize();
    return this.draw(await api("GET", "/api/v1/map"));
  }

  draw({ incidents, points }) {
    const L = window.L;
    this.layer.clearLayers();
    const where = new Map(points.map((p) => [p.id, p]));
    const bounds = [];
    for (const p of points) {
      const full = p.load >= p.capacity;
      L.circleMarker([p.lat, p.lon], {
        radius: 6 + Math.min(6, p.load * 2), color: "#1e8449", weight: 2,
        fillColor: !p.open_now ? "#aaa" : full ? "#f5b041" : "#58d68d", fillOpacity: 0.8,
      }).bindTooltip(lines(p.name, `${t("load")} ${p.load} / ${t("capacity")} ${p.capacity}`,
        p.open_now ? null : t("closed_now"))).addTo(this.layer);
      bounds.push([p.lat, p.lon]);
    }
    for (const i of incidents) {
      if (i.lat === null) continue;
      const marker = L.circleMarker([i.lat, i.lon], {
        radius: 9, color: "#000", weight: 1, fillColor: COLOURS[i.severity], fillOpacity: 0.95,
      }).bindTooltip(lines(`${i.severity} ${i.resident_name || ""} · ${label("status", i.status)}`),
        { permanent: true, direction: "right", offset: [8, 0] });
      marker.on("click", () => this.onOpen(i.id));
      marker.addTo(this.layer);
      const point = where.get(i.service_point_id);
      if (point) {
        L.polyline([[i.lat, i.lon], [point.lat, point.lon]],
          { color: COLOURS[i.severity], dashArray: i.status === "acknowledged" ? "4 4" : null })
          .addTo(this.layer);
      }
      bounds.push([i.lat, i.lon]);
    }
    if (!this.fitted && bounds.length) {
      this.map.fitBounds(bounds, { padding: [30, 30], maxZoom: 15 });
      this.fitted = true;
    }
    return { incidents: incidents.length, points: points.length };
  }
}

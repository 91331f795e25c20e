/*
 * The coverage layer: the grid's squares coloured by how many volunteers the app could alert
 * within a radius (or AEDs within 1 km). Counts below k arrive as null from the server and are
 * drawn grey as "fewer than k": the browser never gets them. Used by the coverage page and,
 * as a toggleable overlay, by the incident board (window.hjMap).
 */
(function () {
  "use strict";

  var FIELD = { 500: 2, 1000: 3, 2000: 4, aeds: 5 };

  function colour(n, k, aeds) {
    if (n === null || n === undefined) return "#9aa5b1";
    if (aeds) return n >= 5 ? "#08519c" : n >= 1 ? "#6baed6" : "#d9dee3";
    if (n >= 25) return "#238b45";
    if (n >= 10) return "#74c476";
    return n >= k ? "#c7e9c0" : "#d9dee3";
  }

  function i18n() {
    var el = document.getElementById("coverage-i18n");
    return el ? JSON.parse(el.textContent) : {};
  }

  function CoverageLayer(url) {
    this.url = url;
    this.group = L.layerGroup();
    // Thousands of squares: one canvas, not thousands of SVG elements.
    this.renderer = L.canvas({ padding: 0.2 });
    this.radius = "1000";
    this.hour = "";
    this.text = i18n();
  }

  CoverageLayer.prototype.load = function () {
    var self = this;
    var query = self.hour === "" ? "" : "?hour=" + encodeURIComponent(self.hour);
    return fetch(self.url + query, { credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (data) { self.draw(data); return data; });
  };

  CoverageLayer.prototype.draw = function (data) {
    var self = this;
    var index = FIELD[self.radius];
    var aeds = self.radius === "aeds";
    var fewer = self.text.fewer || "< " + data.k;
    self.group.clearLayers();
    data.cells.forEach(function (c) {
      var b = c[1];
      var n = c[index];
      var rect = L.rectangle([[b[0], b[1]], [b[2], b[3]]], {
        renderer: self.renderer,
        color: "#ffffff",
        weight: 0.5,
        opacity: 0.7,
        fillColor: colour(n, data.k, aeds),
        fillOpacity: n === null ? 0.3 : 0.7,
      });
      var label = function (v) { return v === null ? fewer : String(v); };
      rect.bindTooltip(
        (self.text.within500 || "500 m") + ": " + label(c[2]) + "<br>" +
        (self.text.within1000 || "1 km") + ": " + label(c[3]) + "<br>" +
        (self.text.within2000 || "2 km") + ": " + label(c[4]) + "<br>" +
        (self.text.aeds || "AED") + ": " + c[5]
      );
      self.group.addLayer(rect);
    });
    var el = document.getElementById("coverage-map");
    if (el) el.dataset.cells = String(data.cells.length);
    if (self.fit && data.cells.length && !self.fitted) {
      // The region's extent, from the bounds themselves (cheaper than thousands of layers').
      var s = 90, w = 180, n = -90, e = -180;
      data.cells.forEach(function (c) {
        s = Math.min(s, c[1][0]); w = Math.min(w, c[1][1]);
        n = Math.max(n, c[1][2]); e = Math.max(e, c[1][3]);
      });
      self.fit.fitBounds([[s, w], [n, e]]);
      self.fitted = true;
    }
  };

  function page() {
    var el = document.getElementById("coverage-map");
    if (!el) return;
    var map = HjMap.create(el, HjMap.readConfig());
    var layer = new CoverageLayer(el.dataset.url);
    layer.fit = map;
    layer.group.addTo(map);
    function reload() {
      el.dataset.loaded = "0";
      return layer.load().then(function () { el.dataset.loaded = "1"; });
    }
    reload();
    var radius = document.getElementById("coverage-radius");
    var hour = document.getElementById("coverage-hour");
    radius.addEventListener("change", function () { layer.radius = radius.value; reload(); });
    hour.addEventListener("change", function () { layer.hour = hour.value; reload(); });
  }

  function boardOverlay() {
    var el = document.getElementById("coverage-overlay");
    if (!el || !window.hjMap) return;
    var layer = new CoverageLayer(el.dataset.url);
    var loaded = false;
    window.hjMap.on("overlayadd", function (e) {
      if (e.layer === layer.group && !loaded) { loaded = true; layer.load(); }
    });
    var overlays = {};
    overlays[el.dataset.label] = layer.group;
    L.control.layers(null, overlays, { collapsed: false, position: "topright" }).addTo(window.hjMap);
  }

  window.HjCoverage = { Layer: CoverageLayer };
  document.addEventListener("DOMContentLoaded", function () { page(); boardOverlay(); });
})();

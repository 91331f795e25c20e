/*
 * Municipality outlines for the admin map widgets, drawn from a static, simplified GeoJSON file
 * (config/static/geo/kommuner.geojson, built by `manage.py build_map_outlines`).
 * Tile servers may be unreachable from the dispatch centre; the outlines keep the maps usable.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var url = script && script.dataset && script.dataset.outlines;
  if (!url && script) {
    // .../static/hjertealarm/map_outlines.js -> .../static/geo/kommuner.geojson
    url = script.src.replace(/hjertealarm\/map_outlines(\.[0-9a-f]+)?\.js.*$/, "geo/kommuner.geojson");
  }
  var attribution = "Kommunegrænser: SDFI, DAGI 1:500.000, februar 2014";
  var cache = null;

  function load() {
    if (!cache) {
      cache = fetch(url, { credentials: "same-origin" }).then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      });
    }
    return cache;
  }

  function addOutlines(map) {
    load().then(function (data) {
      var outlines = L.geoJSON(data, {
        interactive: false,
        style: { color: "#b3261e", weight: 1.2, opacity: 0.8, fill: false },
      });
      var labels = L.layerGroup(
        data.features.map(function (f) {
          var p = f.properties.label;
          return L.marker([p[1], p[0]], {
            interactive: false,
            keyboard: false,
            icon: L.divIcon({ className: "hjertealarm-map-label", html: f.properties.name, iconSize: null }),
          });
        })
      );
      outlines.getAttribution = function () { return attribution; };
      outlines.addTo(map);
      outlines.bringToBack();
      function toggleLabels() {
        if (map.getZoom() >= 9) labels.addTo(map);
        else labels.remove();
      }
      map.on("zoomend", toggleLabels);
      toggleLabels();
      if (map.layerscontrol) map.layerscontrol.addOverlay(outlines, "Kommunegrænser");
    }).catch(function (err) {
      if (window.console) console.warn("Municipality outlines not loaded:", err);
    });
  }

  var english = (document.documentElement.lang || "").slice(0, 2) === "en";
  var OFFLINE_TEXT = english
    ? "Background map unavailable: showing municipal boundaries"
    : "Baggrundskort utilgængeligt: viser kommunegrænser";

  // When no tile loads, say so and zoom out far enough for the outlines to give orientation.
  function watchTiles(map) {
    var loaded = 0, failed = 0, flagged = false;
    map.eachLayer(function (layer) {
      if (!(layer instanceof L.TileLayer)) return;
      layer.on("tileload", function () { loaded++; });
      layer.on("tileerror", function () {
        failed++;
        if (flagged || loaded > 0 || failed < 2) return;
        flagged = true;
        var note = L.control({ position: "bottomleft" });
        note.onAdd = function () {
          var div = L.DomUtil.create("div", "hjertealarm-offline-note");
          div.textContent = OFFLINE_TEXT;
          return div;
        };
        note.addTo(map);
        if (map.getZoom() > 12) map.setZoom(12);
      });
    });
  }

  window.addEventListener("map:init", function (e) {
    addOutlines(e.detail.map);
    watchTiles(e.detail.map);
  }, false);
})();

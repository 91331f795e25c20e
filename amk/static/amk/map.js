/*
 * The console's base map. Tile servers may be unreachable from the dispatch centre, so the map
 * always draws the simplified municipality outlines (DAGI, config/static/geo/kommuner.geojson)
 * as a land layer underneath the tiles: with tiles they are hidden, without they are the map.
 */
(function () {
  "use strict";

  var OUTLINES_ATTRIBUTION = "Kommunegrænser: SDFI, DAGI 1:500.000, februar 2014";
  var outlinesCache = null;

  function loadOutlines(url) {
    if (!outlinesCache) {
      outlinesCache = fetch(url, { credentials: "same-origin" }).then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      });
    }
    return outlinesCache;
  }

  function readConfig(id) {
    var el = document.getElementById(id || "map-config");
    return el ? JSON.parse(el.textContent) : {};
  }

  function create(el, config) {
    var map = L.map(el, {
      center: config.center || [56.2, 9.6],
      zoom: config.zoom || 8,
      minZoom: config.minZoom || 5,
      maxZoom: config.maxZoom || 18,
      zoomControl: true,
      attributionControl: true,
    });
    map.attributionControl.setPrefix("");
    // Land below the tiles, borders above them.
    map.createPane("land").style.zIndex = 150;
    map.createPane("borders").style.zIndex = 350;
    map.getPane("borders").style.pointerEvents = "none";

    (config.tiles || []).slice(0, 1).forEach(function (t) {
      var options = Object.assign({ maxZoom: config.maxZoom || 18 }, t.options || {});
      var layer = L.tileLayer(t.url, options);
      var failures = 0;
      layer.on("tileerror", function () {
        failures += 1;
        if (failures === 8) el.classList.add("tiles-offline");
      });
      layer.on("tileload", function () { el.classList.remove("tiles-offline"); });
      layer.addTo(map);
    });

    if (config.outlines) {
      loadOutlines(config.outlines).then(function (data) {
        // With config.region (municipality codes), land outside the service region is greyed.
        var region = config.region ? new Set(config.region) : null;
        L.geoJSON(data, {
          pane: "land",
          interactive: false,
          style: function (f) {
            var inside = !region || region.has(f.properties.code);
            return { stroke: false, fill: true, fillColor: inside ? "#f4f2ec" : "#dcdcd6", fillOpacity: 1 };
          },
        }).addTo(map);
        var borders = L.geoJSON(data, {
          pane: "borders",
          interactive: false,
          style: { color: "#7c8794", weight: 1, opacity: 0.7, fill: false },
        });
        borders.getAttribution = function () { return OUTLINES_ATTRIBUTION; };
        borders.addTo(map);
        var labels = L.layerGroup(
          data.features.map(function (f) {
            var p = f.properties.label;
            // The name as text, never as HTML (a divIcon's html string is parsed).
            var name = document.createElement("span");
            name.textContent = f.properties.name;
            return L.marker([p[1], p[0]], {
              pane: "borders",
              interactive: false,
              keyboard: false,
              icon: L.divIcon({ className: "map-label", html: name, iconSize: null }),
            });
          })
        );
        function toggleLabels() {
          var z = map.getZoom();
          if (z >= 9 && z <= 13) labels.addTo(map);
          else labels.remove();
        }
        map.on("zoomend", toggleLabels);
        toggleLabels();
      }).catch(function (err) {
        if (window.console) console.warn("Municipality outlines not loaded:", err);
      });
    }
    return map;
  }

  window.HjMap = { create: create, readConfig: readConfig };
})();

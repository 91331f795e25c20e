/*
 * New incident: the map, the search (addresses, streets, places) and the coordinates field set one
 * point together; choosing an address also fills the address field.
 * The coordinates field is what is submitted ("lat, lon"); the server parses it again.
 */
(function () {
  "use strict";

  var DK = { lonMin: 8.0, latMin: 54.5, lonMax: 15.25, latMax: 57.8 };
  var field = document.getElementById("id_location");
  var status = document.getElementById("coord-status");
  var config = HjMap.readConfig("map-config");
  var map = HjMap.create(document.getElementById("map"), config);
  var marker = null;
  window.hjMap = map;

  function inDenmark(lat, lon) {
    return lon >= DK.lonMin && lon <= DK.lonMax && lat >= DK.latMin && lat <= DK.latMax;
  }

  // Mirrors amk.forms.parse_coordinates.
  function parse(text) {
    var cleaned = (text || "").replace(/[°º]/g, " ").replace(/(^|[^A-Za-zÆØÅæøå])[NSEWØVnsewøv](?=$|[^A-Za-zÆØÅæøå])/g, "$1 ");
    var numbers = cleaned.match(/[-+]?\d+(?:[.,]\d+)?/g);
    if (!numbers || numbers.length !== 2) return null;
    var a = parseFloat(numbers[0].replace(",", "."));
    var b = parseFloat(numbers[1].replace(",", "."));
    var lat = a, lon = b;
    if (!inDenmark(lat, lon) && inDenmark(b, a)) { lat = b; lon = a; }
    if (Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
    return { lat: lat, lon: lon };
  }

  function format(lat, lon) { return lat.toFixed(5) + ", " + lon.toFixed(5); }

  var pinIcon = L.divIcon({ className: "pin pin-incident", html: "<span></span>", iconSize: [28, 28], iconAnchor: [14, 28] });

  function setPoint(lat, lon, opts) {
    opts = opts || {};
    var latlng = L.latLng(lat, lon);
    if (!marker) {
      marker = L.marker(latlng, { icon: pinIcon, draggable: true, keyboard: false, autoPan: true }).addTo(map);
      marker.on("dragend", function () {
        var p = marker.getLatLng();
        setPoint(p.lat, p.lng, { keepView: true });
      });
    } else {
      marker.setLatLng(latlng);
    }
    if (opts.writeField !== false) field.value = format(lat, lon);
    status.textContent = status.dataset.readText + " " + lat.toFixed(5) + "° N, " + lon.toFixed(5) + "° E";
    status.className = "coord-status ok";
    if (opts.zoom) map.setView(latlng, opts.zoom);
    else if (!opts.keepView && !map.getBounds().pad(-0.1).contains(latlng)) map.panTo(latlng);
    regionCheck(lat, lon);
  }

  // --- Region check: the server's verdict (region, shore tolerance) before submit ------------
  var regionWarning = document.getElementById("region-warning");
  var regionTimer = null;
  var regionSeq = 0;

  function regionCheck(lat, lon) {
    window.clearTimeout(regionTimer);
    regionTimer = window.setTimeout(function () {
      var mine = ++regionSeq;
      var url = status.dataset.checkUrl + "?location=" + encodeURIComponent(format(lat, lon));
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (verdict) {
          if (mine !== regionSeq || !verdict) return;
          regionWarning.textContent = verdict.accepted ? "" : verdict.message;
          regionWarning.hidden = verdict.accepted;
        })
        .catch(function () {});
    }, 250);
  }

  map.on("click", function (e) { setPoint(e.latlng.lat, e.latlng.lng, { keepView: true }); });

  field.addEventListener("input", function () {
    var p = parse(field.value);
    if (p) setPoint(p.lat, p.lon, { writeField: false, zoom: Math.max(map.getZoom(), 14) });
    else if (field.value.trim()) {
      status.textContent = status.dataset.invalidText;
      status.className = "coord-status bad";
    } else {
      status.textContent = "";
    }
  });

  var initial = parse(field.value);
  if (initial) setPoint(initial.lat, initial.lon, { writeField: false, zoom: 14 });

  // --- Place search -------------------------------------------------------------------------
  var q = document.getElementById("place-q");
  var list = document.getElementById("place-results");
  var results = [];
  var active = -1;
  var timer = null;
  var seq = 0;

  var addressField = document.getElementById("id_address");
  var filledAddress = null;  // what the search last wrote into the address field
  var fallback = false;

  // A new place or street makes an address the search filled in stale; a typed one stays.
  function clearFilledAddress() {
    if (addressField && filledAddress !== null && addressField.value === filledAddress) addressField.value = "";
    filledAddress = null;
  }

  function note(text, className) {
    var li = document.createElement("li");
    li.className = className;
    li.textContent = text;
    list.appendChild(li);
  }

  function render() {
    list.innerHTML = "";
    if (fallback) note(q.dataset.fallbackText, "none");
    if (!results.length) {
      if (q.value.trim()) {
        note(q.dataset.noneText, "none");
        list.hidden = false;
      } else {
        list.hidden = !fallback;
      }
      return;
    }
    results.forEach(function (r, i) {
      var li = document.createElement("li");
      li.setAttribute("role", "option");
      li.id = "place-option-" + i;
      li.setAttribute("aria-selected", i === active ? "true" : "false");
      li.className = (i === active ? "active " : "") + (r.in_service_region ? "" : "outside");
      var kind = document.createElement("span");
      kind.className = "place-kind place-kind-" + r.kind;
      kind.textContent = q.dataset["kind" + r.kind.charAt(0).toUpperCase() + r.kind.slice(1)] || "";
      var name = document.createElement("strong");
      name.textContent = r.label;
      var where = document.createElement("span");
      where.className = "muted";
      where.textContent = " " + (r.municipality || "") + (r.in_service_region ? "" : " · " + q.dataset.outsideText);
      li.appendChild(kind);
      li.appendChild(name);
      li.appendChild(where);
      if (r.synthetic) {
        var tag = document.createElement("span");
        tag.className = "synthetic-tag";
        tag.textContent = q.dataset.syntheticText;
        li.appendChild(tag);
      }
      li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(i); });
      list.appendChild(li);
    });
    q.setAttribute("aria-activedescendant", active >= 0 ? "place-option-" + active : "");
    q.setAttribute("aria-expanded", "true");
    list.hidden = false;
  }

  function choose(i) {
    var r = results[i];
    if (!r) return;
    if (r.kind === "street") {
      // As DAWA's autocomplete did: the street stays in the box, the caret after it, for the
      // house number; the pin goes to the street meanwhile.
      var comma = r.label.indexOf(",");
      var street = comma >= 0 ? r.label.slice(0, comma) : r.label;
      q.value = street + " " + (comma >= 0 ? r.label.slice(comma) : "");
      q.focus();
      q.setSelectionRange(street.length + 1, street.length + 1);
      setPoint(r.lat, r.lon, { zoom: 16 });
      clearFilledAddress();
      search();
      return;
    }
    setPoint(r.lat, r.lon, { zoom: r.kind === "address" ? 17 : r.kind === "postcode" ? 13 : 14 });
    if (r.kind === "address" && addressField) {
      addressField.value = r.address;
      filledAddress = r.address;
    } else {
      clearFilledAddress();
    }
    q.value = r.label;
    list.hidden = true;
  }

  function search() {
    var text = q.value.trim();
    var mine = ++seq;
    if (!text) { results = []; render(); return; }
    fetch(q.dataset.url + "?q=" + encodeURIComponent(text), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { results: [] }; })
      .then(function (data) {
        if (mine !== seq) return;
        results = data.results || [];
        fallback = !!data.addresses_fallback;
        active = results.length ? 0 : -1;
        render();
      })
      .catch(function () {});
  }

  q.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(search, 200);
  });
  q.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown") { active = Math.min(active + 1, results.length - 1); render(); e.preventDefault(); }
    else if (e.key === "ArrowUp") { active = Math.max(active - 1, 0); render(); e.preventDefault(); }
    else if (e.key === "Enter") { e.preventDefault(); if (results.length) choose(Math.max(active, 0)); }
    else if (e.key === "Escape") { list.hidden = true; }
  });
  q.addEventListener("blur", function () { window.setTimeout(function () { list.hidden = true; q.setAttribute("aria-expanded", "false"); }, 150); });
  q.addEventListener("focus", function () { if (results.length) list.hidden = false; });

  // --- Exclusions -----------------------------------------------------------------------------
  var form = document.getElementById("incident-form");
  var fieldset = document.getElementById("exclusions");
  var warning = document.getElementById("exclusion-warning");
  var button = document.getElementById("submit-incident");

  function updateExclusions() {
    var any = fieldset.querySelectorAll("input[type=checkbox]:checked").length > 0;
    warning.hidden = !any;
    fieldset.classList.toggle("excluded", any);
    button.textContent = any ? button.dataset.textExcluded : button.dataset.textAlert;
    button.classList.toggle("btn-secondary", any);
    button.classList.toggle("btn-primary", !any);
  }
  fieldset.addEventListener("change", updateExclusions);
  updateExclusions();

  form.addEventListener("submit", function () {
    button.disabled = true;
    window.setTimeout(function () { button.disabled = false; }, 5000);
  });
})();

/*
 * The live incident page. The server renders the board (amk.console.board.incident_board) into
 * the page for the first paint, with the same data as JSON; this script draws the map and
 * re-renders the board from board.json every couple of seconds (sooner while the alerts are
 * still going out), building the same markup as the templates in amk/templates/amk/board/.
 * Data is only ever put into the page as text (textContent), never as HTML.
 */
(function () {
  "use strict";

  var root = document.getElementById("board");
  var T = JSON.parse(document.getElementById("board-i18n").textContent);
  var config = HjMap.readConfig("map-config");
  var url = root.dataset.boardUrl;
  var refreshMs = parseInt(root.dataset.refreshMs, 10) || 2000;
  var wasOpen = root.dataset.open === "1";
  var standDownUrl = root.dataset.standDownUrl || "";
  var roleUrl = root.dataset.roleUrl || "";
  var csrfInput = document.querySelector("#actions [name=csrfmiddlewaretoken]");
  var board = JSON.parse(document.getElementById("board-data").textContent);
  // While the first wave is still going out, look again soon rather than in two seconds.
  var PENDING_REFRESH_MS = 500;

  // --- tiny DOM helpers ---------------------------------------------------------------------
  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "class") el.className = attrs[k];
      else if (k === "text") el.textContent = attrs[k];
      else el.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined || c === "") return;
      el.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    });
    return el;
  }
  function replace(el, children) {
    while (el.firstChild) el.removeChild(el.firstChild);
    children.forEach(function (c) { el.appendChild(c); });
  }
  function km(m) {
    if (m === null || m === undefined) return T.unknownDistance;
    if (m < 1000) return m + " m";
    return (m / 1000).toFixed(1).replace(".", ",") + " km";
  }
  function age(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) return seconds + " " + T.seconds;
    if (seconds < 3600) return Math.floor(seconds / 60) + " " + T.minutes + " " + (seconds % 60 < 10 ? "0" : "") + (seconds % 60) + " " + T.seconds;
    var m = Math.floor((seconds % 3600) / 60);
    return Math.floor(seconds / 3600) + " " + T.hours + " " + (m < 10 ? "0" : "") + m + " " + T.minutes;
  }
  function badge(state, label, extra) {
    return h("span", { class: "badge state-" + state + (extra ? " " + extra : ""), text: label });
  }

  // --- map ----------------------------------------------------------------------------------
  var loc = board.incident.location;
  var map = HjMap.create(document.getElementById("map"), Object.assign({}, config, { center: loc, zoom: 14 }));
  window.hjMap = map;
  var incidentIcon = L.divIcon({ className: "pin pin-incident", html: "<span></span>", iconSize: [28, 28], iconAnchor: [14, 28] });
  L.marker(loc, { icon: incidentIcon, keyboard: false, zIndexOffset: 1000 }).addTo(map).bindTooltip(h("span", { text: T.patient }));
  L.circle(loc, { radius: 2000, color: "#64748b", weight: 1, dashArray: "2 6", fill: false, interactive: false }).addTo(map);
  var radiusCircle = null;
  var aedLayer = L.layerGroup().addTo(map);
  var responderLayer = L.layerGroup().addTo(map);
  var aedSignature = null;
  var responderSignature = null;
  map.fitBounds(L.latLng(loc).toBounds(4200));

  function renderMap(b) {
    var r = b.incident.radius_m;
    if (r && (!radiusCircle || radiusCircle.getRadius() !== r)) {
      if (radiusCircle) radiusCircle.remove();
      radiusCircle = L.circle(loc, { radius: r, color: "#b3261e", weight: 1.5, opacity: 0.5, dashArray: "6 6", fill: true, fillOpacity: 0.03, interactive: false }).addTo(map);
    }
    var aSig = JSON.stringify(b.aeds.map(function (a) { return [a.id, a.availability, a.claimed]; }));
    if (aSig !== aedSignature) {
      aedSignature = aSig;
      aedLayer.clearLayers();
      b.aeds.forEach(function (a) {
        var icon = L.divIcon({ className: "aed-icon aed-" + a.availability + (a.claimed ? " aed-claimed" : ""), html: "<span>+</span>", iconSize: [18, 18], iconAnchor: [9, 9] });
        var popup = h("div", { class: "popup" }, [
          h("strong", { text: a.name }), h("br"), a.address, a.address ? h("br") : null,
          a.placement, a.placement ? h("br") : null,
          T[a.availability] + " · " + a.opening_hours + " · " + km(a.distance_m),
          a.claimed ? h("div", { class: "tag tag-green", text: T.claimed }) : null,
          a.expired || a.expires_soon ? h("div", { class: a.expired ? "tag tag-red" : "tag tag-amber", text: (a.expired ? T.expiredOn : T.expiresOn) + " " + a.next_expiry }) : null,
        ]);
        L.marker(a.location, { icon: icon, keyboard: false }).bindPopup(popup).addTo(aedLayer);
      });
    }
    var responders = b.alerts.filter(function (a) { return a.responding && a.position; });
    var rSig = JSON.stringify(responders.map(function (a) { return [a.id, a.position, a.state]; }));
    if (rSig !== responderSignature) {
      responderSignature = rSig;
      responderLayer.clearLayers();
      responders.forEach(function (a) {
        // Names are the volunteers' own text: into the page as text nodes only.
        var initial = h("span", { text: a.name ? a.name.charAt(0).toUpperCase() : "•" });
        var icon = L.divIcon({ className: "responder-icon role-" + (a.role || "none"), html: initial, iconSize: [26, 26], iconAnchor: [13, 13] });
        var tooltip = h("span", { text: a.display_name + " · " + a.state_label + " · " + (a.position_source === "live" ? T.live : T.atAlert) });
        L.marker(a.position, { icon: icon, keyboard: false, zIndexOffset: 500 })
          .bindTooltip(tooltip)
          .addTo(responderLayer);
      });
    }
  }

  // --- board --------------------------------------------------------------------------------
  // A message's chip opens its detail: every hand-over to the provider and what came of it.
  // Which details are open is kept across the re-render of each poll.
  var openDetails = {};
  function deliveryDetail(a, d) {
    var key = a.id + "-" + d.channel + "-" + d.kind;
    var chip = h("summary", { class: "chip delivery-" + d.state, title: d.kind_label + (d.error ? ": " + d.error : "") },
      [d.channel_label + " " + d.state_label + (d.kind !== "alert" ? " (" + d.kind_label + ")" : "") + (d.error ? ": " + d.error : "")]);
    var attempts = d.attempts.length ? h("ol", { class: "attempts" }, d.attempts.map(function (t) {
      return h("li", { class: "attempt attempt-" + (t.outcome || "in-flight") }, [
        h("strong", { text: "#" + t.number }), " ",
        h("time", { datetime: t.handed_over_at, text: t.handed_over_local }), " · ",
        t.outcome_label,
        t.duration_ms !== null ? " · " + t.duration_ms + " ms" : null,
        t.provider_message_id ? h("span", { class: "muted", text: " · " + t.provider_message_id }) : null,
        t.error ? h("div", { class: "attempt-error", text: t.error }) : null,
      ]);
    })) : h("p", { class: "muted", text: T.notHandedOver });
    var detail = h("details", { class: "delivery", "data-delivery": key }, [
      chip, h("div", { class: "delivery-detail" }, [h("div", { class: "small muted", text: T.attempts }), attempts]),
    ]);
    if (openDetails[key]) detail.open = true;
    detail.addEventListener("toggle", function () {
      if (detail.open) openDetails[key] = true;
      else delete openDetails[key];
    });
    return detail;
  }

  function standDownForm(a) {
    if (!a.can_stand_down || !standDownUrl || !csrfInput) return "";
    var who = a.name || a.label;
    return h("form", { method: "post", class: "stand-down-form", action: standDownUrl.replace("/alerts/0/", "/alerts/" + a.id + "/"),
                       "data-confirm": T.standDownConfirm.replace("{who}", function () { return who; }) }, [
      h("input", { type: "hidden", name: "csrfmiddlewaretoken", value: csrfInput.value }),
      h("button", { type: "submit", class: "btn btn-danger btn-small", text: T.standDown }),
    ]);
  }

  function arrival(a) {
    if (a.arrival_min === null || a.arrival_min === undefined) return "–";
    return a.arrival_min === 0 ? T.arrived : T.arrivalIn.replace("{n}", function () { return a.arrival_min; });
  }

  // The dispatcher's choice of role: straight to the patient, or one of the AEDs open now.
  function roleForm(a, aeds) {
    if (!a.can_set_role || !roleUrl || !csrfInput) return "";
    var options = [h("option", { value: "cpr", text: T.roleDirect })];
    aeds.forEach(function (aed) {
      if (aed.availability !== "available") return;
      options.push(h("option", { value: "aed:" + aed.id, text: T.roleFetch + ": " + aed.name + " (" + km(aed.distance_m) + ")" }));
    });
    var select = h("select", { name: "role_aed", "aria-label": T.setRole }, options);
    select.value = a.role === "aed" && a.aed_id ? "aed:" + a.aed_id : "cpr";
    return h("form", { method: "post", class: "role-form", action: roleUrl.replace("/alerts/0/", "/alerts/" + a.id + "/") }, [
      h("input", { type: "hidden", name: "csrfmiddlewaretoken", value: csrfInput.value }),
      select, " ",
      h("button", { type: "submit", class: "btn btn-plain btn-small", text: T.setRole }),
    ]);
  }

  // A count in the header filters the list of all alerts to the alerts it counts.
  var filter = null;
  function applyFilter() {
    document.querySelectorAll("#alerts tr[data-counted]").forEach(function (row) {
      row.hidden = filter !== null && row.dataset.counted.split(" ").indexOf(filter) === -1;
    });
    root.querySelectorAll("[data-filter]").forEach(function (tile) {
      tile.setAttribute("aria-pressed", tile.dataset.filter === filter ? "true" : "false");
    });
    document.getElementById("filter-clear").hidden = filter === null;
  }
  root.querySelectorAll("[data-filter]").forEach(function (tile) {
    tile.addEventListener("click", function () {
      filter = filter === tile.dataset.filter ? null : tile.dataset.filter;
      applyFilter();
    });
  });
  document.getElementById("filter-clear").addEventListener("click", function () { filter = null; applyFilter(); });

  function render(b) {
    var inc = b.incident;
    root.dataset.state = inc.state;
    var state = root.querySelector("[data-field=state]");
    state.className = "badge badge-xl state-" + inc.state;
    state.textContent = inc.state_label;
    var wave = root.querySelector("[data-field=wave]");
    wave.textContent = inc.wave_label;
    wave.classList.toggle("wave-extra", inc.extra_wave);

    replace(document.getElementById("warnings"), b.warnings.map(function (w) {
      return h("div", { class: "alert-box alert-danger warning-big", text: "⚠ " + w });
    }));

    Object.keys(b.counts).forEach(function (k) {
      root.querySelectorAll("[data-count=" + k + "]").forEach(function (el) { el.textContent = b.counts[k]; });
    });

    var escalate = document.getElementById("escalate-form");
    if (escalate) escalate.hidden = !inc.can_request_wave;

    // The responders are the alerts counted as accepted: the table has as many rows as the count.
    var responders = b.alerts.filter(function (a) { return a.accepted; });
    replace(document.getElementById("responders"), responders.length ? responders.map(function (a) {
      return h("tr", { class: "alert-row", "data-alert": a.id }, [
        h("td", {}, [h("strong", { text: a.name || a.label }), " ", h("span", { class: "muted small", text: a.label })]),
        h("td", {}, [a.phone ? h("a", { class: "phone", href: "tel:" + a.phone, text: a.phone }) : "–"]),
        h("td", {}, [a.role === "aed"
          ? h("span", { class: "tag tag-amber", text: T.fetch + ": " + (a.aed || "") })
          : h("span", { class: "tag tag-green", text: a.role_label }),
          a.role_by_dispatcher ? h("span", { class: "muted small", text: " " + T.byDispatcher }) : null,
          roleForm(a, b.aeds)]),
        h("td", {}, [badge(a.state, a.state_label, "badge-md")]),
        h("td", { class: "num", text: arrival(a) }),
        h("td", { class: "num", text: km(a.distance_m) }),
        h("td", { class: "muted", text: a.updated_local }),
        h("td", { class: "row-action" }, [standDownForm(a)]),
      ]);
    }) : [h("tr", {}, [h("td", { colspan: "8", class: "empty", text: T.noResponders })])]);

    replace(document.getElementById("alerts"), b.alerts.length ? b.alerts.map(function (a) {
      return h("tr", { class: "alert-row", "data-alert": a.id, "data-counted": a.counted.join(" ") }, [
        h("td", { text: a.display_name }),
        h("td", { class: "small", text: a.pool_label }),
        h("td", { text: a.wave }),
        h("td", { class: "num", text: km(a.distance_m) }),
        h("td", {}, [badge(a.state, a.state_label)]),
        h("td", { class: "channels" }, a.deliveries.map(function (d) { return deliveryDetail(a, d); })),
        h("td", { class: "muted small", text: a.updated_local }),
      ]);
    }) : [h("tr", {}, [h("td", { colspan: "7", class: "empty", text: T.noAlerts })])]);
    applyFilter();

    replace(document.getElementById("timeline"), b.events.length ? b.events.map(function (e) {
      var time = h("time", { datetime: e.time, text: e.time_local });
      if (e.first_time_local) time.title = e.first_time_local + "–" + e.time_local;
      return h("li", { class: "event event-" + e.kind + (e.highlight ? " event-highlight" : "") }, [
        time,
        h("span", { class: "msg", text: e.message }),
        e.members ? h("span", { class: "members", text: e.members }) : null,
        e.actor ? h("span", { class: "actor", text: e.actor }) : null,
      ]);
    }) : [h("li", { class: "empty", text: T.none })]);

    replace(document.getElementById("aeds"), b.aeds.length ? b.aeds.map(function (a) {
      return h("li", { class: "aed aed-row-" + a.availability }, [
        h("span", { class: "sq sq-" + a.availability }),
        h("span", { class: "aed-name" }, [h("strong", { text: a.name }), " ", h("span", { class: "muted small", text: km(a.distance_m) })]),
        h("span", { class: "aed-state small", text: T[a.availability] + (a.claimed ? " · " + T.claimed : "") + (a.expires_soon ? " · " + T.expiresOn + " " + a.next_expiry : "") + (a.synthetic ? " · " + T.synthetic : "") }),
      ]);
    }) : [h("li", { class: "empty", text: T.noAeds })]);

    renderMap(b);
  }

  // The age ticks every second between polls.
  var created = Date.parse(board.incident.created_at);
  var offset = Date.parse(board.generated_at) - Date.now();
  function tickAge() {
    var field = root.querySelector("[data-field=age]");
    if (!field || board.incident.closed_at) return;
    field.textContent = age((Date.now() + offset - created) / 1000);
  }

  function nextPollMs() {
    return board.incident.state === "pending_dispatch" ? PENDING_REFRESH_MS : refreshMs;
  }

  function poll() {
    if (document.hidden) return window.setTimeout(poll, refreshMs);
    // A poll is not activity: it does not hold off the idle time-out (amk.console.sessions).
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json", "X-Console-Poll": "1" } })
      .then(function (r) {
        if (r.redirected || r.status === 403 || r.status === 401) { window.location.reload(); throw new Error("auth"); }
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (b) {
        board = b;
        offset = Date.parse(b.generated_at) - Date.now();
        document.getElementById("board-stale").hidden = true;
        if (wasOpen && !b.incident.is_open) { window.location.reload(); return; }
        render(b);
      })
      .catch(function () { document.getElementById("board-stale").hidden = false; })
      .then(function () { window.setTimeout(poll, nextPollMs()); });
  }

  // Every form that asks first (close, cancel, stand one responder down), also those drawn later.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) e.preventDefault();
  });

  render(board);
  tickAge();
  window.setInterval(tickAge, 1000);
  window.setTimeout(poll, nextPollMs());
})();

/*
 * Keeps a server-rendered fragment fresh: every element with data-refresh-url is re-fetched
 * every data-refresh-ms and its content replaced. Rows with data-href are clickable.
 */
(function () {
  "use strict";

  function refresh(el) {
    var status = document.querySelector("[data-refresh-status]");
    var ms = parseInt(el.dataset.refreshMs, 10) || 4000;
    function tick() {
      if (document.hidden) return schedule();
      fetch(el.dataset.refreshUrl, { credentials: "same-origin", headers: { "X-Requested-With": "fetch", "X-Console-Poll": "1" } })
        .then(function (r) {
          if (r.redirected || r.status === 403 || r.status === 401) { window.location.reload(); return null; }
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.text();
        })
        .then(function (html) {
          if (html === null) return;
          el.innerHTML = html;
          el.classList.remove("stale");
          if (status) status.textContent = "";
        })
        .catch(function () {
          el.classList.add("stale");
          if (status) status.textContent = el.dataset.staleText || "⚠";
        })
        .then(schedule);
    }
    function schedule() { window.setTimeout(tick, ms); }
    schedule();
  }

  document.addEventListener("click", function (e) {
    if (e.target.closest("a, button, input, form")) return;
    var row = e.target.closest("tr[data-href]");
    if (row) window.location.href = row.dataset.href;
  });

  document.querySelectorAll("[data-refresh-url]").forEach(refresh);
})();

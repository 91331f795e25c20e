/*
 * The idle warning (amk.console.sessions): the board's polling does not keep a session alive,
 * so before the idle time-out this shows a warning with a countdown and a button that keeps the
 * session. Another tab's activity counts: the server is asked before warning and before leaving.
 */
(function () {
  "use strict";

  var box = document.getElementById("session-warning");
  if (!box) return;
  var url = box.dataset.statusUrl;
  var warningMs = (parseInt(box.dataset.warningS, 10) || 120) * 1000;
  var deadline = Date.now() + (parseInt(box.dataset.remainingS, 10) || 0) * 1000;
  var left = box.querySelector("[data-field=session-left]");
  var form = box.querySelector("form");
  var timer = null;
  var ticker = null;

  function mmss(ms) {
    var s = Math.max(0, Math.ceil(ms / 1000));
    return Math.floor(s / 60) + ":" + (s % 60 < 10 ? "0" : "") + (s % 60);
  }
  function gone() { window.location.reload(); }  // the server sends the login page, saying why
  function hide() {
    box.hidden = true;
    if (ticker) { window.clearInterval(ticker); ticker = null; }
  }
  function show() {
    box.hidden = false;
    left.textContent = mmss(deadline - Date.now());
    if (!ticker) ticker = window.setInterval(function () {
      left.textContent = mmss(deadline - Date.now());
      if (Date.now() >= deadline) { hide(); check(); }
    }, 1000);
  }
  function schedule() {
    if (timer) window.clearTimeout(timer);
    timer = window.setTimeout(check, Math.max(1000, deadline - warningMs - Date.now()));
  }
  function update(status) {
    deadline = Date.now() + status.idle_remaining_s * 1000;
    if (status.idle_remaining_s <= 0) return gone();
    if (deadline - Date.now() <= warningMs) show();
    else { hide(); schedule(); }
  }
  function check() {
    fetch(url, { credentials: "same-origin", headers: { "X-Console-Poll": "1", Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401 || r.redirected) { gone(); return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (status) { if (status) update(status); else if (Date.now() >= deadline) gone(); else schedule(); })
      .catch(function () { schedule(); });
  }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    fetch(url, { method: "POST", credentials: "same-origin", body: new FormData(form), headers: { Accept: "application/json" } })
      .then(function (r) { if (r.status === 401) { gone(); return null; } return r.json(); })
      .then(function (status) { if (status) update(status); });
  });
  schedule();
})();

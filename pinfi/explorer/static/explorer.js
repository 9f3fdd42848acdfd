// PinFi explorer: shipped with the package (no CDN). Refreshes the sync line every few seconds.
(function () {
  "use strict";
  var sync = document.getElementById("sync");
  if (!sync || !window.fetch) { return; }
  function set(k, v) {
    var el = sync.querySelector('[data-k="' + k + '"]');
    if (el) { el.textContent = String(v); el.setAttribute("data-v", String(v)); }
  }
  setInterval(function () {
    fetch("/api/status").then(function (r) { return r.json(); }).then(function (s) {
      set("indexed_block", s.indexed_block); set("head", s.head); set("lag", s.lag);
      sync.className = s.lag > 5 ? "lagging" : "synced";
    }).catch(function () {});
  }, 5000);
})();

// A live countdown to the deadline, in plain words. Progressive: the page reads fine without it.
// The words come from the page (data-left, data-passed, data-over, data-under: translated by Django)
// and the numbers with their units from the browser's Intl in the page's language (<html lang>).
(function () {
  var lang = document.documentElement.lang || "en";
  function unit(n, name) {
    try {
      return new Intl.NumberFormat(lang, { style: "unit", unit: name, unitDisplay: "long" }).format(n);
    } catch (e) { return n + " " + name + (n === 1 ? "" : "s"); }
  }
  function list(parts) {
    try { return new Intl.ListFormat(lang, { style: "long", type: "unit" }).format(parts); }
    catch (e) { return parts.join(", "); }
  }
  function render(el) {
    var ms = new Date(el.dataset.deadline) - new Date();
    if (ms <= 0) { el.textContent = el.dataset.passed || "The deadline has passed."; return; }
    var days = Math.floor(ms / 86400000), hours = Math.floor(ms % 86400000 / 3600000),
        minutes = Math.floor(ms % 3600000 / 60000), parts = [];
    if (days) parts.push(unit(days, "day"));
    parts.push(unit(hours, "hour"), unit(minutes, "minute"));
    el.textContent = (el.dataset.left || "{duration} left.").replace("{duration}", list(parts));
  }
  document.querySelectorAll("[data-deadline]").forEach(function (el) {
    render(el); setInterval(function () { render(el); }, 30000);
  });
})();

// The call's three-minute timer, counted from the stored start (it survives a reload).
(function () {
  document.querySelectorAll("[data-started]").forEach(function (el) {
    function render() {
      var seconds = Math.max(0, Math.floor((new Date() - new Date(el.dataset.started)) / 1000)),
          left = 180 - seconds, sign = left < 0 ? "-" : "", abs = Math.abs(left),
          clock = sign + Math.floor(abs / 60) + ":" + String(abs % 60).padStart(2, "0");
      el.textContent = (left < 0 ? (el.dataset.over || "Timer: {time} over three minutes")
                                 : (el.dataset.under || "Timer: {time} left of three minutes")).replace("{time}", clock);
    }
    render(); setInterval(render, 1000);
  });
})();

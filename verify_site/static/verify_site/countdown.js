// A live countdown to the deadline, in plain words. Progressive: the page reads fine without it.
(function () {
  function render(el) {
    var ms = new Date(el.dataset.deadline) - new Date();
    if (ms <= 0) { el.textContent = "The deadline has passed."; return; }
    var days = Math.floor(ms / 86400000), hours = Math.floor(ms % 86400000 / 3600000),
        minutes = Math.floor(ms % 3600000 / 60000);
    el.textContent = (days ? days + (days === 1 ? " day, " : " days, ") : "") + hours + (hours === 1 ? " hour, " : " hours, ")
      + minutes + (minutes === 1 ? " minute left." : " minutes left.");
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
          left = 180 - seconds, sign = left < 0 ? "-" : "", abs = Math.abs(left);
      el.textContent = "Timer: " + sign + Math.floor(abs / 60) + ":" + String(abs % 60).padStart(2, "0")
        + (left < 0 ? " over three minutes" : " left of three minutes");
    }
    render(); setInterval(render, 1000);
  });
})();

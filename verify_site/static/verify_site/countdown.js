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

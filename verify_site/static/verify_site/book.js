// The "Pick a time" page, enhanced. Without this script the page still works: each group of times
// is its own form, and CSS alone shows a group's confirm button once one of its times is chosen.
// With it: one time is chosen on the whole page, the confirm button names it ("Book Wed 2 Dec,
// 14:15 (Sao Paulo)"), screen readers hear the choice, and a new day's times get the focus.
(function () {
  document.documentElement.classList.add("js");

  document.addEventListener("change", function (event) {
    var input = event.target, form = input.closest && input.closest("form.pick");
    if (!form || input.name !== "starts_at" || !input.checked) return;
    document.querySelectorAll("form.pick input[name=starts_at]:checked").forEach(function (other) {
      if (other !== input) other.checked = false;
    });
    var label = input.parentNode.querySelector(".w") || input.parentNode.querySelector(".t"),
        when = form.dataset.when.replace("{time}", label.textContent.trim()),
        times = document.getElementById("times"), status = document.getElementById("chosen");
    form.querySelector(".confirm button").textContent = times.dataset.confirm.replace("{when}", when);
    if (status) status.textContent = status.dataset.template.replace("{when}", when);
  });

  // A day chip swapped the times in (htmx): take the reader to that day's heading.
  document.addEventListener("htmx:afterSettle", function (event) {
    var from = event.detail.requestConfig && event.detail.requestConfig.elt;
    var heading = document.getElementById("day-heading");
    if (from && from.closest && from.closest(".days") && heading) {
      heading.focus({ preventScroll: true });
      heading.scrollIntoView({ block: "start" });
    }
  });
})();

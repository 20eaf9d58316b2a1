// "Copy" buttons: <button data-copy-target="<input id>" data-copied="Copied">. No inline script (CSP).
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copyTarget);
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
  } catch (_) {
    document.execCommand("copy"); // older browsers, or a page not in a secure context
  }
  button.textContent = button.dataset.copied || "Copied";
});

// Applies the saved or preferred colour theme before the first paint.
(function () {
  var t = null;
  try { t = localStorage.getItem("saker-theme"); } catch (e) { /* storage disabled */ }
  if (t !== "light" && t !== "dark") {
    t = window.matchMedia && window.matchMedia("(prefers-color-scheme: light)").matches ? "light" : "dark";
  }
  document.documentElement.setAttribute("data-theme", t);
})();

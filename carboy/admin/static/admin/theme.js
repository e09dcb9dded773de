// Applies the admin theme chosen with the toggle before the page is painted (no flash).
(function () {
  try {
    var theme = localStorage.getItem("carboy-admin-theme");
    if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
  } catch (e) { /* storage refused: the system's choice applies */ }
})();

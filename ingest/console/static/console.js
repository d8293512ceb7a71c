// The console's only script besides htmx: the light/dark switch (remembered in this
// browser) and the confirmation on buttons that say data-confirm.
(function () {
  var root = document.documentElement;
  var saved = localStorage.getItem("waitpoint-theme");
  if (saved) root.setAttribute("data-theme", saved);
  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-theme-toggle]");
    if (target) {
      var dark = root.getAttribute("data-theme") === "dark" ||
        (!root.getAttribute("data-theme") && matchMedia("(prefers-color-scheme: dark)").matches);
      var next = dark ? "light" : "dark";
      root.setAttribute("data-theme", next);
      localStorage.setItem("waitpoint-theme", next);
    }
    var confirming = event.target.closest("[data-confirm]");
    if (confirming && !confirm(confirming.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });
})();

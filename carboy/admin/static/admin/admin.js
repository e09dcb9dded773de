// carboy admin: the theme toggle, select-all, autocomplete picking and the dashboard chart.
(function () {
  "use strict";
  var root = document.documentElement;

  function isDark() {
    if (root.dataset.theme) return root.dataset.theme === "dark";
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  }

  function themeToggle() {
    var button = document.getElementById("theme-toggle");
    if (!button) return;
    var show = function () {
      var dark = isDark();
      // The label stays "Dark theme"; aria-pressed says whether it is on.
      button.setAttribute("aria-pressed", dark ? "true" : "false");
    };
    show();
    button.addEventListener("click", function () {
      var next = isDark() ? "light" : "dark";
      root.dataset.theme = next;
      try { localStorage.setItem("carboy-admin-theme", next); } catch (e) { /* not kept */ }
      show();
      document.dispatchEvent(new CustomEvent("admin:theme"));
    });
  }

  function selectAll() {
    var all = document.getElementById("select-all");
    if (!all) return;
    var boxes = function () { return document.querySelectorAll("input.select-row"); };
    all.addEventListener("change", function () {
      boxes().forEach(function (box) { box.checked = all.checked; });
    });
    document.addEventListener("change", function (event) {
      if (!event.target.classList || !event.target.classList.contains("select-row")) return;
      var list = Array.prototype.slice.call(boxes());
      all.checked = list.length > 0 && list.every(function (box) { return box.checked; });
    });
  }

  function autocomplete() {
    document.addEventListener("click", function (event) {
      var option = event.target.closest && event.target.closest("[data-autocomplete] [role=option]");
      if (option) pick(option);
    });
    document.addEventListener("keydown", function (event) {
      var box = event.target.closest && event.target.closest("[data-autocomplete]");
      if (!box) return;
      var options = Array.prototype.slice.call(box.querySelectorAll("[role=option]"));
      var index = options.indexOf(document.activeElement);
      if (event.key === "ArrowDown" && options.length) {
        event.preventDefault();
        options[Math.min(index + 1, options.length - 1)].focus();
      } else if (event.key === "ArrowUp" && options.length) {
        event.preventDefault();
        if (index <= 0) box.querySelector("[role=combobox]").focus();
        else options[index - 1].focus();
      } else if (event.key === "Enter" && index >= 0) {
        event.preventDefault();
        pick(options[index]);
      } else if (event.key === "Escape") {
        close(box);
        box.querySelector("[role=combobox]").focus();
      }
    });
    document.addEventListener("htmx:afterSwap", function (event) {
      var box = event.target.closest && event.target.closest("[data-autocomplete]");
      if (box) box.querySelector("[role=combobox]").setAttribute("aria-expanded", "true");
    });
    document.addEventListener("input", function (event) {
      var box = event.target.closest && event.target.closest("[data-autocomplete]");
      if (box && event.target.getAttribute("role") === "combobox" && !event.target.value) {
        box.querySelector("[data-autocomplete-value]").value = "";
      }
    });
  }

  function close(box) {
    var results = box.querySelector(".autocomplete-results");
    if (results) results.innerHTML = "";
    box.querySelector("[role=combobox]").setAttribute("aria-expanded", "false");
  }

  function pick(option) {
    var box = option.closest("[data-autocomplete]");
    box.querySelector("[data-autocomplete-value]").value = option.dataset.value;
    var input = box.querySelector("[role=combobox]");
    input.value = option.dataset.label;
    close(box);
    input.focus();
  }

  function chart() {
    var holder = document.getElementById("chart");
    if (!holder || !window.fetch) return;
    fetch(holder.dataset.chartUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) draw(holder, data); });
  }

  var palette = ["#1c6fd1", "#d1495b", "#2a9d8f", "#e9a23b", "#7b5ea7", "#5c8001", "#c05299", "#3d5a80"];

  function draw(holder, data) {
    table(data);
    if (!window.uPlot || !data.series.length) return;
    var xs = data.days.map(function (day) { return Date.parse(day + "T00:00:00Z") / 1000; });
    var make = function () {
      holder.innerHTML = "";
      var text = getComputedStyle(root).getPropertyValue("--text").trim() || "#1b1f24";
      var grid = getComputedStyle(root).getPropertyValue("--border").trim() || "#c9ced6";
      var axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } };
      var options = {
        width: Math.max(holder.clientWidth, 280),
        height: 240,
        scales: { x: { time: true } },
        axes: [axis, Object.assign({}, axis, { size: 50 })],
        series: [{}].concat(data.series.map(function (s, i) {
          return { label: s.name, stroke: palette[i % palette.length], width: 2 };
        }))
      };
      new window.uPlot(options, [xs].concat(data.series.map(function (s) { return s.counts; })), holder);
    };
    make();
    document.addEventListener("admin:theme", make);
    var timer;
    window.addEventListener("resize", function () { clearTimeout(timer); timer = setTimeout(make, 150); });
  }

  function table(data) {
    var place = document.getElementById("chart-table");
    if (!place) return;
    var t = document.createElement("table");
    var head = t.createTHead().insertRow();
    var th = document.createElement("th");
    th.scope = "col"; th.textContent = "Day"; head.appendChild(th);
    data.series.forEach(function (s) {
      var cell = document.createElement("th");
      cell.scope = "col"; cell.textContent = s.name; head.appendChild(cell);
    });
    var body = t.createTBody();
    data.days.forEach(function (day, i) {
      var row = body.insertRow();
      var heading = document.createElement("th");
      heading.scope = "row"; heading.textContent = day; row.appendChild(heading);
      data.series.forEach(function (s) { row.insertCell().textContent = s.counts[i]; });
    });
    place.appendChild(t);
  }

  function start() { themeToggle(); selectAll(); autocomplete(); chart(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

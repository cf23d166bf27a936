// Every page: the header's menu on narrow screens, and event times in the reader's own zone.
// Small and optional: without it the menu opens through #site-menu:target and times show in the
// event's zone.
(function () {
  "use strict";

  function initMenu() {
    var toggle = document.querySelector("[data-menu-toggle]");
    var menu = document.getElementById("site-menu");
    if (!toggle || !menu) { return; }
    toggle.setAttribute("role", "button");
    function setOpen(open) {
      menu.classList.toggle("is-open", open);
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    }
    toggle.addEventListener("click", function (event) {
      event.preventDefault();
      setOpen(toggle.getAttribute("aria-expanded") !== "true");
    });
    toggle.addEventListener("keydown", function (event) {
      if (event.key === " ") { event.preventDefault(); toggle.click(); }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && menu.classList.contains("is-open")) { setOpen(false); toggle.focus(); }
    });
    document.addEventListener("click", function (event) {
      if (menu.classList.contains("is-open") && !menu.contains(event.target) && !toggle.contains(event.target)) {
        setOpen(false);
      }
    });
  }

  // <span data-local-time data-start="ISO" data-end="ISO" data-zone="Europe/Berlin"></span>:
  // filled with "18:30–20:30 your time" (and the day when it differs) when the reader's zone is not the event's, else with
  // "Your time too". The server already wrote the time in the event's zone and kept this line's
  // height (elonara.css), so filling it moves nothing on the page.
  function initLocalTimes() {
    var nodes = document.querySelectorAll("[data-local-time]");
    if (!nodes.length || !window.Intl || !Intl.DateTimeFormat) { return; }
    var here;
    try { here = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
    // Day and time words in the page's language (<html lang>); English pages keep the 24-hour
    // clock and day-month order the server writes (en-GB). The comparison below stays en-GB.
    var lang = document.documentElement.lang || "en";
    var locale = lang === "en" ? "en-GB" : lang;
    Array.prototype.forEach.call(nodes, function (node) {
      var zone = node.getAttribute("data-zone");
      var start = new Date(node.getAttribute("data-start"));
      if (!here || !zone || isNaN(start)) { return; }
      var fmt = { hour: "2-digit", minute: "2-digit" };
      var dayFmt = { weekday: "short", day: "numeric", month: "short" };
      var same = new Intl.DateTimeFormat("en-GB", Object.assign({ timeZone: zone, timeZoneName: "shortOffset" }, fmt)).format(start) ===
                 new Intl.DateTimeFormat("en-GB", Object.assign({ timeZone: here, timeZoneName: "shortOffset" }, fmt)).format(start);
      // The words come from the page, in its language (templates/elonara/_event_when.html).
      if (same) { node.textContent = node.getAttribute("data-same") || "Your time too"; return; }
      // The day only when it is not the event's own day there: the line stays short.
      var dayHere = new Intl.DateTimeFormat(locale, Object.assign({ timeZone: here }, dayFmt)).format(start);
      var dayThere = new Intl.DateTimeFormat(locale, Object.assign({ timeZone: zone }, dayFmt)).format(start);
      var text = (dayHere === dayThere ? "" : dayHere + ", ") +
                 new Intl.DateTimeFormat(locale, Object.assign({ timeZone: here }, fmt)).format(start);
      var endAttr = node.getAttribute("data-end");
      if (endAttr) {
        var end = new Date(endAttr);
        if (!isNaN(end)) { text += "–" + new Intl.DateTimeFormat(locale, Object.assign({ timeZone: here }, fmt)).format(end); }
      }
      node.textContent = (node.getAttribute("data-yours") || "{time} your time").replace("{time}", text);
    });
  }

  // A form sent back with errors: start at the first field to fix (its error is tied to it).
  function focusFirstError() {
    var field = document.querySelector("main [aria-invalid=true]");
    if (field && typeof field.focus === "function") { field.focus(); }
  }

  function init() { initMenu(); initLocalTimes(); focusFirstError(); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else { init(); }
}());

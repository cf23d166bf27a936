// Shows <time data-local> elements in the visitor's own time zone (the server does not know it).
// Without JavaScript the page still says the time in the event's zone and in UTC.
(function () {
  document.querySelectorAll("time[data-local]").forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    if (isNaN(when)) return;
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    el.textContent = when.toLocaleString(undefined, {
      weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit"
    }) + (zone ? " (" + zone + ")" : "");
    var holder = el.closest("[data-local-holder]");
    if (holder) holder.hidden = false;
  });
})();

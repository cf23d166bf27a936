// The check-in page's scanner and live counts. Progressive: without this script (or without a
// camera or BarcodeDetector) the page's search and "Check in" buttons do everything.
// Nothing here decides who is in: the server checks each code; only its "ok" answer is shown as
// checked in, and a failed request says so instead.
(function () {
  "use strict";
  var counts = document.getElementById("checkin-counts");
  var offline = document.getElementById("checkin-offline");
  var countIn = document.getElementById("count-in");
  var countGoing = document.getElementById("count-going");

  function showCounts(data) {
    if (typeof data.checked_in === "number") countIn.textContent = String(data.checked_in);
    if (typeof data.going === "number") countGoing.textContent = String(data.going);
  }

  function setOnline(ok) {
    if (offline) offline.hidden = ok;
  }

  function poll() {
    if (!counts) return;
    fetch(counts.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (data) { showCounts(data); setOnline(true); })
      .catch(function () { setOnline(false); });
  }
  if (counts) window.setInterval(poll, 5000);

  var scanner = document.getElementById("scanner");
  if (!scanner || !("BarcodeDetector" in window) || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
  scanner.hidden = false;
  var start = document.getElementById("scan-start");
  var stop = document.getElementById("scan-stop");
  var video = document.getElementById("scan-video");
  var result = document.getElementById("scan-result");
  var token = document.querySelector("#scan-form input[name=csrfmiddlewaretoken]");
  var detector = null;
  var stream = null;
  var busy = false;
  var lastCode = "";
  var lastAt = 0;

  // Words in the page's language: the scanner's data-w-* attributes (event_checkin.html).
  function word(name, fallback) { return (scanner && scanner.dataset["w" + name]) || fallback; }

  function say(text, kind) {
    result.textContent = text;
    result.className = "notice " + kind;
    result.hidden = false;
  }

  function take(code) {
    busy = true;
    var body = new URLSearchParams();
    body.set("code", code);
    fetch(scanner.dataset.url, {
      method: "POST", credentials: "same-origin", body: body,
      headers: { "X-CSRFToken": token ? token.value : "", Accept: "application/json" }
    }).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (data) {
        if (data && r.status === 200 && data.ok === true) {
          say(data.message, data.already ? "warning" : "success");
          showCounts(data);
        } else if (data && data.message) {
          say(data.message, "error");
        } else {
          say(word("NoAnswer", "Not checked in: the server did not answer ({status}). Try again or search by name.").replace("{status}", r.status), "error");
        }
        setOnline(true);
      });
    }).catch(function () {
      setOnline(false);
      say(word("Offline", "Not checked in: no connection. Try again, or search by name once back online."), "error");
    }).then(function () { busy = false; });
  }

  function frame() {
    if (!stream) return;
    if (busy || video.readyState < 2) { window.requestAnimationFrame(frame); return; }
    detector.detect(video).then(function (codes) {
      var now = Date.now();
      if (codes.length) {
        var code = codes[0].rawValue;
        // The same ticket held in front of the camera is sent once, not every frame.
        if (code !== lastCode || now - lastAt > 4000) { lastCode = code; lastAt = now; take(code); }
      }
    }).catch(function () {}).then(function () { window.setTimeout(frame, 200); });
  }

  function stopCamera() {
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    video.hidden = true;
    stop.hidden = true;
    start.hidden = false;
  }

  start.addEventListener("click", function () {
    try { detector = detector || new window.BarcodeDetector({ formats: ["qr_code"] }); } catch (e) {
      say(word("NoQr", "This browser cannot read QR codes; search by name instead."), "error");
      return;
    }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (s) {
      stream = s;
      video.srcObject = s;
      video.hidden = false;
      start.hidden = true;
      stop.hidden = false;
      return video.play();
    }).then(frame).catch(function () {
      stopCamera();
      say(word("NoCamera", "The camera is not available; search by name instead."), "error");
    });
  });
  stop.addEventListener("click", stopCamera);
})();

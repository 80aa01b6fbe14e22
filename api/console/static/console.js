// The console's own behaviour: error answers shown in the flash area, a
// sound and a highlight when a new emergency call arrives, and the
// "select all" box of the queue.
(function () {
  "use strict";
  document.addEventListener("htmx:beforeSwap", function (e) {
    var s = e.detail.xhr.status;
    if (s >= 400 && s < 600 && s !== 401) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });

  var lastCall = null;
  var audio = null;
  function beep() {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      audio = audio || new Ctx();
      [0, 0.35].forEach(function (at) {
        var o = audio.createOscillator(), g = audio.createGain();
        o.type = "square";
        o.frequency.value = 880;
        g.gain.value = 0.08;
        o.connect(g);
        g.connect(audio.destination);
        o.start(audio.currentTime + at);
        o.stop(audio.currentTime + at + 0.2);
      });
    } catch (err) {
      // A browser that refuses sound before a click still shows the call.
    }
  }
  // Read from the document, not the event: after an outerHTML swap the
  // event's element may be the one just replaced.
  function checkCalls() {
    var el = document.getElementById("calls");
    if (!el) return;
    var max = parseInt(el.getAttribute("data-max-id") || "0", 10);
    if (lastCall !== null && max > lastCall) {
      beep();
      el.classList.add("alarm");
      document.title = "【新呼叫】紧急呼叫 · 红色物业";
      var n = document.getElementById("new-calls");
      if (n) n.textContent = String(parseInt(n.textContent || "0", 10) + 1);
    }
    lastCall = Math.max(lastCall || 0, max);
  }
  document.addEventListener("DOMContentLoaded", checkCalls);
  document.addEventListener("htmx:afterSettle", checkCalls);

  document.addEventListener("change", function (e) {
    if (e.target && e.target.id === "pick-all") {
      document.querySelectorAll("input[name=ids]").forEach(function (b) { b.checked = e.target.checked; });
    }
  });
})();

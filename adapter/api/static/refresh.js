// Live refresh of the operations console: reloads the page every 30 s while the box is ticked,
// the page is visible and nothing is being typed. The page works without it.
"use strict";
(function () {
  var box = document.getElementById("live-refresh");
  if (!box) { return; }
  box.checked = sessionStorage.getItem("her2-console-live") !== "off";
  box.addEventListener("change", function () {
    sessionStorage.setItem("her2-console-live", box.checked ? "on" : "off");
  });
  setInterval(function () {
    var typing = document.activeElement && document.activeElement.tagName === "INPUT"
      && document.activeElement !== box;
    if (box.checked && document.visibilityState === "visible" && !typing) {
      window.location.reload();
    }
  }, 30000);
})();

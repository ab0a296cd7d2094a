// Import result page: while an import runs (on the task queue), poll its JSON status and move
// the progress bar; reload the page when it is finished, to show its counts and errors.
"use strict";
(function () {
  const box = document.getElementById("import-progress");
  if (!box) return;
  const url = box.getAttribute("data-status-url");
  const bar = document.getElementById("import-bar");
  const processed = document.getElementById("import-processed");
  const meter = box.querySelector(".progress");
  function show(status) {
    const percent = Math.max(0, Math.min(100, Number(status.percent) || 0));
    bar.style.width = percent + "%";
    bar.textContent = percent + "%";
    if (meter) meter.setAttribute("aria-valuenow", String(percent));
    if (processed) processed.textContent = String(status.processed);
  }
  function poll() {
    fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (resp) { return resp.ok ? resp.json() : null; })
      .then(function (status) {
        if (!status) return;
        show(status);
        if (status.status === "validating" || status.status === "running") {
          window.setTimeout(poll, 1000);
        } else {
          window.location.reload();
        }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  bar.style.width = (Number(meter && meter.getAttribute("aria-valuenow")) || 0) + "%";
  window.setTimeout(poll, 500);
})();

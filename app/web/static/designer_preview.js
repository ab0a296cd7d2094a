// YAML CRM designer: the live YAML preview beside the permission and workflow forms. While the
// admin edits a form with `data-preview-url`, the form is posted there (debounced; its CSRF
// token goes along) and the answer shows what will be written (#yaml-preview) and the change
// to the file (#diff-preview, lines coloured by + and -). Nothing is saved by a preview.
"use strict";
(function () {
  const form = document.querySelector("form[data-preview-url]");
  const yamlBox = document.getElementById("yaml-preview");
  if (!form || !yamlBox) { return; }
  const diffBox = document.getElementById("diff-preview");
  const errorBox = document.getElementById("preview-errors");
  let asked = 0;
  let timer = null;

  function showDiff(text) {
    if (!diffBox) { return; }
    diffBox.textContent = "";
    if (!text) { diffBox.textContent = diffBox.dataset.empty || ""; return; }
    text.split("\n").forEach((line) => {
      const span = document.createElement("span");
      span.className = "d-block";
      if (line.startsWith("+") && !line.startsWith("+++")) { span.classList.add("text-success"); }
      else if (line.startsWith("-") && !line.startsWith("---")) { span.classList.add("text-danger"); }
      else if (line.startsWith("@@")) { span.classList.add("text-secondary"); }
      span.textContent = line || " ";
      diffBox.appendChild(span);
    });
  }

  function showErrors(errors) {
    if (!errorBox) { return; }
    const messages = [];
    Object.keys(errors || {}).forEach((key) => { (errors[key] || []).forEach((m) => messages.push(m)); });
    errorBox.textContent = messages.join(" ");
    errorBox.classList.toggle("d-none", messages.length === 0);
  }

  function refresh() {
    const mine = ++asked;
    form.dataset.previewState = "loading";
    fetch(form.dataset.previewUrl, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "Accept": "application/json" },
    }).then((resp) => resp.json()).then((data) => {
      if (mine !== asked) { return; }
      if (data.ok) {
        yamlBox.textContent = data.yaml || yamlBox.dataset.empty || "";
        showDiff(data.diff);
        showErrors({});
      } else {
        showErrors(data.errors);
      }
      form.dataset.previewState = "ready";
    }).catch(() => { form.dataset.previewState = "failed"; });
  }

  function later() { clearTimeout(timer); timer = setTimeout(refresh, 300); }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  refresh();
}());

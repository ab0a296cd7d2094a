// The report builder (templates/reports/builder.html). The page works without this file
// ("Choose" posts the form back with the new entity's fields); this only saves clicks:
// choosing an entity reloads the fields at once, a filter's comparisons follow its field,
// date buckets are offered for date fields only, and "count" needs no field.
"use strict";
(function () {
  const form = document.getElementById("report-builder");
  if (!form) return;

  const entity = document.getElementById("entity");
  const choose = document.getElementById("choose-entity");
  if (entity && choose) {
    entity.addEventListener("change", function () { choose.click(); });
  }

  function selected(select) {
    return select.options[select.selectedIndex] || null;
  }

  // comparisons of a filter row: only those of the chosen field
  form.querySelectorAll(".crm-filter-row").forEach(function (row) {
    const field = row.querySelector('select[name^="f_field_"]');
    const op = row.querySelector('select[name^="f_op_"]');
    if (!field || !op) return;
    function sync() {
      const opt = selected(field);
      const ops = opt && opt.dataset.ops ? opt.dataset.ops.split(" ") : null;
      Array.from(op.options).forEach(function (o) {
        const ok = !o.value || !ops || ops.indexOf(o.value) >= 0;
        o.hidden = !ok;
        o.disabled = !ok;
      });
      const cur = selected(op);
      if (cur && cur.disabled) op.value = "";
    }
    field.addEventListener("change", sync);
    sync();
  });

  // date buckets only for date fields
  form.querySelectorAll(".crm-group-row").forEach(function (row) {
    const field = row.querySelector("select[name$='_field']");
    const bucket = row.querySelector(".crm-bucket");
    if (!field || !bucket) return;
    function sync() {
      const opt = selected(field);
      const isDate = !!(opt && opt.dataset.kind === "date");
      bucket.hidden = !isDate;
      if (!isDate) bucket.value = "";
    }
    field.addEventListener("change", sync);
    sync();
  });

  // "count" takes no field
  form.querySelectorAll(".crm-measure-row").forEach(function (row) {
    const agg = row.querySelector('select[name^="m_agg_"]');
    const field = row.querySelector('select[name^="m_field_"]');
    if (!agg || !field) return;
    function sync() {
      const none = agg.value === "count" || agg.value === "";
      field.disabled = none;
    }
    agg.addEventListener("change", sync);
    sync();
  });
})();

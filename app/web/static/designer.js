// YAML CRM designer: the field form (options per type, the choices editor, the live YAML
// preview), the entity page (drag to reorder fields) and the layout editor (sections, columns,
// fields dragged between sections). Every page works without this script; it only makes the
// same forms quicker to use.
"use strict";
(function () {
  function debounce(fn, ms) {
    let timer = null;
    return function () { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }
  document.querySelectorAll("[data-js-only]").forEach((el) => el.classList.remove("d-none"));
  document.querySelectorAll("[data-no-js-only]").forEach((el) => el.classList.add("d-none"));

  // --- the field form --------------------------------------------------------------------
  function setupFieldForm(form) {
    const typeSelect = form.querySelector("#type");
    const presetSelect = form.querySelector("[data-preset-select]");
    const rows = form.querySelector("#choice-rows");
    const rowTemplate = form.querySelector("#choice-row-template");

    function currentType() { return typeSelect ? typeSelect.value : ""; }

    function showOptions() {
      if (!typeSelect || form.querySelector("#block-preset-note")) { return; }
      const type = currentType();
      form.querySelectorAll("[data-types]").forEach(function (el) {
        const types = (el.dataset.types || "").split(" ");
        el.classList.toggle("d-none", types.indexOf(type) < 0);
      });
      form.querySelectorAll("[data-option-card]").forEach(function (card) {
        const any = card.querySelector("[data-option]:not(.d-none)");
        card.classList.toggle("d-none", !any);
      });
    }

    // choices: rows are named choice-<n>-<part>; renumbered after every move
    function renumber() {
      if (!rows) { return; }
      rows.querySelectorAll("tr[data-choice-row]").forEach(function (tr, n) {
        tr.querySelectorAll("[name^='choice-']").forEach(function (input) {
          input.name = input.name.replace(/^choice-[^-]+-/, "choice-" + n + "-");
        });
      });
    }
    function syncColour(tr) {
      const use = tr.querySelector("[data-choice=use_color]");
      const colour = tr.querySelector("[data-choice=color]");
      if (use && colour) { colour.classList.toggle("opacity-25", !use.checked); }
    }
    function addRow(focus) {
      const fragment = rowTemplate.content.cloneNode(true);
      const tr = fragment.querySelector("tr");
      rows.appendChild(fragment);
      renumber();
      syncColour(tr);
      if (focus) { tr.querySelector("[data-choice=value]").focus(); }
      return tr;
    }
    if (rows && rowTemplate) {
      rows.querySelectorAll("tr[data-choice-row]").forEach(syncColour);
      form.addEventListener("click", function (ev) {
        const button = ev.target.closest("[data-action]");
        if (!button) { return; }
        const tr = button.closest("tr[data-choice-row]");
        const action = button.dataset.action;
        if (action === "choice-add") { addRow(true); }
        else if (action === "choice-remove" && tr) {
          tr.remove();
          if (!rows.querySelector("tr[data-choice-row]")) { addRow(false); }
        } else if (action === "choice-up" && tr && tr.previousElementSibling) {
          rows.insertBefore(tr, tr.previousElementSibling);
        } else if (action === "choice-down" && tr && tr.nextElementSibling) {
          rows.insertBefore(tr.nextElementSibling, tr);
        } else { return; }
        renumber();
        refresh();
      });
      rows.addEventListener("change", function (ev) {
        const tr = ev.target.closest("tr[data-choice-row]");
        if (tr && ev.target.dataset.choice === "use_color") { syncColour(tr); }
        if (tr && ev.target.dataset.choice === "color") {
          const use = tr.querySelector("[data-choice=use_color]");
          if (use && !use.checked) { use.checked = true; syncColour(tr); }
        }
      });
    }

    // the live preview: the form as it is now, rendered by the server as the YAML diff
    const pre = document.getElementById("yaml-preview");
    const path = document.getElementById("yaml-preview-path");
    const busy = document.getElementById("yaml-preview-busy");
    const problems = document.getElementById("yaml-preview-problems");
    let asked = 0;
    const KINDS = {
      add: "d-block bg-success-subtle text-success-emphasis",
      del: "d-block bg-danger-subtle text-danger-emphasis",
      hunk: "d-block text-primary-emphasis bg-primary-subtle",
      same: "d-block text-body-secondary",
    };
    function show(data) {
      pre.textContent = "";
      path.textContent = "";
      const files = data.files || [];
      if (data.error) {
        const span = document.createElement("span");
        span.className = "text-danger";
        span.textContent = data.error;
        pre.appendChild(span);
      } else if (!files.length) {
        const span = document.createElement("span");
        span.className = "text-muted";
        span.textContent = pre.dataset.empty;
        pre.appendChild(span);
      }
      path.textContent = files.map((f) => f.path).join(", ");
      files.forEach(function (file) {
        file.lines.forEach(function (pair) {
          const span = document.createElement("span");
          span.className = KINDS[pair[0]] || KINDS.same;
          span.dataset.line = pair[0];
          span.textContent = pair[1] || " ";
          pre.appendChild(span);
        });
      });
      problems.textContent = "";
      const list = data.problems || [];
      problems.classList.toggle("d-none", !list.length);
      list.forEach(function (text) {
        const li = document.createElement("li");
        li.textContent = text;
        problems.appendChild(li);
      });
      pre.dataset.version = String(asked);
    }
    function preview() {
      if (!pre || !form.dataset.previewUrl) { return; }
      const mine = ++asked;
      busy.classList.remove("d-none");
      fetch(form.dataset.previewUrl, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
        .then(function (data) { if (mine === asked) { show(data); } })
        .catch(function () {
          if (mine === asked) { show({ error: pre.dataset.failed }); }
        })
        .finally(function () { if (mine === asked) { busy.classList.add("d-none"); } });
    }
    const refresh = debounce(preview, 300);
    form.addEventListener("input", refresh);
    form.addEventListener("change", function (ev) {
      if (ev.target === typeSelect) { showOptions(); }
      if (ev.target === presetSelect) {
        const apply = form.querySelector("#preset-apply");
        if (apply) { apply.click(); return; }
      }
      refresh();
    });
    showOptions();
    preview();
  }

  // --- the entity page: drag fields into a new order -------------------------------------
  function setupFieldOrder(table) {
    const body = table.querySelector("tbody");
    const orderForm = document.getElementById("order-form");
    let dragged = null;
    body.addEventListener("dragstart", function (ev) {
      dragged = ev.target.closest("tr[data-field]");
      if (!dragged) { return; }
      ev.dataTransfer.effectAllowed = "move";
      ev.dataTransfer.setData("text/plain", dragged.dataset.field);
      dragged.classList.add("opacity-50");
    });
    body.addEventListener("dragend", function () {
      if (dragged) { dragged.classList.remove("opacity-50"); }
      dragged = null;
    });
    body.addEventListener("dragover", function (ev) {
      const over = ev.target.closest("tr[data-field]");
      if (!dragged || !over || over === dragged) { return; }
      ev.preventDefault();
      const box = over.getBoundingClientRect();
      const after = ev.clientY > box.top + box.height / 2;
      body.insertBefore(dragged, after ? over.nextSibling : over);
    });
    body.addEventListener("drop", function (ev) {
      if (!dragged) { return; }
      ev.preventDefault();
      orderForm.querySelectorAll("input[name=order]").forEach((el) => el.remove());
      body.querySelectorAll("tr[data-field]").forEach(function (tr) {
        const input = document.createElement("input");
        input.type = "hidden";
        input.name = "order";
        input.value = tr.dataset.field;
        orderForm.appendChild(input);
      });
      orderForm.classList.remove("d-none");
      body.querySelectorAll("[data-move]").forEach((b) => { b.disabled = true; });
    });
  }

  // --- the layout editor -----------------------------------------------------------------
  function setupLayout(form) {
    const labels = JSON.parse(form.dataset.labels || "{}");
    const sections = form.querySelector("#layout-sections");
    const pool = form.querySelector("[data-unplaced]");
    const sectionTemplate = form.querySelector("#layout-section-template");
    const chipTemplate = form.querySelector("#layout-chip-template");
    const blank = sections.querySelector("[data-section][data-blank]");
    if (blank) { blank.remove(); }

    function makeChip(name) {
      const holder = document.createElement("div");
      holder.innerHTML = chipTemplate.innerHTML.trim();
      const chip = holder.firstElementChild;
      chip.dataset.chip = name;
      chip.querySelector(".text-truncate").textContent = labels[name] || name;
      chip.querySelector("code").textContent = name;
      chip.querySelector(".layout-chip").title = name;
      const close = chip.querySelector("[data-action=chip-remove]");
      close.setAttribute("aria-label", close.getAttribute("aria-label").replace("__name__", name));
      return chip;
    }
    function chipsOf(section) { return section.querySelector("[data-chips]"); }
    function placed() {
      const out = new Set();
      sections.querySelectorAll("[data-section] [data-chip]").forEach((c) => out.add(c.dataset.chip));
      return out;
    }
    // an empty section (or pool) shows where to drop fields, so it can be dropped on
    function placeholders() {
      form.querySelectorAll("[data-chips]").forEach(function (zone) {
        const empty = !zone.querySelector("[data-chip]");
        const shown = zone.querySelector("[data-placeholder]");
        if (empty && !shown) {
          const col = document.createElement("div");
          col.className = "col-12";
          col.dataset.placeholder = "";
          const box = document.createElement("div");
          box.className = "border rounded text-muted small p-2 text-center bg-body";
          box.textContent = form.dataset.dropText || "";
          col.appendChild(box);
          zone.appendChild(col);
        } else if (!empty && shown) {
          shown.remove();
        }
      });
    }
    function sync() {
      sections.querySelectorAll("[data-section]").forEach(function (section) {
        const names = Array.from(chipsOf(section).querySelectorAll("[data-chip]"))
          .map((c) => c.dataset.chip);
        section.querySelector("[data-fields-input]").value = names.join(" ");
        const columns = section.querySelector("[data-columns]").value;
        const chips = chipsOf(section);
        chips.className = chips.className.replace(/row-cols-\d/, "row-cols-" + columns);
      });
      const inSections = placed();
      pool.querySelectorAll("[data-chip]").forEach(function (c) {
        if (inSections.has(c.dataset.chip)) { c.remove(); }
      });
      const inPool = new Set(Array.from(pool.querySelectorAll("[data-chip]")).map((c) => c.dataset.chip));
      Object.keys(labels).forEach(function (name) {
        if (!inSections.has(name) && !inPool.has(name)) { pool.appendChild(makeChip(name)); }
      });
      const free = Array.from(pool.querySelectorAll("[data-chip]")).map((c) => c.dataset.chip);
      sections.querySelectorAll("[data-add-field]").forEach(function (select) {
        const first = select.options[0];
        select.textContent = "";
        select.appendChild(first);
        free.forEach(function (name) {
          const option = document.createElement("option");
          option.value = name;
          option.textContent = (labels[name] || name) + " (" + name + ")";
          select.appendChild(option);
        });
        select.disabled = !free.length;
      });
      placeholders();
    }
    function prepare(section) {
      section.querySelectorAll("[data-js-only]").forEach((el) => el.classList.remove("d-none"));
      section.querySelector("[data-fields-input]").classList.add("d-none");
      const chips = chipsOf(section);
      chips.querySelectorAll("[data-chip]").forEach((c) => c.remove());
      section.querySelector("[data-fields-input]").value.split(/[\s,]+/).filter(Boolean)
        .forEach((name) => chips.appendChild(makeChip(name)));
    }
    sections.querySelectorAll("[data-section]").forEach(prepare);

    form.addEventListener("click", function (ev) {
      const button = ev.target.closest("[data-action]");
      if (!button) { return; }
      const section = button.closest("[data-section]");
      const action = button.dataset.action;
      if (action === "chip-remove") {
        const chip = button.closest("[data-chip]");
        if (chip && section) { pool.appendChild(chip); }
      } else if (action === "section-up" && section && section.previousElementSibling) {
        sections.insertBefore(section, section.previousElementSibling);
      } else if (action === "section-down" && section && section.nextElementSibling) {
        sections.insertBefore(section.nextElementSibling, section);
      } else if (action === "section-remove" && section) {
        section.querySelectorAll("[data-chip]").forEach((c) => pool.appendChild(c));
        section.remove();
      } else if (action === "section-add") {
        const fragment = sectionTemplate.content.cloneNode(true);
        const added = fragment.querySelector("[data-section]");
        sections.appendChild(fragment);
        prepare(added);
        added.querySelector("[name=section_en]").focus();
      } else { return; }
      sync();
    });
    form.addEventListener("change", function (ev) {
      if (ev.target.matches("[data-add-field]") && ev.target.value) {
        const section = ev.target.closest("[data-section]");
        const chip = pool.querySelector("[data-chip='" + CSS.escape(ev.target.value) + "']");
        if (chip) { chipsOf(section).appendChild(chip); }
      }
      sync();
    });

    // drag a field: into another section, or between two fields of one
    let dragged = null;
    form.addEventListener("dragstart", function (ev) {
      const chip = ev.target.closest("[data-chip]");
      if (!chip) { return; }
      dragged = chip;
      ev.dataTransfer.effectAllowed = "move";
      ev.dataTransfer.setData("text/plain", chip.dataset.chip);
      chip.classList.add("opacity-50");
    });
    form.addEventListener("dragend", function () {
      if (dragged) { dragged.classList.remove("opacity-50"); }
      dragged = null;
      sync();
    });
    form.addEventListener("dragover", function (ev) {
      const zone = ev.target.closest("[data-chips]");
      if (!dragged || !zone) { return; }
      ev.preventDefault();
      const over = ev.target.closest("[data-chip]");
      if (over && over !== dragged && zone.contains(over)) {
        const box = over.getBoundingClientRect();
        const after = ev.clientX > box.left + box.width / 2;
        zone.insertBefore(dragged, after ? over.nextSibling : over);
      } else if (!over) {
        zone.appendChild(dragged);
        const shown = zone.querySelector("[data-placeholder]");
        if (shown) { shown.remove(); }
      }
    });
    form.addEventListener("drop", function (ev) {
      if (dragged && ev.target.closest("[data-chips]")) { ev.preventDefault(); sync(); }
    });
    form.addEventListener("submit", sync);
    sync();
  }

  const fieldForm = document.getElementById("field-form");
  if (fieldForm) { setupFieldForm(fieldForm); }
  const fieldTable = document.querySelector("#field-table[data-reorder]");
  if (fieldTable) { setupFieldOrder(fieldTable); }
  const layoutForm = document.querySelector("form[data-layout-editor]");
  if (layoutForm) { setupLayout(layoutForm); }
})();

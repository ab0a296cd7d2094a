// YAML CRM: generated forms. Lookups search as you type, rich text is edited in place and
// written to its (hidden) textarea, tag inputs suggest tags, and conditional fields show, hide
// and get their required mark as values change (the server decides: POST /<entity>/visibility).
"use strict";
(function () {
  const form = document.querySelector("form.crm-form");
  if (!form) { return; }
  const text = (name, fallback) => form.dataset[name] || fallback;

  function debounce(fn, ms) {
    let timer = null;
    return function () { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  // --- lookups: a text input, a hidden id input and a dropdown of matches -------------------
  function setupLookup(box) {
    const input = box.querySelector("[data-lookup-input]");
    const hidden = box.querySelector("[data-lookup-value]");
    const menu = box.querySelector(".crm-lookup-menu");
    let chosen = input.value;
    let results = [];
    let active = -1;
    let asked = 0;

    function close() {
      menu.classList.remove("show");
      input.setAttribute("aria-expanded", "false");
      active = -1;
    }
    function choose(item) {
      hidden.value = String(item.id);
      input.value = item.text;
      chosen = item.text;
      close();
      hidden.dispatchEvent(new Event("change", { bubbles: true }));
    }
    function highlight(index) {
      const buttons = menu.querySelectorAll("button");
      buttons.forEach((b, i) => b.classList.toggle("active", i === index));
      active = index;
    }
    function show(found) {
      results = found;
      menu.textContent = "";
      if (!found.length) {
        const none = document.createElement("span");
        none.className = "dropdown-item-text text-muted";
        none.textContent = text("msgNone", "No matches");
        menu.appendChild(none);
      }
      found.forEach(function (item) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "dropdown-item";
        b.setAttribute("role", "option");
        b.dataset.id = String(item.id);
        b.textContent = item.text;
        b.addEventListener("mousedown", function (ev) { ev.preventDefault(); choose(item); });
        menu.appendChild(b);
      });
      menu.classList.add("show");
      input.setAttribute("aria-expanded", "true");
      active = -1;
    }
    const search = debounce(function () {
      const mine = ++asked;
      const url = box.dataset.lookupUrl + "?limit=20&q=" + encodeURIComponent(input.value.trim());
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : { results: [] }))
        .then(function (data) {
          if (mine === asked && document.activeElement === input) { show(data.results || []); }
        })
        .catch(function () { /* offline: keep typing */ });
    }, 200);

    input.addEventListener("input", function () {
      if (!input.value.trim() && hidden.value) {
        hidden.value = "";
        chosen = "";
        hidden.dispatchEvent(new Event("change", { bubbles: true }));
      }
      search();
    });
    input.addEventListener("focus", search);
    input.addEventListener("keydown", function (ev) {
      if (!menu.classList.contains("show")) { return; }
      if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        ev.preventDefault();
        const n = results.length;
        if (n) {
          let next = ev.key === "ArrowDown" ? active + 1 : active - 1;
          if (next < 0) { next = n - 1; }
          if (next >= n) { next = 0; }
          highlight(next);
        }
      } else if (ev.key === "Enter") {
        if (active >= 0 && results[active]) { ev.preventDefault(); choose(results[active]); }
      } else if (ev.key === "Escape") {
        close();
      }
    });
    input.addEventListener("blur", function () {
      setTimeout(close, 150);
      if (input.value.trim() !== chosen) { input.value = chosen; }  // nothing picked: keep the old one
    });
  }

  // --- rich text: a contenteditable editor writing HTML to the textarea ---------------------
  function setupRich(area) {
    const box = form.querySelector('[data-rich-for="' + area.id + '"]');
    if (!box) { return; }
    const editor = box.querySelector("[contenteditable]");
    box.classList.remove("d-none");
    area.classList.add("d-none");
    function sync() { area.value = editor.textContent.trim() ? editor.innerHTML : ""; }
    editor.addEventListener("input", sync);
    box.querySelectorAll("[data-cmd]").forEach(function (button) {
      button.addEventListener("click", function () {
        editor.focus();
        const cmd = button.dataset.cmd;
        if (cmd === "createLink") {
          const url = window.prompt(text("msgLink", "Link address"), "https://");
          if (!url || !/^(https?:\/\/|mailto:)/i.test(url.trim())) { return; }
          document.execCommand("createLink", false, url.trim());
        } else {
          document.execCommand(cmd, false, null);
        }
        sync();
      });
    });
    form.addEventListener("submit", sync);
  }

  // --- tags: suggestions for the word being typed after the commas -------------------------
  function setupTags(input) {
    const list = input.list;
    const all = (input.dataset.tags || "").split(",").filter(Boolean);
    if (!list || !all.length) { return; }
    function update() {
      const parts = input.value.split(/[,;，；|]/);
      const last = parts.pop().trim().toLowerCase();
      const used = parts.map((p) => p.trim()).filter(Boolean);
      const prefix = used.length ? used.join(", ") + ", " : "";
      list.textContent = "";
      all.filter((t) => used.indexOf(t) < 0 && t.toLowerCase().indexOf(last) === 0)
        .forEach(function (t) {
          const option = document.createElement("option");
          option.value = prefix + t;
          list.appendChild(option);
        });
    }
    input.addEventListener("input", update);
    update();
  }

  // --- conditional fields -------------------------------------------------------------------
  function values() {
    const out = {};
    if (form.dataset.recordId) { out._id = Number(form.dataset.recordId); }
    Array.prototype.forEach.call(form.elements, function (el) {
      const name = el.name;
      if (!name || name === "csrf_token" || name.charAt(0) === "_" || name.indexOf("__") >= 0 ||
          el.type === "file" || el.type === "submit") { return; }
      if (el.type === "checkbox" && el.hasAttribute("data-multi")) {
        out[name] = out[name] || [];
        if (el.checked) { out[name].push(el.value); }
      } else if (el.type === "checkbox") {
        out[name] = el.checked;
      } else {
        out[name] = el.value;
      }
    });
    return out;
  }
  function apply(data) {
    form.querySelectorAll("[data-field]").forEach(function (wrapper) {
      const name = wrapper.dataset.field;
      if (data.visible && name in data.visible) {
        wrapper.classList.toggle("d-none", !data.visible[name]);
      }
      const mark = wrapper.querySelector(".required-mark");
      if (mark && data.required && name in data.required) {
        mark.classList.toggle("d-none", !data.required[name]);
      }
    });
    form.dispatchEvent(new CustomEvent("crm:visibility", { detail: data }));
  }
  const refresh = debounce(function () {
    fetch(form.dataset.visibilityUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json",
                 "X-CSRFToken": CRM.csrf() },
      body: JSON.stringify(values()),
    }).then((r) => (r.ok ? r.json() : null))
      .then(function (data) { if (data) { apply(data); } })
      .catch(function () { /* the server checks again on save */ });
  }, 150);

  form.querySelectorAll(".crm-lookup").forEach(setupLookup);
  form.querySelectorAll("textarea[data-rich-text]").forEach(setupRich);
  form.querySelectorAll("input[data-tags]").forEach(setupTags);
  if (form.dataset.conditional === "1") {
    form.addEventListener("change", refresh);
    form.addEventListener("input", refresh);
  }
}());

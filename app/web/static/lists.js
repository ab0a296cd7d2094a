// YAML CRM list pages: select rows for bulk actions, submit on page-size change, and
// search-as-you-type for lookup filters (GET /lookup/<entity>?q= -> {results: [{id, text}]}).
"use strict";
(function () {
  function onReady(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  function selection() {
    const all = document.getElementById("select-all");
    const boxes = Array.from(document.querySelectorAll(".crm-row-check"));
    const counter = document.getElementById("selected-count");
    function update() {
      const n = boxes.filter(function (b) { return b.checked; }).length;
      if (counter) { counter.textContent = n ? counter.dataset.template.replace("__N__", n) : ""; }
      if (all) {
        all.checked = n > 0 && n === boxes.length;
        all.indeterminate = n > 0 && n < boxes.length;
      }
    }
    if (all) {
      all.addEventListener("change", function () {
        boxes.forEach(function (b) { b.checked = all.checked; });
        update();
      });
    }
    boxes.forEach(function (b) { b.addEventListener("change", update); });
    update();
  }

  function autosubmit() {
    document.querySelectorAll("[data-autosubmit]").forEach(function (el) {
      el.addEventListener("change", function () { if (el.form) { el.form.requestSubmit(); } });
    });
  }

  function lookup(box, target, hidden, text, menu) {
    let timer = null;
    let seq = 0;
    function close() { menu.classList.remove("show"); text.setAttribute("aria-expanded", "false"); }
    function choose(item) {
      hidden.value = item.id;
      text.value = item.text;
      close();
    }
    function show(results) {
      menu.innerHTML = "";
      results.forEach(function (item) {
        const a = document.createElement("button");
        a.type = "button";
        a.className = "dropdown-item";
        a.setAttribute("role", "option");
        a.textContent = item.text;
        a.addEventListener("mousedown", function (ev) { ev.preventDefault(); choose(item); });
        menu.appendChild(a);
      });
      menu.classList.toggle("show", results.length > 0);
      text.setAttribute("aria-expanded", results.length > 0 ? "true" : "false");
    }
    text.addEventListener("input", function () {
      hidden.value = "";
      clearTimeout(timer);
      const q = text.value.trim();
      if (!q) { close(); return; }
      timer = setTimeout(function () {
        const mine = ++seq;
        fetch("/lookup/" + encodeURIComponent(target) + "?q=" + encodeURIComponent(q),
              { headers: { Accept: "application/json" }, credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : { results: [] }; })
          .then(function (data) { if (mine === seq) { show(data.results || []); } })
          .catch(function () { close(); });
      }, 200);
    });
    text.addEventListener("keydown", function (ev) {
      const items = Array.from(menu.querySelectorAll(".dropdown-item"));
      if (ev.key === "Escape") { close(); }
      if (ev.key === "ArrowDown" && items.length) { ev.preventDefault(); items[0].focus(); }
      if (ev.key === "Enter" && menu.classList.contains("show") && items.length) {
        ev.preventDefault();
        items[0].dispatchEvent(new MouseEvent("mousedown"));
      }
    });
    menu.addEventListener("keydown", function (ev) {
      const items = Array.from(menu.querySelectorAll(".dropdown-item"));
      const i = items.indexOf(document.activeElement);
      if (ev.key === "ArrowDown" && i < items.length - 1) { ev.preventDefault(); items[i + 1].focus(); }
      if (ev.key === "ArrowUp") { ev.preventDefault(); (i > 0 ? items[i - 1] : text).focus(); }
      if (ev.key === "Enter" && i >= 0) { ev.preventDefault(); items[i].dispatchEvent(new MouseEvent("mousedown")); }
      if (ev.key === "Escape") { close(); text.focus(); }
    });
    text.addEventListener("blur", function () { setTimeout(close, 150); });
  }

  function lookups() {
    document.querySelectorAll(".crm-lookup").forEach(function (box) {
      lookup(box, box.dataset.target, box.querySelector(".crm-lookup-value"),
             box.querySelector(".crm-lookup-text"), box.querySelector(".crm-lookup-menu"));
    });
    // form fields of lookups (bulk edit): <input data-lookup="account"> holds the id
    document.querySelectorAll("#bulk-edit-form input[data-lookup]").forEach(function (input) {
      const box = document.createElement("div");
      box.className = "position-relative crm-lookup";
      const text = document.createElement("input");
      text.type = "search";
      text.className = "form-control";
      text.autocomplete = "off";
      text.placeholder = input.getAttribute("placeholder") || "";
      text.setAttribute("aria-label", input.labels && input.labels[0] ? input.labels[0].textContent : "");
      const menu = document.createElement("div");
      menu.className = "dropdown-menu w-100";
      input.parentNode.insertBefore(box, input);
      box.appendChild(text);
      box.appendChild(menu);
      box.appendChild(input);
      input.type = "hidden";
      // user fields search the users: /lookup/_user
      lookup(box, input.dataset.lookup === "user" ? "_user" : input.dataset.lookup, input, text, menu);
    });
  }

  // Leave empty filter inputs out of the query string, so list URLs (bookmarks, saved views,
  // exports) hold only the filters in use.
  function compactQuery() {
    const form = document.getElementById("list-form");
    if (!form) { return; }
    form.addEventListener("submit", function () {
      form.querySelectorAll("input, select").forEach(function (el) {
        if (el.name && !el.disabled && el.type !== "checkbox" && el.value === "") {
          el.disabled = true;
        }
      });
    });
  }

  onReady(function () {
    selection();
    compactQuery();
    autosubmit();
    lookups();
  });
})();

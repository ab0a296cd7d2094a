// Kanban board: drag a card to another column, or pick a column in the card's "move to" select.
// Every move is a POST to /<entity>/board/move; a refused move snaps the card back with the reason.
// Under a stage machine a card's data-moves lists the columns it may go to: the others are
// greyed out while it is dragged.
"use strict";
(function () {
  const board = document.getElementById("board");
  if (!board) { return; }
  document.documentElement.classList.add("board-js");
  const alertBox = document.getElementById("board-alert");
  let dragged = null;

  function say(message, kind, link) {
    alertBox.className = "alert alert-" + kind;
    alertBox.textContent = message;
    if (link) {
      const a = document.createElement("a");
      a.href = link;
      a.className = "alert-link ms-2";
      a.textContent = board.dataset.editText;
      alertBox.append(a);
    }
  }

  function column(value) {
    return Array.from(board.querySelectorAll(".board-column")).find(
      (c) => c.dataset.value === value) || null;
  }

  function cardsOf(value) {
    const col = column(value);
    return col ? col.querySelector(".board-cards") : null;
  }

  // the columns a stage machine lets the user move a card to (null: any column)
  function movesOf(card) {
    if (card.dataset.moves === undefined) { return null; }
    try { return JSON.parse(card.dataset.moves); } catch (err) { return null; }
  }

  function setMoves(card, moves) {
    if (!Array.isArray(moves)) { return; }
    card.dataset.moves = JSON.stringify(moves);
    const select = card.querySelector(".board-move-to");
    if (!select) { return; }
    Array.from(select.options).forEach((opt) => {
      opt.disabled = opt.value !== card.dataset.value && !moves.includes(opt.value);
    });
  }

  function greyOut(card) {
    const moves = movesOf(card);
    if (!moves) { return; }
    board.querySelectorAll(".board-column").forEach((col) => {
      const allowed = col.dataset.value === card.dataset.value || moves.includes(col.dataset.value);
      col.classList.toggle("board-forbidden", !allowed);
    });
  }

  function setValue(card, value) {
    card.dataset.value = value;
    const select = card.querySelector(".board-move-to");
    if (select) { select.value = value; }
    const version = card.querySelector('input[name="version"]');
    if (version) { version.value = card.dataset.version; }
  }

  function errorText(data) {
    if (!data) { return board.dataset.networkError; }
    if (data.error && typeof data.error === "object") { return data.error.message; }
    return data.error || board.dataset.networkError;
  }

  function updateColumns(columns) {
    Object.keys(columns || {}).forEach((value) => {
      const col = column(value);
      if (!col) { return; }
      const count = col.querySelector(".board-count");
      if (count) { count.textContent = columns[value].count; }
      const total = col.querySelector(".board-total");
      if (total) { total.textContent = columns[value].total; }
    });
  }

  async function move(card, to) {
    const from = card.dataset.value;
    const target = cardsOf(to);
    if (to === from || !target) { return; }
    const home = { parent: card.parentNode, next: card.nextSibling };
    target.prepend(card);
    card.classList.add("busy");
    const body = {
      id: Number(card.dataset.id), to: to, version: Number(card.dataset.version),
      by: board.dataset.by, sum: board.dataset.sum, q: board.dataset.q, owner: board.dataset.owner,
    };
    let resp = null;
    let data = null;
    try {
      resp = await fetch(board.dataset.moveUrl, {
        method: "POST", credentials: "same-origin", body: JSON.stringify(body),
        headers: { "Content-Type": "application/json", "Accept": "application/json",
                   "X-CSRFToken": CRM.csrf() },
      });
      const type = resp.headers.get("Content-Type") || "";
      data = type.includes("json") ? await resp.json() : { error: board.dataset.reloadText };
    } catch (err) {
      data = null;
    }
    card.classList.remove("busy");
    if (resp && resp.ok && data && data.ok) {
      card.dataset.version = data.record.version;
      setValue(card, data.record.value);
      setMoves(card, data.record.moves);
      updateColumns(data.columns);
      say(data.message, "success");
      return;
    }
    // refused: back where it was (or, after a conflict, where the record now is)
    home.parent.insertBefore(card, home.next);
    if (resp && resp.status === 409 && data && data.record) {
      card.dataset.version = data.record.version;
      const now = cardsOf(data.record.value);
      if (data.record.value !== from && now) {
        now.prepend(card);
      }
      setValue(card, data.record.value);
      setMoves(card, data.record.moves);
    } else {
      setValue(card, from);
    }
    say(card.dataset.title + ": " + errorText(data), "danger", data && data.edit);
  }

  board.addEventListener("dragstart", (ev) => {
    const card = ev.target.closest && ev.target.closest(".board-card");
    if (!card) { return; }
    dragged = card;
    card.classList.add("dragging");
    greyOut(card);
    ev.dataTransfer.effectAllowed = "move";
    ev.dataTransfer.setData("text/plain", card.dataset.id);
  });
  board.addEventListener("dragend", () => {
    if (dragged) { dragged.classList.remove("dragging"); }
    dragged = null;
    board.querySelectorAll(".drop-target").forEach((c) => c.classList.remove("drop-target"));
    board.querySelectorAll(".board-forbidden").forEach((c) => c.classList.remove("board-forbidden"));
  });
  board.addEventListener("dragover", (ev) => {
    const col = ev.target.closest && ev.target.closest(".board-column");
    if (!col || !dragged) { return; }
    ev.preventDefault();
    ev.dataTransfer.dropEffect = "move";
    board.querySelectorAll(".drop-target").forEach((c) => {
      if (c !== col) { c.classList.remove("drop-target"); }
    });
    col.classList.add("drop-target");
  });
  board.addEventListener("drop", (ev) => {
    const col = ev.target.closest && ev.target.closest(".board-column");
    if (!col || !dragged) { return; }
    ev.preventDefault();
    col.classList.remove("drop-target");
    const card = dragged;
    dragged = null;
    card.classList.remove("dragging");
    board.querySelectorAll(".board-forbidden").forEach((c) => c.classList.remove("board-forbidden"));
    move(card, col.dataset.value);  // a forbidden column too: the server says why not
  });
  board.addEventListener("change", (ev) => {
    if (!ev.target.classList.contains("board-move-to")) { return; }
    const card = ev.target.closest(".board-card");
    move(card, ev.target.value);
  });
  board.addEventListener("submit", (ev) => {
    const card = ev.target.closest(".board-card");
    if (!card) { return; }
    ev.preventDefault();
    move(card, card.querySelector(".board-move-to").value);
  });

  const filters = document.getElementById("board-filters");
  if (filters) {
    filters.querySelectorAll("select, input[type=checkbox]").forEach((el) => {
      el.addEventListener("change", () => filters.submit());
    });
  }
})();

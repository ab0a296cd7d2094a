// Detail page: ask before destructive actions. A form with data-confirm="question" is sent only
// when the user agrees; its hidden "confirm" input then says so to the server (without
// JavaScript the server shows its own confirmation page instead).
"use strict";
document.addEventListener("submit", function (ev) {
  const form = ev.target;
  if (!(form instanceof HTMLFormElement)) return;
  const question = form.getAttribute("data-confirm");
  if (!question) return;
  if (!window.confirm(question)) {
    ev.preventDefault();
    return;
  }
  const flag = form.querySelector('input[name="confirm"]');
  if (flag) flag.value = "1";
});

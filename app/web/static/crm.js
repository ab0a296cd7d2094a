// YAML CRM: behaviour shared by every page. Page-specific scripts live in their own files.
"use strict";
window.CRM = window.CRM || {};
CRM.csrf = function () {
  const el = document.querySelector('input[name="csrf_token"]');
  return el ? el.value : "";
};

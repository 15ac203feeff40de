// Item rows of the draft form. Without this file the form shows the saved items and one blank row, and "Remove this
// item" is a checkbox; with it, "Add an item" appends a blank row from the formset's empty form, and removing a row
// that was never saved takes it off the page.
(function () {
  "use strict";

  function init(root) {
    var prefix = root.getAttribute("data-prefix");
    var total = root.querySelector('input[name="' + prefix + '-TOTAL_FORMS"]');
    var max = root.querySelector('input[name="' + prefix + '-MAX_NUM_FORMS"]');
    var rows = root.querySelector("[data-formset-rows]");
    var template = root.querySelector("template[data-formset-template]");
    var add = root.querySelector("[data-formset-add]");
    if (!total || !rows || !template || !add) return;
    add.hidden = false;
    root.querySelectorAll(".formset-nojs-hint").forEach(function (hint) {
      hint.hidden = true;
    });

    function renumber() {
      var number = 0;
      rows.querySelectorAll("[data-item-row]").forEach(function (row) {
        if (row.classList.contains("is-removed")) return;
        number += 1;
        var label = row.querySelector("[data-item-number]");
        if (label) label.textContent = String(number);
      });
      add.disabled = Boolean(max) && parseInt(total.value, 10) >= parseInt(max.value, 10);
    }

    add.addEventListener("click", function () {
      var index = parseInt(total.value, 10);
      if (max && index >= parseInt(max.value, 10)) return;
      rows.insertAdjacentHTML("beforeend", template.innerHTML.replace(/__prefix__/g, String(index)));
      total.value = String(index + 1);
      renumber();
      var first = rows.lastElementChild && rows.lastElementChild.querySelector("input:not([type=hidden]), select");
      if (first) first.focus();
    });

    rows.addEventListener("change", function (event) {
      var box = event.target;
      if (!(box instanceof HTMLInputElement) || !box.hasAttribute("data-item-remove")) return;
      var row = box.closest("[data-item-row]");
      var saved = row.querySelector('input[type=hidden][name$="-id"]');
      if (saved && saved.value) {
        row.classList.toggle("is-marked-removed", box.checked);
      } else if (box.checked) {
        row.classList.add("is-removed");
        renumber();
      }
    });

    renumber();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-formset]").forEach(init);
  });
})();

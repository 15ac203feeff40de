// Review page: the signature modal (reopened after a refused attempt, password shown only for an approval) and focus
// on the first field with an error after htmx puts a form back.
(function () {
  "use strict";

  function syncPassword(form) {
    if (!form) return;
    var chosen = form.querySelector('input[name="meaning"]:checked');
    var group = form.querySelector("[data-signature-password]");
    if (group) group.hidden = Boolean(chosen && chosen.value === "rejected");
  }

  function focusFirstError(root) {
    var invalid = root.querySelector(".is-invalid:not([disabled])");
    if (invalid) invalid.focus();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var modal = document.getElementById("signature-modal");
    if (modal) {
      syncPassword(modal.querySelector("form"));
      modal.addEventListener("shown.bs.modal", function () {
        var form = modal.querySelector("form");
        var target = form.querySelector(".is-invalid:not([disabled])") ||
          form.querySelector('input[name="meaning"]:not([disabled])');
        if (target) target.focus();
      });
      if (modal.dataset.openOnLoad === "true" && window.bootstrap) {
        window.bootstrap.Modal.getOrCreateInstance(modal).show();
      }
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.name === "meaning") syncPassword(event.target.form);
  });

  // An outerHTML swap replaces the target, so the new element is looked up by the id it keeps.
  document.addEventListener("htmx:afterSettle", function (event) {
    var old = event.detail.target;
    var swapped = old && old.id ? document.getElementById(old.id) : null;
    if (!swapped) return;
    if (swapped.id === "signature-form") syncPassword(swapped);
    if (swapped.id === "signature-form" || swapped.classList.contains("review-doc")) focusFirstError(swapped);
  });
})();

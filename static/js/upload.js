// Drag and drop on the checklist's upload forms. The forms work without this file (a file input and a button) and
// with htmx alone; this adds dropping a file on the zone and an upload progress bar. Listeners sit on the document,
// so a checklist swapped in by htmx needs no re-binding.
(function () {
  "use strict";

  function zoneOf(event) {
    return event.target instanceof Element ? event.target.closest("[data-dropzone]") : null;
  }

  function enhance(root) {
    root.querySelectorAll("[data-dropzone]").forEach(function (zone) {
      zone.classList.add("is-enhanced");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    enhance(document);
  });
  document.addEventListener("htmx:load", function (event) {
    enhance(event.target);
  });

  ["dragenter", "dragover"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var zone = zoneOf(event);
      if (!zone) return;
      event.preventDefault();
      zone.classList.add("is-dragover");
    });
  });

  document.addEventListener("dragleave", function (event) {
    var zone = zoneOf(event);
    if (zone && !zone.contains(event.relatedTarget)) zone.classList.remove("is-dragover");
  });

  document.addEventListener("drop", function (event) {
    var zone = zoneOf(event);
    if (!zone) return;
    event.preventDefault();
    zone.classList.remove("is-dragover");
    var files = event.dataTransfer && event.dataTransfer.files;
    var input = zone.querySelector("input[type=file]");
    if (!files || !files.length || !input) return;
    var one = new DataTransfer();
    one.items.add(files[0]);
    input.files = one.files;
    var form = zone.closest("form");
    if (form) form.requestSubmit();
  });

  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = event.target instanceof Element ? event.target.closest("[data-upload-form]") : null;
    var bar = form && form.querySelector(".upload-progress");
    if (!bar || !event.detail.lengthComputable) return;
    bar.hidden = false;
    bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
  });
})();

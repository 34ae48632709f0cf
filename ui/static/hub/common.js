// Small conveniences for every hub page (each also works without JS).
(function () {
  "use strict";
  document.querySelectorAll("select[data-autosubmit]").forEach(function (sel) {
    sel.addEventListener("change", function () { if (sel.value) sel.form.submit(); });
  });
})();

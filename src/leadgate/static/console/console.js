// leadgate console: the few behaviours that need JavaScript (loaded as a file: the CSP forbids
// inline scripts). Event delegation keeps them working across htmx-boosted page swaps.
(function () {
  "use strict";

  function copyFrom(button) {
    var field = document.querySelector(button.getAttribute("data-copy"));
    if (!field) return;
    var text = field.value || field.textContent;
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      button.setAttribute("data-copied", "true");
      setTimeout(function () { button.textContent = label; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {
        field.select();
      });
    } else {
      field.select();
      document.execCommand("copy");
      done();
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (button) {
      event.preventDefault();
      copyFrom(button);
    }
  });

  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("input[readonly].mono")) {
      event.target.select();
    }
  });
})();

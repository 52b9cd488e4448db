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

  // The pipeline board: dropping a deal on another stage submits the deal's own Move form (the
  // keyboard path) with that stage chosen.
  var dragged = null;

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest("[data-deal-id]");
    if (!card) return;
    dragged = card;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.getAttribute("data-deal-id"));
  });

  document.addEventListener("dragover", function (event) {
    if (dragged && event.target.closest && event.target.closest("[data-stage-id]")) {
      event.preventDefault();
    }
  });

  document.addEventListener("drop", function (event) {
    var column = event.target.closest && event.target.closest("[data-stage-id]");
    if (!dragged || !column) return;
    event.preventDefault();
    var form = dragged.querySelector("form[data-move]");
    var select = form && form.querySelector("select[name=stageId]");
    var stage = column.getAttribute("data-stage-id");
    dragged = null;
    if (!select || select.value === stage) return;
    select.value = stage;
    form.requestSubmit ? form.requestSubmit() : form.submit();
  });

  document.addEventListener("dragend", function () { dragged = null; });
})();

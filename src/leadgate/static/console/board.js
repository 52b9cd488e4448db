// The pipeline board: dragging a deal onto another stage submits the deal's own Move form
// (the keyboard path) with that stage chosen.
(function () {
  "use strict";
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

// The directory and admin pages' script. A form marked data-show-refusals shows the page's answer to a
// refused submission too (422: a row report or a reason; 413: a file too large) in place of its target:
// htmx swaps only 2xx answers by default, and a refusal must be read, not dropped.
document.addEventListener("htmx:beforeSwap", function (event) {
  var status = event.detail.xhr.status;
  var source = event.detail.elt;
  if ((status === 422 || status === 413) && source && source.closest && source.closest("[data-show-refusals]")) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

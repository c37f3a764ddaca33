// The console's own script, kept tiny. Canned replies: a button from /console/canned (data-answer)
// puts its answer into the reply box at the cursor, replacing any selected text.
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("button[data-answer]");
  var box = document.querySelector('form.reply textarea[name="text"]');
  if (!button || !box) return;
  var answer = button.getAttribute("data-answer");
  var start = box.selectionStart || 0, end = box.selectionEnd || 0;
  box.value = box.value.slice(0, start) + answer + box.value.slice(end);
  box.focus();
  box.selectionStart = box.selectionEnd = start + answer.length;
});

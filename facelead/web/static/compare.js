// The comparison view: the left and right arrow keys open the previous and next candidate.
document.addEventListener("keydown", (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey || event.target.closest("input, select, textarea")) return;
  const link = document.getElementById({ArrowLeft: "previous", ArrowRight: "next"}[event.key]);
  if (link) link.click();
});

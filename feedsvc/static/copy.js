// The "Copy address" button of a feed preview. Loaded as a file (never inline), so it runs under
// a strict Content-Security-Policy. Without JavaScript the address stays selectable in its box.
"use strict";

document.querySelectorAll("[data-copy-from]").forEach((button) => {
  const field = document.getElementById(button.dataset.copyFrom);
  const status = document.getElementById(button.dataset.copyStatus);
  if (!field || !status) return;
  button.hidden = false;
  button.addEventListener("click", async () => {
    field.focus();
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
      status.textContent = "Copied. Paste it into your feed reader.";
    } catch (error) {
      // No clipboard access (an insecure page, a denied permission): the text is selected.
      status.textContent = "Press Ctrl+C (or ⌘ C) to copy the selected address.";
    }
  });
});

// app.js — progressive enhancement for imagegate's UI (no inline script:
// the Content-Security-Policy forbids it). Every page works without it.
"use strict";

// A "Copy" button next to each input marked data-copy: it copies the
// input's value and says so in a live region, for screen readers too.
function addCopyButtons() {
  for (const input of document.querySelectorAll("input[data-copy]")) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Copy";
    button.setAttribute("aria-label", input.dataset.copy || "Copy the pull command");
    const status = document.createElement("span");
    status.className = "copied";
    status.setAttribute("role", "status");
    button.addEventListener("click", async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(input.value);
        status.textContent = "Copied";
      } catch {
        status.textContent = "Selected: press Ctrl+C to copy";
      }
    });
    input.insertAdjacentElement("afterend", button);
    button.insertAdjacentElement("afterend", status);
  }
}

document.addEventListener("DOMContentLoaded", addCopyButtons);

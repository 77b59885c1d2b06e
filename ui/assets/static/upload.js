// upload.js — the upload page: streams the chosen file to the gate
// (POST /ui/upload-image, which is POST /upload-image for the signed-in
// person), shows its progress from the upload's event stream, then the
// verdict. The CSRF token is read from the form (same-origin only) and
// sent as a header; nothing is stored in the browser.
"use strict";

(function () {
  const form = document.getElementById("upload-form");
  if (!form) {
    return;
  }
  const fields = document.getElementById("upload-fields");
  const fileInput = document.getElementById("file");
  const repoInput = document.getElementById("repository");
  const tagInput = document.getElementById("tag");
  const progressBox = document.getElementById("upload-progress");
  const bar = document.getElementById("bar");
  const stage = document.getElementById("stage");
  const resultBox = document.getElementById("upload-result");
  const verdict = document.getElementById("verdict");
  const fileNote = document.getElementById("file-note");
  fields.disabled = false; // the form needs this script: enabled only with it

  function formatBytes(n) {
    const units = ["B", "kB", "MB", "GB", "TB"];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) {
      n /= 1000;
      i++;
    }
    return (i === 0 ? String(n) : n.toFixed(1)) + " " + units[i];
  }

  // sizeText is n bytes for a person and exactly, as the server says it.
  function sizeText(n) {
    return n < 1000 ? n + " bytes" : formatBytes(n) + " (" + n + " bytes)";
  }

  // tooLarge is why file may not be sent: over upload.maxbytes, which the
  // page carries (the server refuses it anyway); "" when it may.
  function tooLarge(file) {
    const max = Number(form.dataset.maxBytes || 0);
    if (!file || !(max > 0) || file.size <= max) {
      return "";
    }
    return "The file is " + sizeText(file.size) + "; upload.maxbytes allows " + sizeText(max) + " on this server.";
  }

  fileInput.addEventListener("change", () => {
    if (fileNote) {
      fileNote.textContent = tooLarge(fileInput.files[0]);
    }
  });

  function newUploadID() {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return "ui-" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  // watch follows the upload's event stream until it ends; the stream
  // exists once the server has begun the upload, so a refused connection
  // is retried a few times.
  function watch(id, size) {
    let tries = 0;
    let ended = false;
    let source = null;
    function show(s) {
      const expected = s.bytes_expected || size;
      const pct = expected ? Math.min(100, Math.floor((s.bytes_received * 100) / expected)) : 0;
      bar.value = pct;
      bar.textContent = pct + " %";
      stage.textContent = s.stage + ": " + formatBytes(s.bytes_received) + " of " + formatBytes(expected) + " (" + pct + " %)";
      stage.dataset.stage = s.stage;
    }
    function open() {
      source = new EventSource("/ui/uploads/" + encodeURIComponent(id) + "/events");
      source.addEventListener("progress", (ev) => {
        tries = 0;
        const s = JSON.parse(ev.data);
        show(s);
        if (s.stage === "done" || s.stage === "failed") {
          ended = true;
          source.close();
        }
      });
      source.onerror = () => {
        source.close();
        if (!ended && tries++ < 40) {
          setTimeout(open, 250);
        }
      };
    }
    open();
    return () => {
      ended = true;
      if (source) {
        source.close();
      }
    };
  }

  function line(parent, text, cls) {
    const p = document.createElement("p");
    p.textContent = text;
    if (cls) {
      p.className = cls;
    }
    parent.append(p);
    return p;
  }

  function link(parent, href, text) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    parent.append(a);
    return a;
  }

  function showVerdict(status, body, repo) {
    verdict.replaceChildren();
    resultBox.hidden = false;
    if (status === 201 && body && body.images) {
      line(verdict, "Accepted: " + body.images.length + " image(s) stored.", "status status-accepted");
      const list = document.createElement("ul");
      list.className = "list";
      for (const img of body.images) {
        const li = document.createElement("li");
        const tags = (img.tags || []).join(", ");
        link(li, "/ui/image?name=" + encodeURIComponent(img.repository) + "&digest=" + encodeURIComponent(img.digest),
          img.repository + (tags ? ":" + tags : "") + " @ " + img.digest.slice(0, 19));
        const scan = img.scan ? " — scan: " + (img.scan.verdict || "recorded") : "";
        li.append(" " + formatBytes(img.size) + scan);
        list.append(li);
      }
      verdict.append(list);
      return;
    }
    const err = body && body.errors && body.errors[0];
    line(verdict, "Refused (" + status + (err ? " " + err.code : "") + ")", "status status-rejected");
    line(verdict, err ? err.message : "The server gave no reason.", "reason-text");
    if (repo && status !== 413) {
      const p = line(verdict, "A refusal by the gate is recorded in the ");
      link(p, "/ui/repository?name=" + encodeURIComponent(repo), "push history of " + repo);
      p.append(".");
    }
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const file = fileInput.files[0];
    if (!file || !form.reportValidity()) {
      return;
    }
    const over = tooLarge(file);
    if (over) {
      progressBox.hidden = true;
      verdict.replaceChildren();
      resultBox.hidden = false;
      line(verdict, "Not sent: the file is over this server's upload limit", "status status-rejected");
      line(verdict, over + " Nothing was sent.", "reason-text");
      return;
    }
    const id = newUploadID();
    const query = new URLSearchParams({ repository: repoInput.value });
    if (tagInput.value) {
      query.append("tag", tagInput.value);
    }
    fields.disabled = true;
    progressBox.hidden = false;
    resultBox.hidden = true;
    bar.value = 0;
    delete stage.dataset.stage;
    stage.textContent = "starting: " + formatBytes(file.size) + " to send";
    const stop = watch(id, file.size);
    let status = 0;
    let body = null;
    try {
      const resp = await fetch("/ui/upload-image?" + query.toString(), {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "X-Csrf-Token": form.dataset.csrf,
          "Imagegate-Upload-Id": id,
          "Content-Type": "application/octet-stream",
        },
        body: file,
      });
      status = resp.status;
      body = await resp.json().catch(() => null);
      if (!resp.ok && !stage.dataset.stage) {
        // Refused before the upload began (a limit, a permission): its
        // event stream will never exist.
        stop();
        stage.textContent = "failed: refused before the upload began";
        stage.dataset.stage = "failed";
      }
    } catch (e) {
      stop();
      body = { errors: [{ code: "NETWORK", message: "The upload did not complete: " + e.message }] };
    }
    showVerdict(status, body, repoInput.value);
    fields.disabled = false;
  });
})();

// Live comments: new comments arrive over a WebSocket and are added to the list;
// the form posts with fetch, so the page never reloads. Without JavaScript the
// form still works (a normal POST, then a redirect back to the post).
(function () {
  "use strict";
  const section = document.getElementById("comments");
  if (!section) return;
  const list = document.getElementById("comment-list");
  const empty = document.getElementById("no-comments");
  const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

  function show(comment) {
    if (list.querySelector(`[data-id="${Number(comment.id)}"]`)) return; // already shown
    const item = document.createElement("li");
    item.className = "comment";
    item.dataset.id = String(comment.id);
    const meta = document.createElement("p");
    meta.className = "comment-meta";
    const author = document.createElement("strong");
    author.textContent = comment.author; // text, never HTML
    const time = document.createElement("time");
    time.dateTime = comment.created_at;
    time.textContent = when.format(new Date(comment.created_at));
    meta.append(author, " ", time);
    const body = document.createElement("p");
    body.className = "comment-body";
    body.textContent = comment.body;
    item.append(meta, body);
    list.append(item);
    empty.hidden = true;
  }

  let delay = 500;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${section.dataset.live}`);
    socket.addEventListener("open", () => {
      delay = 500;
      section.dataset.connected = "yes";
    });
    socket.addEventListener("message", (event) => show(JSON.parse(event.data).data));
    socket.addEventListener("close", () => {
      section.dataset.connected = "no";
      setTimeout(connect, delay); // the server restarted, or the network blinked
      delay = Math.min(delay * 2, 10000);
    });
  }
  connect();

  const form = document.getElementById("comment-form");
  if (!form) return;
  const error = document.getElementById("comment-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) {
        const problem = await response.json().catch(() => ({}));
        error.textContent = problem.detail && typeof problem.detail === "string"
          ? problem.detail : "The comment could not be saved; try again.";
        error.hidden = false;
        return;
      }
      show(await response.json());
      form.reset();
    } finally {
      button.disabled = false;
    }
  });
})();

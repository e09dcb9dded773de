// The chat page's script: a static file, so the page's Content-Security-Policy
// (script-src 'self' plus a per-request nonce) lets it run without 'unsafe-inline'.
const log = document.getElementById("log");
const scheme = location.protocol === "https:" ? "wss" : "ws";
const ws = new WebSocket(`${scheme}://${location.host}${log.dataset.socket}`);
ws.onmessage = (event) => {
  const data = JSON.parse(event.data);
  const li = document.createElement("li");
  li.textContent = data.error ? `error: ${data.error}` : `${data.from}: ${data.text}`;
  log.appendChild(li);
};
ws.onopen = () => { document.body.dataset.connected = "yes"; };
document.getElementById("say").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("text");
  ws.send(JSON.stringify({text: input.value}));
  input.value = "";
});

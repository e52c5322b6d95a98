// Waiting-room display: re-reads the queue on every queue event; a chime and a flash when a number is called.
"use strict";
(function () {
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  let flashTicket = null;
  async function refresh() {
    const state = await (await fetch("/display/state", { cache: "no-store" })).json();
    document.getElementById("serving").innerHTML = state.serving.map((s) =>
      `<tr class="${s.ticket === flashTicket ? "flash" : ""}" data-desk="${esc(s.desk)}"><td class="ticket">${esc(s.ticket)}</td><td>${esc(s.desk)}</td></tr>`).join("");
    document.getElementById("next").innerHTML = state.next.map((n) => `<li>${esc(n)}</li>`).join("");
    document.getElementById("waiting-count").textContent = `Đang chờ / Waiting: ${state.waiting_count}`;
    document.body.dataset.updated = String(Date.now());
  }
  const events = new EventSource("/api/events");
  events.addEventListener("open", () => { document.body.dataset.live = "1"; refresh(); });
  events.addEventListener("queue", (ev) => {
    const data = JSON.parse(ev.data);
    if (data.state === "called") { flashTicket = data.ticket; playSound("call"); }
    refresh();
  });
  refresh();
})();

// Staff desk: the queue board re-reads itself on queue events; staff alerts (printer problems) show as banners.
"use strict";
(function () {
  const board = document.getElementById("board");
  const alerts = document.getElementById("alerts");
  const timer = document.querySelector("[data-observation-left]");
  if (timer) {
    let left = Number(timer.dataset.observationLeft);
    const tick = () => {
      const m = Math.floor(Math.max(left, 0) / 60), s = Math.max(left, 0) % 60;
      timer.textContent = `${m}:${String(s).padStart(2, "0")}`;
      left -= 1;
    };
    tick();
    setInterval(tick, 1000);
  }
  if (!document.querySelector("nav")) return;  // not logged in
  const events = new EventSource("/api/events");
  events.addEventListener("open", () => { document.body.dataset.live = "1"; });
  events.addEventListener("queue", async () => {
    if (!board) return;
    const resp = await fetch(board.dataset.src, { cache: "no-store" });
    if (resp.ok) board.innerHTML = await resp.text();
  });
  events.addEventListener("staff_alert", (ev) => {
    const data = JSON.parse(ev.data);
    const p = document.createElement("p");
    p.className = "alert";
    p.setAttribute("role", "alert");
    p.textContent = `Máy in gặp sự cố – phiếu số ${data.ticket} chưa in được (Printer problem – ticket ${data.ticket} not printed). ${data.detail || ""}`;
    alerts.prepend(p);
    playSound("error");
  });
})();

// Staff desk: the queue board re-reads itself on queue events; staff alerts (printer problems, entries that did not
// match a check-in, paused look-ups) show as banners, and the board re-reads itself for the flags they leave.
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
  async function reloadBoard() {
    if (!board) return;
    const resp = await fetch(board.dataset.src, { cache: "no-store" });
    if (resp.ok) board.innerHTML = await resp.text();
  }
  function hhmm(wall) {
    const d = new Date(wall);
    return isNaN(d) ? "" : d.toLocaleTimeString("vi-VN", { hour: "2-digit", minute: "2-digit" });
  }
  const ALERTS = {
    printer_problem: (d) => `Máy in gặp sự cố – phiếu số ${d.ticket} chưa in được (Printer problem – ticket ${d.ticket} not printed). ${d.detail || ""}`,
    identity_mismatch: (d) => `Số ${d.ticket}: một lần quét/nhập với số định danh này không khớp họ tên hoặc ngày sinh – xem thẻ trước khi khám (Ticket ${d.ticket}: an entry with this ID number did not match – check the card before screening).`,
    lookups_paused: (d) => (d.scope === "kiosk" ? "Kiosk" : `Số ${d.id_masked}`) + `: nhập sai nhiều lần, tạm dừng tra cứu đến ${hhmm(d.until)} (too many entries that did not match: look-ups paused until ${hhmm(d.until)}).`,
  };
  events.addEventListener("queue", reloadBoard);
  events.addEventListener("staff_alert", (ev) => {
    const data = JSON.parse(ev.data);
    const p = document.createElement("p");
    p.className = "alert";
    p.setAttribute("role", "alert");
    p.dataset.code = data.code || "";
    p.textContent = (ALERTS[data.code] || ALERTS.printer_problem)(data);
    alerts.prepend(p);
    playSound("error");
    if (data.code !== "printer_problem") reloadBoard();
  });
})();

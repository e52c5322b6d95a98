// Staff desk: the queue board re-reads itself on queue events (and every 20 s, for the observation countdowns);
// staff alerts (printer problems, entries that did not match a check-in, paused look-ups) show as banners, and the
// board re-reads itself for the flags they leave. The printer banner (server-rendered from the printer part's health)
// re-reads itself on printer events, so every board shows the printer's state until it is fixed. An observation
// that has ended is highlighted by the server; this script chimes once for each newly ended one.
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
  const printer = document.getElementById("printer-state");
  const chimed = new Set();
  function chimeForEndedObservations() {
    if (!board) return;
    let fresh = false;
    for (const row of board.querySelectorAll("tr.observation-over")) {
      if (!chimed.has(row.dataset.ticket)) { chimed.add(row.dataset.ticket); fresh = true; }
    }
    if (fresh) playSound("call");
  }
  async function reload(el) {
    if (!el) return;
    const resp = await fetch(el.dataset.src, { cache: "no-store" });
    if (resp.ok) el.innerHTML = await resp.text();
  }
  async function reloadBoard() {
    await reload(board);
    chimeForEndedObservations();
  }
  chimeForEndedObservations();
  if (board) setInterval(reloadBoard, 20000);
  function hhmm(wall) {
    const d = new Date(wall);
    return isNaN(d) ? "" : d.toLocaleTimeString("vi-VN", { hour: "2-digit", minute: "2-digit" });
  }
  const ALERTS = {
    printer_problem: (d) => `Máy in gặp sự cố – phiếu số ${d.ticket} chưa in được, hãy báo số cho người dân (Printer problem – ticket ${d.ticket} not printed; tell the citizen their number).`,
    identity_mismatch: (d) => `Số ${d.ticket}: một lần quét/nhập với số định danh này không khớp họ tên hoặc ngày sinh – xem thẻ trước khi khám (Ticket ${d.ticket}: an entry with this ID number did not match – check the card before screening).`,
    lookups_paused: (d) => (d.scope === "kiosk" ? "Kiosk" : `Số ${d.id_masked}`) + `: nhập sai nhiều lần, tạm dừng tra cứu đến ${hhmm(d.until)} (too many entries that did not match: look-ups paused until ${hhmm(d.until)}).`,
  };
  events.addEventListener("queue", reloadBoard);
  events.addEventListener("printer", () => reload(printer));
  events.addEventListener("staff_alert", (ev) => {
    const data = JSON.parse(ev.data);
    const p = document.createElement("p");
    p.className = "alert";
    p.setAttribute("role", "alert");
    p.dataset.code = data.code || "";
    p.textContent = (ALERTS[data.code] || ALERTS.printer_problem)(data);
    alerts.prepend(p);
    playSound("error");
    if (data.code === "printer_problem") reload(printer); else reloadBoard();
  });
})();

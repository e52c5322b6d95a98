// Waiting-room display: re-reads the queue on every queue event. A call flashes its row, plays the chime (heads turn
// to the screen) and then the spoken call made by the kiosk (kiosk.speech); without a clip the chime is all.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const CHIME_MS = 1000;  // sound.js "call" lasts 0.95 s
  let flashTicket = null;
  let announcing = Promise.resolve();  // one call spoken at a time, in the order they were made

  async function refresh() {
    const state = await (await fetch("/display/state", { cache: "no-store" })).json();
    $("serving").innerHTML = state.serving.map((s) =>
      `<tr class="${s.ticket === flashTicket ? "flash" : ""}" data-desk="${esc(s.desk)}"><td class="ticket">${esc(s.ticket)}</td><td>${esc(s.desk)}</td></tr>`).join("");
    $("no-serving").classList.toggle("hidden", state.serving.length > 0);
    $("next").innerHTML = state.next.map((n) => `<li>${esc(n)}</li>`).join("");
    $("waiting-count").textContent = `Đang chờ / Waiting: ${state.waiting_count}`;
    $("wait-estimate").textContent = waitText(state);
    document.body.dataset.updated = String(Date.now());
  }
  function waitText(state) {
    if (!state.waiting_count) return "Không phải chờ / No wait";
    const m = state.wait_minutes;
    return m < 1 ? "Thời gian chờ: dưới 1 phút / Wait: under 1 min"
      : `Thời gian chờ: khoảng ${m} phút / Wait: about ${m} min`;
  }

  function speak(ticket) {
    return new Promise((done) => {
      const audio = new Audio(`/display/call/${encodeURIComponent(ticket)}.wav`);
      const end = (how) => { document.body.dataset.lastSpeech = how; done(); };
      audio.addEventListener("playing", () => { document.body.dataset.lastSpeech = `speaking:${ticket}`; });
      audio.addEventListener("ended", () => end(`spoken:${ticket}`));
      audio.addEventListener("error", () => end("chime-only"));  // no espeak-ng, or it failed: the chime stays
      audio.play().catch(() => end("chime-only"));
    });
  }
  function announce(ticket) {
    announcing = announcing.then(() => new Promise((done) => {
      playSound("call");
      setTimeout(() => speak(ticket).then(done), CHIME_MS);
    }));
  }

  const events = new EventSource("/api/events");
  events.addEventListener("open", () => { document.body.dataset.live = "1"; refresh(); });
  events.addEventListener("queue", (ev) => {
    const data = JSON.parse(ev.data);
    if (data.state === "called") { flashTicket = data.ticket; announce(data.ticket); }
    refresh();
  });
  refresh();
})();

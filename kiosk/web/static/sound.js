// Short tones made with WebAudio: nothing to download, works offline. The kiosk browser runs with
// --autoplay-policy=no-user-gesture-required; elsewhere the first touch unlocks the audio.
"use strict";
(function () {
  let ctx = null;
  const TUNES = {
    success: [[660, 0.12], [880, 0.18]],
    error: [[330, 0.25], [247, 0.35]],
    call: [[523, 0.25], [659, 0.25], [784, 0.45]],
  };
  function context() {
    if (!ctx) {
      const AC = window.AudioContext || window.webkitAudioContext;
      if (!AC) return null;
      ctx = new AC();
    }
    if (ctx.state === "suspended") ctx.resume();
    return ctx;
  }
  window.playSound = function (name) {
    document.body.dataset.lastSound = name;  // lets tests and the technician see that a sound was asked for
    document.body.dataset.soundCount = String(Number(document.body.dataset.soundCount || 0) + 1);
    const ac = context();
    if (!ac) return;
    let t = ac.currentTime + 0.01;
    for (const [freq, dur] of TUNES[name] || []) {
      const osc = ac.createOscillator();
      const gain = ac.createGain();
      osc.type = "sine";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.4, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + dur);
      osc.connect(gain).connect(ac.destination);
      osc.start(t);
      osc.stop(t + dur + 0.02);
      t += dur;
    }
  };
  window.addEventListener("pointerdown", context, { once: true });
})();

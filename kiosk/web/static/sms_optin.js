// The SMS opt-in after a check-in: a mobile number on the keypad and the citizen's consent, sent to /checkin/sms.
// Loaded only when the kiosk has an SMS part; the screens and helpers are citizen.js's (window.kioskScreen).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const MAX_DIGITS = 12;  // +84 and 9 digits
  let checkinId = null;
  let phone = "";
  let agreed = false;
  let busy = false;

  function render() {
    // 0912 345 678 / +84 912 345 678, the way the number is read out
    const grouped = phone.startsWith("+84") ? "+84 " + phone.slice(3).replace(/(\d{3})(?=\d)/g, "$1 ")
      : phone.replace(/^(\d{4})(\d{0,3})(\d*)$/, (m, a, b, c) => [a, b, c].filter(Boolean).join(" "));
    $("sms-phone").textContent = grouped;
    $("sms-agree").setAttribute("aria-pressed", String(agreed));
    $("sms-agree").classList.toggle("primary", agreed);
    $("sms-agree-box").textContent = agreed ? "☑" : "☐";
  }
  function open(id) {
    const K = window.kioskScreen;
    checkinId = id;
    phone = "";
    agreed = false;
    $("sms-msg").textContent = "";
    render();
    K.show("sms");
    K.homeAfter(K.entryIdleSeconds);
  }
  function press(key) {
    window.kioskScreen.homeAfter(window.kioskScreen.entryIdleSeconds);
    if (key === "back") phone = phone.slice(0, -1);
    else if (key === "+") { if (phone === "") phone = "+"; }
    else if (phone.length < MAX_DIGITS) phone += key;
    render();
  }
  async function submit() {
    const K = window.kioskScreen;
    if (busy) return;
    busy = true;
    try {
      const data = await K.post("/checkin/sms", { checkin_id: checkinId, phone, agree: agreed });
      if (!data.ok) {
        $("sms-msg").innerHTML = K.T(data.error.message_vi, data.error.message_en);
        $("sms-msg").dataset.code = data.error.code;
        playSound("error");
        return;
      }
      $("result-body").className = "result ok";
      $("result-body").dataset.result = "sms_optin";
      $("result-body").innerHTML = `<h2>${K.T("Đã đăng ký nhận tin nhắn", "You will get texts")}</h2>
        <p data-testid="sms-phone-masked">${K.T("Tin nhắn sẽ gửi tới", "Texts go to")} <strong>${K.esc(data.phone_masked)}</strong></p>
        <p class="what-to-do">${K.T(`Bạn có thể chờ bên ngoài: chúng tôi nhắn tin khi số ${data.ticket} gần đến lượt.`, `You may wait outside: we text you when number ${data.ticket} is near.`)}</p>`;
      $("result-actions").innerHTML = `<button type="button" class="primary" data-action="home">${K.T("Xong", "Done")}</button>`;
      K.show("result");
      playSound("success");
      K.homeAfter(12);
    } finally {
      busy = false;
    }
  }

  document.addEventListener("click", (ev) => {
    const b = ev.target.closest("button");
    if (!b || !b.closest("#sms")) return;
    if (b.dataset.smsKey !== undefined) press(b.dataset.smsKey);
    else if (b.id === "sms-agree") { agreed = !agreed; render(); }
    else if (b.id === "sms-submit") submit();
  });
  window.smsOptin = { open };
})();

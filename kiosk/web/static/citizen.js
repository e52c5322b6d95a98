// Citizen screen: idle → (scan event | manual entry | record check) → result → idle on its own.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const RESULT_SECONDS = { ok: 12, bad: 15 };
  const ENTRY_IDLE_SECONDS = 90;
  const ENTRY_WARN_SECONDS = 15;  // "still there?" this long before a typed entry is given up
  const RECORD_RENEW_SECONDS = 2;  // the record-check lease (kiosk.scanning.record_check.RecordCheck.LEASE_SECONDS) is 6 s
  let homeTimer = null;
  let warnTimer = null;
  let entryIdleRunning = false;
  let renewTimer = null;
  let pendingScan = null;  // a scan that arrived while someone was typing: offered, never drawn over their entry
  let manualBusy = false;
  let entryMode = "checkin";  // or "record": the same keypad and fields, for a lookup instead of a check-in
  let recordToken = null;

  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const T = (vi, en) => `<span class="vi">${esc(vi)}</span><span class="en" lang="en">${esc(en)}</span>`;

  // -- screens ---------------------------------------------------------------------------------------------
  function show(id) {
    for (const s of document.querySelectorAll(".screen")) s.classList.toggle("hidden", s.id !== id);
    document.body.dataset.screen = id;
  }
  // Idle is the same for everyone: Vietnamese, check-in mode, nothing of the last person left.
  // A scan that waited for a typed entry to end is shown then, unless it is older than this.
  const PENDING_SCAN_SECONDS = 60;
  function home() {
    stopTimers();
    stopRecord();
    entryMode = "checkin";
    recordToken = null;
    values.id = values.name = values.dob = "";
    setLanguage("vi");
    show("idle");
    const waiting = pendingScan;
    pendingScan = null;
    $("scan-waiting").classList.add("hidden");
    if (waiting && Date.now() - waiting.received < PENDING_SCAN_SECONDS * 1000) showScan(waiting.data);
  }
  function stopTimers() {
    clearTimeout(homeTimer);
    clearTimeout(warnTimer);
    entryIdleRunning = false;
    $("idle-warning").classList.add("hidden");
  }
  function homeAfter(seconds) {
    stopTimers();
    homeTimer = setTimeout(home, seconds * 1000);
  }
  // Typing and the record check give up after 90 s without a touch, and say so 15 s before.
  function entryIdle() {
    homeAfter(ENTRY_IDLE_SECONDS);
    entryIdleRunning = true;
    warnTimer = setTimeout(() => {
      $("idle-warning").classList.remove("hidden");
      playSound("error");
    }, (ENTRY_IDLE_SECONDS - ENTRY_WARN_SECONDS) * 1000);
  }
  function setLanguage(lang) {
    document.body.classList.toggle("lang-en", lang === "en");
    document.documentElement.lang = lang;
  }
  // The server keeps the record check open only while this screen renews it: a closed browser ends it.
  async function startRecord() {
    await post("/record/start", {});
    document.body.dataset.recordOpen = "1";
    clearInterval(renewTimer);
    renewTimer = setInterval(async () => {
      const got = await post("/record/renew", {});
      // Past its 90 s the window is over: "scan your card now" would check in, so the screen says nothing of it.
      if (got.open === false && document.body.dataset.screen === "record") home();
    }, RECORD_RENEW_SECONDS * 1000);
  }
  function stopRecord() {
    clearInterval(renewTimer);
    renewTimer = null;
    if (document.body.dataset.recordOpen === "1") {
      post("/record/stop", {}).then(() => { document.body.dataset.recordOpen = "0"; });
    }
  }
  function button(label, action, cls) {
    return `<button type="button" class="${cls || ""}" data-action="${action}">${label}</button>`;
  }
  // Offered after a check-in when the kiosk sends texts (sms_optin.js).
  const smsButton = () => (document.body.dataset.sms === "1"
    ? button(T("Nhắn tin cho tôi khi gần đến lượt", "Text me when my turn is near"), "sms", "") : "");

  // -- what to do after each kind of error (the parser's message says what is wrong) --------------------------
  const ADVICE = {
    unreadable: ["Giữ thẻ yên, cách camera khoảng 15 cm, rồi thử lại.", "Hold the card still, about 15 cm from the camera, and try again."],
    not_id: ["Hãy dùng mã QR trên thẻ: thẻ CCCD gắn chip có mã ở mặt trước, góc trên bên phải; thẻ căn cước mới có mã ở mặt sau.",
             "Please use the QR code on your ID card: on the front, top right, of the chip CCCD; on the back of the new căn cước."],
    invalid: ["Nếu thẻ của bạn đúng, hãy nhập tay hoặc gặp nhân viên.", "If your card is right, type your details or see a staff member."],
    staff: ["Vui lòng gặp nhân viên tại bàn đón tiếp.", "Please see a staff member at the reception desk."],
    mismatch: ["Nhân viên tại bàn đón tiếp sẽ xem thẻ căn cước của bạn.", "A staff member at the reception desk will look at your ID card."],
  };
  // Refusals about whose record this is: the screen shows neither the stored nor the typed details.
  const MISMATCH = ["identity_mismatch", "record_mismatch", "lookups_paused"];
  function adviceFor(code) {
    if (["empty", "not_utf8"].includes(code)) return ADVICE.unreadable;
    if (["unsupported_code", "bad_field_count", "too_long", "reformatted_text", "kiosk_code"].includes(code)) return ADVICE.not_id;
    if (["disk_full"].includes(code)) return ADVICE.staff;
    if (MISMATCH.includes(code)) return ADVICE.mismatch;
    return ADVICE.invalid;
  }
  const TITLES = {
    unreadable: ["Chưa đọc được mã", "The code could not be read"],
    not_id: ["Đây không phải mã QR thẻ căn cước", "This is not an ID card QR code"],
    invalid: ["Thông tin trên thẻ không hợp lệ", "The ID details are not valid"],
    staff: ["Chưa thể đăng ký", "Check-in is not possible right now"],
    mismatch: ["Vui lòng gặp nhân viên", "Please see a staff member"],
  };
  function titleFor(code) {
    const advice = adviceFor(code);
    const key = Object.keys(ADVICE).find((k) => ADVICE[k] === advice);
    return TITLES[key];
  }

  // -- scan results ------------------------------------------------------------------------------------------
  // Events carry no names: the ticket and the name as read come from the kiosk's own loopback-only view.
  async function showScan(data) {
    if (data.result === "checked_in" || data.result === "already_checked_in") {
      try {
        const resp = await fetch(`/checkin/${encodeURIComponent(data.checkin_id)}/view`, { cache: "no-store" });
        const view = await resp.json();
        if (view.ok) data = { ...data, name: view.name, reprints_left: view.reprints_left,
                              printer_problem: data.result === "checked_in" ? view.printer_problem : null };
      } catch (e) { /* the ticket number from the event is still shown */ }
    } else if (data.error && data.error.code === "number_only_needs_details") {
      // The event has the number masked; the kiosk's own view hands it over once, to fill in the keypad.
      let number = "";
      if (data.prefill) {
        try {
          const resp = await fetch(`/checkin/prefill/${encodeURIComponent(data.prefill)}`, { cache: "no-store" });
          const got = await resp.json();
          if (got.ok) number = got.id_number;
        } catch (e) { /* the citizen types the number too */ }
      }
      openEntry(document.body.dataset.recordOpen === "1" ? "record" : "checkin", number);
      $("manual-msg").innerHTML = T(data.error.message_vi, data.error.message_en);
      playSound("error");
      return;
    }
    const body = $("result-body");
    const actions = $("result-actions");
    const panel = body;
    panel.className = "result";
    let sound = "success";
    if (data.result === "checked_in" && data.printer_problem) {
      panel.classList.add("warn");
      body.innerHTML = `<h2>${T("Đã đăng ký – máy in gặp sự cố", "Checked in – printer problem")}</h2>
        <p>${T("Số thứ tự của bạn", "Your number")}</p><p class="big-ticket" data-testid="ticket">${esc(data.ticket)}</p>
        <p class="name-as-read">${esc(data.name)}</p>
        <p class="what-to-do">${T(data.printer_problem.message_vi, data.printer_problem.message_en)}</p>`;
      actions.innerHTML = smsButton() + button(T("Xong", "Done"), "home", "primary");
      actions.dataset.checkinId = data.checkin_id;
      sound = "error";
    } else if (data.result === "checked_in") {
      panel.classList.add("ok");
      body.innerHTML = `<h2>${T("Đăng ký thành công", "You are checked in")}</h2>
        <p>${T("Số thứ tự của bạn", "Your number")}</p><p class="big-ticket" data-testid="ticket">${esc(data.ticket)}</p>
        <p class="name-as-read">${esc(data.name)}</p>
        <p class="what-to-do">${T("Mời lấy phiếu bên dưới và ngồi chờ gọi số.", "Please take your ticket below and wait for your number.")}</p>
        <p class="sub">${T("Nếu tên không đúng, vui lòng báo nhân viên.", "If the name is wrong, please tell a staff member.")}</p>`;
      actions.innerHTML = smsButton() + button(T("Xong", "Done"), "home", "primary");
      actions.dataset.checkinId = data.checkin_id;
    } else if (data.result === "already_checked_in") {
      panel.classList.add("warn");
      body.innerHTML = `<h2>${T("Bạn đã đăng ký hôm nay", "You already checked in today")}</h2>
        <p>${T("Số thứ tự của bạn", "Your number")}</p><p class="big-ticket" data-testid="ticket">${esc(data.ticket)}</p>
        <p class="name-as-read">${esc(data.name)}</p>
        <p class="what-to-do" id="reprint-msg">${data.reprints_left === 0
          ? T("Không cần đăng ký lại. Cần phiếu mới? Vui lòng gặp nhân viên.", "No need to check in again. Need a new ticket? Please see a staff member.")
          : T("Không cần đăng ký lại. Mất phiếu? Bấm “In lại phiếu”.", "No need to check in again. Lost your ticket? Press “Reprint ticket”.")}</p>`;
      actions.innerHTML = (data.reprints_left === 0 ? "" : button(T("In lại phiếu", "Reprint ticket"), "reprint", ""))
        + smsButton() + button(T("Xong", "Done"), "home", "primary");
      actions.dataset.checkinId = data.checkin_id;
    } else if (data.result === "record_lookup") {
      loadRecord(data.token);
      return;
    } else if (data.result === "kiosk_code" && data.certificate) {
      // A vaccination certificate held to the camera: checked offline against the trust list.
      const c = data.certificate;
      panel.classList.add(c.valid ? "ok" : "bad");
      const doses = (c.doses || []).map((d) =>
        `<li>${T("Mũi", "Dose")} ${esc(d.dose_number)}/${esc(d.series)} · ${esc(String(d.date || "").split("-").reverse().join("/"))}</li>`).join("");
      body.innerHTML = `<h2>${c.valid ? T("Giấy chứng nhận hợp lệ", "Valid certificate") : T("Giấy chứng nhận không hợp lệ", "Certificate not valid")}</h2>
        <p>${T(c.message_vi, c.message_en)}</p><ul class="doses">${doses}</ul>`;
      actions.innerHTML = button(T("Xong", "Done"), "home", "primary");
      if (!c.valid) sound = "error";
    } else {
      const code = data.result === "kiosk_code" ? "kiosk_code" : (data.error || {}).code;
      const title = titleFor(code);
      const advice = adviceFor(code);
      panel.classList.add("bad");
      const detail = data.result === "kiosk_code"
        ? T("Mã này là của giấy chứng nhận hoặc lịch hẹn, không phải thẻ căn cước.", "This code is from a certificate or appointment, not an ID card.")
        : T(data.error.message_vi, data.error.message_en);
      body.innerHTML = `<h2>${T(title[0], title[1])}</h2><p>${detail}</p><p class="what-to-do">${T(advice[0], advice[1])}</p>`;
      actions.innerHTML = button(T("Nhập tay", "Type my details"), "manual", "") + button(T("Thử lại", "Try again"), "home", "primary");
      sound = "error";
    }
    body.dataset.result = data.result;
    body.dataset.code = (data.error || {}).code || "";
    show("result");
    playSound(sound);
    // Stamped at the next frame (the screen has been drawn): bench/screens_latency.py reads it.
    requestAnimationFrame(() => {
      document.body.dataset.lastScanShown = JSON.stringify({ at: data.at || null, shown: Date.now(), result: data.result });
    });
    homeAfter(sound === "success" ? RESULT_SECONDS.ok : RESULT_SECONDS.bad);
  }

  async function post(url, body) {
    const resp = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    let data = {};
    try { data = await resp.json(); } catch (e) { data = { ok: false, error: { code: "http_" + resp.status, message_vi: "Có lỗi, vui lòng thử lại.", message_en: "Something went wrong, please try again." } }; }
    return data;
  }

  async function reprint() {
    const id = $("result-actions").dataset.checkinId;
    const data = await post("/checkin/reprint", { checkin_id: id });
    const msg = $("reprint-msg");
    if (data.ok) {
      msg.innerHTML = T("Đang in lại phiếu. Mời lấy phiếu bên dưới.", "Reprinting your ticket. Please take it below.");
      playSound("success");
      if (data.reprints_left === 0) removeReprint();
    } else {
      if (data.error.code === "reprint_limit") removeReprint();
      msg.innerHTML = T(data.error.message_vi, data.error.message_en);
      playSound("error");
    }
    homeAfter(RESULT_SECONDS.ok);
  }

  function removeReprint() {
    const b = document.querySelector("#result-actions [data-action=reprint]");
    if (b) b.remove();
  }

  // -- manual entry: one keypad for the number and the date, letters for the name ------------------------------
  const values = { id: "", name: "", dob: "" };
  let field = "id";
  const TONE = /^[\u0300\u0301\u0303\u0309\u0323]$/;

  function render() {
    $("f-id").textContent = values.id.replace(/(\d{3})(?=\d)/g, "$1 ");
    $("f-name").textContent = values.name;
    const d = values.dob;
    $("f-dob").textContent = [d.slice(0, 2), d.slice(2, 4), d.slice(4, 8)].filter(Boolean).join("/");
    for (const f of ["id", "name", "dob"]) $("f-" + f).classList.toggle("active", f === field);
    $("digits").classList.toggle("hidden", field === "name");
    $("letters").classList.toggle("hidden", field !== "name");
  }
  function fieldsInOrder() { return ["id", "name", "dob"]; }
  function openEntry(mode, idNumber) {
    entryMode = mode;
    values.id = idNumber || "";
    values.name = values.dob = "";
    field = values.id.length === 12 ? "name" : "id";
    $("manual-msg").textContent = "";
    render();
    show("manual");
    entryIdle();
  }
  // Back to a half-typed entry after looking at a scan that came in meanwhile: what was typed is still there.
  function resumeEntry() {
    render();
    show("manual");
    entryIdle();
  }
  function typing() {
    return document.body.dataset.screen === "manual" && Boolean(values.id || values.name || values.dob);
  }
  function offerScan(data) {
    document.body.dataset.scansHeld = String(Number(document.body.dataset.scansHeld || 0) + 1);  // for tests
    // A card's check-in waiting to be seen is not pushed aside by a poster's QR read after it.
    if (pendingScan && pendingScan.data.result !== "error" && data.result === "error") return;
    pendingScan = { data, received: Date.now() };
    $("scan-waiting").classList.remove("hidden");
    playSound("success");
  }
  async function showPendingScan() {
    const data = pendingScan && pendingScan.data;
    pendingScan = null;
    $("scan-waiting").classList.add("hidden");
    if (!data) return;
    await showScan(data);
    // A result screen over a half-typed entry can go back to it; a scan that opens the keypad replaces it.
    if (document.body.dataset.screen === "result" && (values.id || values.name || values.dob)) {
      $("result-actions").insertAdjacentHTML("afterbegin", button(T("Tiếp tục nhập", "Back to typing"), "resume", ""));
    }
  }
  function press(key) {
    entryIdle();
    const max = Number($("f-" + field).dataset.max);
    if (key === "back") {
      values[field] = Array.from(values[field].normalize("NFD").replace(/.$/u, "")).join("").normalize("NFC");
    } else if (key === "next") {
      const order = fieldsInOrder();
      const i = order.indexOf(field);
      if (i === order.length - 1) return submitEntry();
      field = order[i + 1];
    } else if (TONE.test(key)) {
      // A tone mark goes on the vowel just typed (replacing its tone, if any): tap "Ô" then "á" for "Ố".
      const base = values[field].normalize("NFD").replace(/[\u0300\u0301\u0303\u0309\u0323]+$/, "");
      if (/[AEIOUY][\u0302\u0306\u031b]*$/.test(base)) values[field] = (base + key).normalize("NFC");
    } else if (values[field].length < max) {
      values[field] += key;
    }
    render();
  }
  function titleCase(name) {
    // "KSOR H'WEN" → "Ksor H'Wen": each part of a word after a blank, an apostrophe or a hyphen starts upper case.
    return name.trim().split(/\s+/).map((w) => w.toLocaleLowerCase("vi").replace(/(^|['-])(\p{L})/gu,
      (m, sep, ch) => sep + ch.toLocaleUpperCase("vi"))).join(" ");
  }
  function fieldForError(code) {
    if (["bad_name"].includes(code)) return "name";
    if (["bad_dob", "dob_in_future", "dob_too_old", "id_year_mismatch"].includes(code)) return "dob";
    return "id";
  }
  async function submitEntry() {
    if (manualBusy) return;
    manualBusy = true;
    document.body.dataset.entryBusy = "1";
    try {
      const dob = values.dob.length === 8 ? `${values.dob.slice(0, 2)}/${values.dob.slice(2, 4)}/${values.dob.slice(4)}` : values.dob;
      const typed = { id_number: values.id, full_name: titleCase(values.name), dob };
      const data = await post(entryMode === "record" ? "/record/lookup" : "/checkin/manual", typed);
      if (data.ok && data.token) return loadRecord(data.token);
      // Not this person's record: leave the keypad, so what was typed does not stay on a public screen.
      if (data.error && MISMATCH.includes(data.error.code)) return showScan({ result: "error", error: data.error });
      if (data.error && (data.result === "error" || data.ok === false)) return entryError(data.error);
      showScan(data);
    } finally {
      // The keypad's own scan event arrives meanwhile and is not drawn twice; body[data-entry-busy] says when
      // scans are shown again.
      setTimeout(() => { manualBusy = false; document.body.dataset.entryBusy = "0"; }, 300);
    }
  }
  function entryError(err) {
    $("manual-msg").innerHTML = T(err.message_vi, err.message_en);
    field = fieldForError(err.code);
    render();
    playSound("error");
  }

  // -- record check and corrections -----------------------------------------------------------------------------
  async function openRecord() {
    entryMode = "record";
    await startRecord();
    $("record-body").innerHTML = `<p class="instruction">${T("Đưa mã QR trên thẻ căn cước vào trước camera để xem các mũi tiêm.", "Hold your ID card QR code in front of the camera to see your doses.")}</p>`;
    $("record-actions").innerHTML = button(T("Nhập số thẻ, họ tên và ngày sinh", "Type ID number, name and birth date"), "record-type", "") + button(T("Quay lại", "Back"), "home", "danger");
    show("record");
    entryIdle();
  }
  async function loadRecord(token) {
    recordToken = token;
    const resp = await fetch("/record/" + encodeURIComponent(token));
    const data = await resp.json();
    if (!data.ok) { $("record-body").innerHTML = `<p>${T(data.error.message_vi, data.error.message_en)}</p>`; show("record"); return; }
    const rows = data.doses.map((d) => `<tr><td>${esc(d.dose_number)}</td><td>${esc(d.vaccine)}</td><td>${esc(d.day)}</td><td>${esc(d.lot)}</td></tr>`).join("");
    $("record-body").innerHTML = `<p>${T("Số thẻ", "ID")}: <strong>${esc(data.id_masked)}</strong></p>` + (data.doses.length
      ? `<table class="doses" data-testid="doses"><caption class="hidden">${T("Các mũi tiêm", "Doses")}</caption><thead><tr><th>${T("Mũi", "Dose")}</th><th>${T("Vắc xin", "Vaccine")}</th><th>${T("Ngày", "Date")}</th><th>${T("Số lô", "Lot")}</th></tr></thead><tbody>${rows}</tbody></table>`
      : `<p data-testid="no-doses">${T("Chưa có mũi tiêm nào được ghi nhận tại điểm tiêm này.", "No doses are recorded at this site.")}</p>`);
    $("record-actions").innerHTML = button(T("Báo thiếu mũi tiêm", "Report a missing dose"), "fix-missing_dose", "")
      + (data.doses.length ? button(T("Báo sai mũi tiêm", "Report a wrong dose"), "fix-wrong_dose", "") : "")
      + button(T("Xong", "Done"), "home", "primary");
    $("record-actions").dataset.doses = JSON.stringify(data.doses);
    $("record-actions").dataset.vaccines = JSON.stringify(data.vaccines || []);
    show("record");
    entryIdle();
  }
  const REASONS = {
    missing_dose: [["Tôi đã tiêm ở đây nhưng không thấy mũi này", "I had this dose here but it is not listed"]],
    wrong_dose: [["Sai loại vắc xin", "Wrong vaccine"], ["Sai ngày tiêm", "Wrong date"], ["Sai số mũi", "Wrong dose number"]],
  };
  let correction = null;
  // A missing dose: what the citizen says happened, chosen with taps (the day with the date picker).
  function claimChoices() {
    const vaccines = JSON.parse($("record-actions").dataset.vaccines || "[]");
    const today = new Date().toISOString().slice(0, 10);
    const doseButtons = [1, 2, 3, 4, 5, 6, 7].map((n) => `<button type="button" aria-pressed="false" data-claim="dose_number" data-value="${n}">${n}</button>`).join("");
    const vaccineButtons = vaccines.map((v) => `<button type="button" aria-pressed="false" data-claim="vaccine" data-value="${esc(v.code)}">${esc(v.name)}</button>`).join("")
      + `<button type="button" aria-pressed="false" data-claim="vaccine" data-value="">${T("Không nhớ", "Don't remember")}</button>`;
    const placeButtons = `<button type="button" aria-pressed="false" data-claim="place" data-value="here">${T("Tại điểm tiêm này", "At this site")}</button>`
      + `<button type="button" aria-pressed="false" data-claim="place" data-value="elsewhere">${T("Ở nơi khác", "Elsewhere")}</button>`;
    return `<p>${T("Mũi thứ mấy?", "Which dose?")}</p><div class="choices">${doseButtons}</div>
      <p>${T("Vắc xin gì?", "Which vaccine?")}</p><div class="choices">${vaccineButtons}</div>
      <p><label for="claim-day">${T("Ngày tiêm", "Day of the dose")}</label> <input type="date" id="claim-day" min="2021-01-01" max="${today}"></p>
      <p>${T("Tiêm ở đâu?", "Where?")}</p><div class="choices">${placeButtons}</div>`;
  }
  function openCorrection(kind) {
    const doses = JSON.parse($("record-actions").dataset.doses || "[]");
    correction = { kind, reason: null, vaccination_id: kind === "wrong_dose" && doses.length === 1 ? doses[0].id : null, claim: kind === "missing_dose" ? { vaccine: "" } : null };
    const doseChoices = kind === "wrong_dose" && doses.length > 1
      ? `<p>${T("Mũi nào?", "Which dose?")}</p><div class="choices">${doses.map((d) => `<button type="button" aria-pressed="false" data-dose="${esc(d.id)}">${esc(d.dose_number)} · ${esc(d.vaccine)}</button>`).join("")}</div>` : "";
    $("record-body").innerHTML = `${doseChoices}${kind === "missing_dose" ? claimChoices() : ""}<p>${T("Lý do", "Reason")}</p><div class="choices">${REASONS[kind].map((r, i) => `<button type="button" aria-pressed="false" data-reason="${i}">${T(r[0], r[1])}</button>`).join("")}</div>
      <p class="sub">${T("Yêu cầu được gửi về trung tâm và sẽ được trả lời trong 48 giờ.", "The request goes to the central office and is answered within 48 hours.")}</p>
      <p class="message" id="correction-msg" role="alert"></p>`;
    $("record-actions").innerHTML = button(T("Gửi yêu cầu", "Send request"), "fix-send", "primary") + button(T("Quay lại", "Back"), "record-back", "danger");
  }
  async function sendCorrection() {
    const missing = correction.kind === "wrong_dose" && !correction.vaccination_id
      ? ["Hãy chọn mũi tiêm cần sửa.", "Please choose the dose to correct."]
      : (!correction.reason ? ["Hãy chọn một lý do ở trên.", "Please choose a reason above."] : null);
    if (missing) {
      $("correction-msg").innerHTML = T(missing[0], missing[1]);
      playSound("error");
      return;
    }
    if (correction.claim) correction.claim.day = $("claim-day").value;
    const data = await post("/record/correction", { token: recordToken, ...correction });
    if (data.ok) {
      $("record-body").innerHTML = `<div class="result ok"><h2 data-testid="correction-sent">${T("Đã gửi yêu cầu sửa", "Your request was sent")}</h2>
        <p>${T("Mã tra cứu của bạn", "Your reference")}</p><p class="reference" data-testid="correction-reference">${esc(data.reference)}</p>
        <p>${data.slip ? T("Phiếu có mã này đang được in. Mời lấy phiếu bên dưới.", "A slip with this reference is printing. Please take it below.") : T("Vui lòng ghi lại mã này.", "Please write this reference down.")}</p>
        <p>${T("Trung tâm sẽ trả lời trong 48 giờ. Xem kết quả tại bất kỳ kiosk nào với mã này.", "The central office will answer within 48 hours. See the outcome at any kiosk with this reference.")}</p></div>`;
      $("record-actions").innerHTML = button(T("Xong", "Done"), "home", "primary");
      playSound("success");
      homeAfter(RESULT_SECONDS.ok);
    } else {
      $("record-body").insertAdjacentHTML("beforeend", `<p class="what-to-do">${T(data.error.message_vi, data.error.message_en)}</p>`);
      playSound("error");
    }
  }

  // -- a correction's outcome by its reference (no card: nothing personal is shown) ------------------------------
  let reference = "";
  function openLookup() {
    reference = "";
    const keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "back", "0"].map((k) => `<button type="button" data-ref-key="${k}" aria-label="${k === "back" ? "Xoá · Delete" : k}">${k === "back" ? "⌫" : k}</button>`).join("");
    $("lookup-body").innerHTML = `<p class="instruction">${T("Nhập 12 chữ số của mã tra cứu trên phiếu phản ánh.", "Type the 12 digits of the reference on your slip.")}</p>
      <p class="reference" id="lookup-ref" data-testid="lookup-ref" aria-live="polite">PA-</p><div class="keypad digits">${keys}</div><div id="lookup-result" aria-live="assertive"></div>`;
    $("lookup-actions").innerHTML = button(T("Tra cứu", "Look up"), "lookup-send", "primary") + button(T("Quay lại", "Back"), "home", "danger");
    show("lookup");
    homeAfter(ENTRY_IDLE_SECONDS);
  }
  function pressReference(key) {
    homeAfter(ENTRY_IDLE_SECONDS);
    if (key === "back") reference = reference.slice(0, -1);
    else if (reference.length < 12) reference += key;
    $("lookup-ref").textContent = "PA-" + (reference.match(/.{1,4}/g) || []).join("-");
  }
  async function lookupReference() {
    const data = await post("/corrections/lookup", { reference });
    const out = $("lookup-result");
    if (data.ok) {
      const o = data.outcome;
      out.innerHTML = `<div class="result ok" data-testid="lookup-outcome" data-state="${esc(o.state)}"><h2>${T(o.state_vi, o.state_en)}</h2>
        <p>${T(o.kind_vi, o.kind_en)} · ${T("gửi ngày", "filed on")} ${esc(o.filed_day)}</p>${o.reason_vi ? `<p>${T(o.reason_vi, o.reason_en)}</p>` : ""}</div>`;
      playSound("success");
    } else {
      out.innerHTML = `<p class="what-to-do" data-testid="lookup-error" data-code="${esc(data.error.code)}">${T(data.error.message_vi, data.error.message_en)}</p>`;
      playSound("error");
    }
  }

  // -- wiring -------------------------------------------------------------------------------------------------
  document.addEventListener("click", (ev) => {
    if (entryIdleRunning) entryIdle();  // any touch while typing or in the record check counts as "still here"
    const b = ev.target.closest("button");
    if (!b) return;
    if (b.dataset.key !== undefined) return press(b.dataset.key);
    if (b.dataset.field) { field = b.dataset.field; render(); return; }
    if (b.dataset.reason !== undefined) {
      $("correction-msg").textContent = "";
      correction.reason = REASONS[correction.kind][Number(b.dataset.reason)][0];
      for (const x of document.querySelectorAll("[data-reason]")) x.setAttribute("aria-pressed", String(x === b));
      return;
    }
    if (b.dataset.claim) {
      correction.claim[b.dataset.claim] = b.dataset.value;
      for (const x of document.querySelectorAll(`[data-claim="${b.dataset.claim}"]`)) x.setAttribute("aria-pressed", String(x === b));
      return;
    }
    if (b.dataset.refKey !== undefined) return pressReference(b.dataset.refKey);
    if (b.dataset.dose) {
      $("correction-msg").textContent = "";
      correction.vaccination_id = b.dataset.dose;
      for (const x of document.querySelectorAll("[data-dose]")) x.setAttribute("aria-pressed", String(x === b));
      return;
    }
    const a = b.dataset.action;
    if (a === "home") home();
    else if (a === "resume") resumeEntry();
    else if (a === "record-back") loadRecord(recordToken);
    else if (a === "still-here") entryIdle();
    else if (a === "show-scan") showPendingScan();
    else if (a === "manual") openEntry("checkin", "");
    else if (a === "reprint") reprint();
    else if (a === "sms") window.smsOptin.open($("result-actions").dataset.checkinId);
    else if (a === "record-type") openEntry("record", "");
    else if (a === "fix-send") sendCorrection();
    else if (a === "lookup-send") lookupReference();
    else if (a && a.startsWith("fix-")) openCorrection(a.slice(4));
  });
  $("go-manual").addEventListener("click", () => openEntry("checkin", ""));
  $("go-record").addEventListener("click", openRecord);
  $("go-lookup").addEventListener("click", openLookup);
  $("manual-submit").addEventListener("click", submitEntry);
  $("lang").addEventListener("click", () => setLanguage(document.body.classList.contains("lang-en") ? "vi" : "en"));

  const preview = $("preview");
  preview.addEventListener("load", () => preview.classList.remove("hidden"));
  preview.addEventListener("error", () => preview.classList.add("hidden"));
  preview.src = "/camera.mjpeg";

  const events = new EventSource("/api/events");
  events.addEventListener("open", () => { document.body.dataset.live = "1"; });
  events.addEventListener("scan", (ev) => {
    if (manualBusy) return;  // the keypad's own answer is shown from its request
    const data = JSON.parse(ev.data);
    if (typing()) return offerScan(data);  // a poster's QR or the next card must not wipe a half-typed entry
    showScan(data);
  });
  window.kioskScreen = { show, homeAfter, post, T, esc, entryIdleSeconds: ENTRY_IDLE_SECONDS };
  // A (re)opened screen starts in check-in mode, whatever the last one left.
  post("/record/stop", {});
  show("idle");
})();

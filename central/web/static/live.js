// Live refresh: the server says "changed" over server-sent events; the page re-reads its own <main> (?partial=1).
// Without JavaScript or events the pages still work; they only stop refreshing by themselves.
(function () {
  var main = document.getElementById("live");
  var badge = document.getElementById("live-state");
  if (!main || !window.EventSource || document.querySelector(".login")) { if (badge) badge.textContent = ""; return; }
  var pending = null;
  function refresh() {
    pending = null;
    // Don't replace a form someone is filling in.
    if (main.contains(document.activeElement) && /INPUT|SELECT|TEXTAREA/.test(document.activeElement.tagName)) {
      pending = setTimeout(refresh, 2000); return;
    }
    var url = new URL(window.location.href);
    url.searchParams.set("partial", "1");
    fetch(url, {credentials: "same-origin"}).then(function (r) {
      if (r.redirected || r.status === 401) { window.location.reload(); return null; }
      return r.ok ? r.text() : null;
    }).then(function (html) { if (html !== null && html !== undefined) main.innerHTML = html; });
  }
  var source = new EventSource("/events");
  source.addEventListener("open", function () { badge.textContent = "● trực tiếp · live"; });
  source.addEventListener("error", function () { badge.textContent = "○ đang kết nối lại · reconnecting"; });
  source.addEventListener("changed", function () { if (!pending) pending = setTimeout(refresh, 300); });
})();

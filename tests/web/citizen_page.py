"""Driving the citizen screen in Chromium as a person does: open it, tap the keypad, and see everything it showed."""

from __future__ import annotations

import unicodedata

TONES = {"\u0301": "dấu sắc", "\u0300": "dấu huyền", "\u0309": "dấu hỏi", "\u0303": "dấu ngã", "\u0323": "dấu nặng"}
# Keys whose character cannot stand in a CSS attribute selector as it is.
PUNCTUATION = {"'": "Dấu nháy / Apostrophe", "-": "Gạch nối / Hyphen"}

# Every text the page ever rendered, not only what is left at the end: a name shown for a moment was shown.
WATCH_SCRIPT = """
window.__shown = [];
new MutationObserver(() => { if (document.body) window.__shown.push(document.body.innerText); })
  .observe(document, { subtree: true, childList: true, characterData: true });
"""


def watch(page) -> None:
    """Call before opening the page: from then on `shown(page)` holds every text the page displayed."""
    page.add_init_script(WATCH_SCRIPT)


def shown(page) -> str:
    return "\n".join(page.evaluate("() => window.__shown") + [page.inner_text("body")])


def open_citizen(page, kiosk_server) -> None:
    page.goto(kiosk_server.url + "/")
    page.wait_for_selector("body[data-live='1']")  # the event stream is connected: scans will be seen
    assert page.get_attribute("body", "data-screen") == "idle"


def type_keys(page, keys: str) -> None:
    for key in keys:
        page.click(f"#digits [data-key='{key}'], #letters [data-key='{key}']")


def type_name(page, name: str) -> None:
    """A name in capitals on the letter keyboard: each letter's base key, then its tone key (Ồ = Ô + huyền)."""
    for ch in name:
        if ch in PUNCTUATION:
            page.click(f"#letters [aria-label='{PUNCTUATION[ch]}']")
            continue
        parts = unicodedata.normalize("NFD", ch)
        tone = next((c for c in parts if c in TONES), None)
        base = unicodedata.normalize("NFC", parts.replace(tone, "")) if tone else ch
        page.click(f"#letters [data-key='{base}']")
        if tone:
            page.click(f"#letters [aria-label='{TONES[tone]}']")


def type_entry(page, id_number: str, name: str, dob: str) -> None:
    """The keypad's three fields (number, name in capitals, ddmmyyyy), then Confirm."""
    type_keys(page, id_number)
    page.click("#digits [data-key=next]")
    type_name(page, name)
    page.click("#letters [data-key=next]")
    type_keys(page, dob)
    page.click("#manual-submit")


def entry_done(page) -> None:
    """Wait until the screen shows scans again after a keypad entry (it skips the entry's own scan event)."""
    page.wait_for_function("() => document.body.dataset.entryBusy !== '1'")

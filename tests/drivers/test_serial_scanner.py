"""The serial scanner reader on a real pseudo-terminal: the slave end is opened by pyserial exactly like a
/dev/ttyACM0 scanner; closing the master end is an unplug. The kiosk is configured with a stable symlink (like
/dev/serial/by-id/...), which is pointed at a new pty when the scanner "comes back"."""

import os
import queue

import pytest

from drivers.serial_scanner import SerialLineReader, terminator_bytes
from tests.conftest import SAMPLE_QR
from tests.support.waiting import wait_for


class PtyScanner:
    """The scanner side of a pty pair, reachable through a by-id-like symlink."""

    def __init__(self, link):
        self.link = link
        self.master = None
        self.plug()

    def plug(self):
        self.master, slave = os.openpty()
        slave_path = os.ttyname(slave)
        os.close(slave)  # pyserial opens it by path, like a device node
        tmp = f"{self.link}.new"
        os.symlink(slave_path, tmp)
        os.replace(tmp, self.link)

    def unplug(self):
        os.close(self.master)
        self.master = None
        os.unlink(self.link)

    def send(self, data: bytes):
        os.write(self.master, data)

    def close(self):
        if self.master is not None:
            os.close(self.master)


@pytest.fixture
def scanner(tmp_path):
    s = PtyScanner(str(tmp_path / "usb-Scanner-if00"))
    yield s
    s.close()


def start_reader(port, terminator=b"\r"):
    lines: queue.Queue = queue.Queue()
    reader = SerialLineReader(port, lines.put, terminator=terminator, reconnect_seconds=0.1)
    reader.start()
    wait_for(lambda: reader.connected)
    return reader, lines


@pytest.mark.parametrize("setting,ending", [("\r", b"\r"), ("\n", b"\n"), ("\r\n", b"\r\n")])
def test_lines_arrive_as_exact_bytes_with_each_terminator(scanner, setting, ending):
    reader, lines = start_reader(scanner.link, terminator_bytes(setting))
    try:
        payload = SAMPLE_QR.encode("utf-8")
        # A scanner sends in bursts; split the code mid-character to prove bytes are joined before any decoding.
        scanner.send(payload[:37])
        wait_for(lambda: reader.health()["pending_bytes"] == 37)  # the first burst was read on its own
        scanner.send(payload[37:] + ending + b"064195001234" + ending)
        assert lines.get(timeout=3) == payload
        assert lines.get(timeout=3) == b"064195001234"
        assert reader.health()["lines"] == 2
    finally:
        reader.stop()


def test_unplug_and_replug_reconnects_and_drops_the_partial_line(scanner):
    reader, lines = start_reader(scanner.link)
    try:
        scanner.send(b"first\r")
        assert lines.get(timeout=3) == b"first"
        scanner.send(b"half a co")
        wait_for(lambda: reader.health()["pending_bytes"] == 9)
        scanner.unplug()
        wait_for(lambda: not reader.connected)
        assert reader.health()["last_error"] and reader.health()["pending_bytes"] == 0
        gone = reader.health()["failed_opens"]
        wait_for(lambda: reader.health()["failed_opens"] >= gone + 3)  # reopen tried while the device is gone
        scanner.plug()  # back, under another /dev/pts number, same by-id link
        wait_for(lambda: reader.connected)
        scanner.send(b"second\r")
        assert lines.get(timeout=3) == b"second"
        assert lines.empty()
        assert reader.health()["reconnects"] == 1
    finally:
        reader.stop()


def test_missing_port_at_start_is_retried_until_it_appears(tmp_path):
    link = str(tmp_path / "late-scanner")
    lines: queue.Queue = queue.Queue()
    reader = SerialLineReader(link, lines.put, reconnect_seconds=0.1)
    reader.start()
    try:
        wait_for(lambda: reader.health()["failed_opens"] >= 3)
        assert not reader.connected and "late-scanner" in reader.health()["last_error"]
        late = PtyScanner(link)
        try:
            wait_for(lambda: reader.connected)
            late.send(b"hello\r")
            assert lines.get(timeout=3) == b"hello"
        finally:
            late.close()
    finally:
        reader.stop()


def test_a_failing_handler_does_not_disconnect_the_scanner(scanner):
    got = []

    def handler(line):
        if line == b"boom":
            raise RuntimeError("bug in a handler")
        got.append(line)

    reader = SerialLineReader(scanner.link, handler, reconnect_seconds=0.1)
    reader.start()
    try:
        wait_for(lambda: reader.connected)
        scanner.send(b"boom\rafter\r")
        wait_for(lambda: got == [b"after"])
        assert reader.connected and reader.reconnects == 0
    finally:
        reader.stop()


def test_empty_terminator_is_refused():
    with pytest.raises(ValueError):
        terminator_bytes("")

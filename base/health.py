"""The device reports inside a kiosk's health message (`printer`, `camera`; docs/protocol.md), as types both ends use:
the kiosk's printer part builds its report with PrinterHealth, central reads printer and camera reports back with
`read` (tolerantly: a report is input from a kiosk, which may be old, broken or hostile, and a field that is not
what it should be reads as unknown, never as fine).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


def _bool(value) -> bool | None:
    return value if isinstance(value, bool) else None


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer said about itself (drivers.escpos_status decodes it). `known` False: it did not answer."""

    state: str = "unknown"  # ok | paper_near_end | paper_out | cover_open | offline | unknown
    known: bool = False
    online: bool | None = None
    paper: str | None = None  # ok | near_end | out
    cover_open: bool | None = None
    detail: str = ""

    @classmethod
    def read(cls, data) -> "PrinterStatus":
        data = data if isinstance(data, dict) else {}
        paper = data.get("paper")
        return cls(state=str(data.get("state") or "unknown"), known=data.get("known") is True,
                   online=_bool(data.get("online")), paper=paper if isinstance(paper, str) else None,
                   cover_open=_bool(data.get("cover_open")), detail=str(data.get("detail") or ""))


@dataclass(frozen=True)
class PrinterHealth:
    """The printer part's health() (kiosk.printing.worker), and the `printer` object of a health report."""

    alive: bool = True  # the part's loop runs (base.parts; the watchdog restarts a stalled kiosk)
    ok: bool = False  # a ticket can print now
    state: str = "unknown"
    status: PrinterStatus = field(default_factory=PrinterStatus)
    device: str = ""
    jobs: dict = field(default_factory=dict)  # print jobs by state
    last_error: str | None = None
    interrupted_jobs: list = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def read(cls, data) -> "PrinterHealth | None":
        """A report as received (None when the kiosk sent none: it has no printer part)."""
        if not isinstance(data, dict):
            return None
        error = data.get("last_error")
        return cls(alive=data.get("alive") is not False, ok=data.get("ok") is True,
                   state=str(data.get("state") or "unknown"), status=PrinterStatus.read(data.get("status")),
                   device=str(data.get("device") or ""), last_error=error if isinstance(error, str) else None)

    @property
    def online(self) -> bool | None:
        """Whether the printer says it is online; None when it could not say (no answer is not "online")."""
        return self.status.online if self.status.known else None

    def condition(self) -> tuple[str, str | None]:
        """(printer, paper) as operations see it: printer ok | offline | unknown, paper ok | near_end | out | None."""
        s = self.status
        if not s.known:
            return "unknown", None
        if s.online is False or s.cover_open:
            return "offline", s.paper
        return "ok", s.paper


@dataclass(frozen=True)
class CameraHealth:
    """What central reads of the camera part's health (kiosk.scanning.readers: the frame source's health with the
    decoder's figures)."""

    capturing: bool | None = None
    fps: float | None = None  # frames per second the source delivers, as measured by the kiosk

    @classmethod
    def read(cls, data) -> "CameraHealth | None":
        if not isinstance(data, dict):
            return None
        return cls(capturing=_bool(data.get("capturing")), fps=_number(data.get("fps")))

    @property
    def fps_now(self) -> float | None:
        """A capture that stopped delivering frames reports capturing false: no frames now, whatever it measured."""
        return 0.0 if self.capturing is False else self.fps

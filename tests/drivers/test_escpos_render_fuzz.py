"""The strict interpreter faces whatever a client sends to the virtual printer: any bytes end in receipts or an
EscposError, never in another exception (which would kill the connection handler)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.escpos_render import EscposError, render_bytes

COMMAND_STARTS = [b"\x1b@", b"\x1ba\x01", b"\x1b!\x30", b"\x1dV\x01", b"\x1dV\x41\x03", b"\x1d!\x77",
                  b"\x1dv0\x00", b"\x1d(k", b"\x10\x04\x01", b"\x1bd\x02", b"\x1bt\x00", b"A", b"\n"]


@st.composite
def escpos_like(draw):
    parts = draw(st.lists(st.one_of(st.sampled_from(COMMAND_STARTS), st.binary(max_size=12)), max_size=30))
    return b"".join(parts)


@settings(max_examples=400, deadline=None)
@given(escpos_like())
def test_any_bytes_give_receipts_or_a_clean_error(data):
    for profile in ("TM-T88V", "POS-5890"):
        try:
            render_bytes(data, profile)
        except EscposError:
            pass


@pytest.mark.parametrize("header", [b"\x1dv0\x00\x00\x00\x05\x00", b"\x1dv0\x00\x05\x00\x00\x00"],
                         ids=["zero-width", "zero-height"])
def test_zero_sized_raster_is_refused_cleanly(header):
    with pytest.raises(EscposError, match="zero-sized"):
        render_bytes(b"\x1b@" + header, "TM-T88V")

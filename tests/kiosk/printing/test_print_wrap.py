"""Word wrap by rendered width: nothing wider than the paper, no letter lost, whatever the text."""

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.printing.raster import font, nfc, wrap

VIETNAMESE = "aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵĐẮỄ0123456789,./-"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=VIETNAMESE, min_size=1, max_size=40), min_size=1, max_size=12),
       st.sampled_from([(384, 18), (512, 23), (576, 26), (384, 33)]))
def test_wrapped_lines_fit_and_keep_every_letter(words, geometry):
    width, size = geometry
    face = font(size, bold=True)
    text = " ".join(words)
    lines = wrap(text, face, width)
    assert all(face.getlength(line) <= width for line in lines)
    assert "".join(lines).replace(" ", "") == nfc(text).replace(" ", "")

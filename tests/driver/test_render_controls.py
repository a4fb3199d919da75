"""The driver's text output strips control characters from what Central sent: an
escape sequence planted in a CP's location or a reason cannot drive the terminal."""
from __future__ import annotations

import io

from evdriver.render import TextOutput

ESCAPES = "\x1b[2J\x1b]0;owned\x07"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_location_with_escapes_is_shown_without_them():
    out, err = io.StringIO(), io.StringIO()
    text = TextOutput(out, err)
    text.charge_points([{"cp_id": "CP1", "location": f"Bay{ESCAPES} 4", "status": "AVAILABLE",
                         "price_per_kwh": 0.3, "max_charging_rate_kw": 22}])
    text.status("charging", "CP1", "s1", f"refused: {ESCAPES}busy\r\nfake line")
    text.error(f"Central says {ESCAPES}no", 1)
    shown = out.getvalue() + err.getvalue()
    assert "\x1b" not in shown and "\x07" not in shown and "\r" not in shown
    assert "Bay[2J]0;owned 4" in shown
    assert "refused: [2J]0;ownedbusy\n" in shown  # the carriage return is dropped


def test_the_live_view_keeps_its_own_control_sequences_only():
    from evdriver.model import Progress

    term = Terminal()
    text = TextOutput(term, io.StringIO())
    assert text.live  # rich drew for a terminal
    fields = {name: 0 for name in Progress.__dataclass_fields__}
    fields.update(cp_id=f"CP1{ESCAPES}[bold]", progress=50)
    text.progress(Progress(**fields))
    text.close()
    shown = term.getvalue()
    assert "CP1[2J]0;owned[bold] " in shown  # the planted text, inert (markup off too)
    assert "\x07" not in shown and "\x1b]" not in shown and "\x1b[2J" not in shown
    assert " 50%" in shown

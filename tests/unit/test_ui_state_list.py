"""The seat states and their icons have one home each (protocol.SEAT_STATES, ui.seatmap.ICONS):
templates and scripts get them from the server, so a new state or icon cannot be missed in one
page (issue 17's review note: lists were repeated in the shared templates and edge.js)."""

from __future__ import annotations

import re
from pathlib import Path

from protocol import SEAT_STATES
from ui.seatmap import ICONS, template_globals

UI = Path(__file__).resolve().parents[2] / "ui"


def test_no_template_or_script_keeps_its_own_state_list_or_icons():
    listed = re.compile(r"""["'](empty|occupied|away|abandoned|unknown)["']\s*[,:]\s*["'](empty|occupied|away|abandoned|unknown|[○●◐⚠])["']""")
    found = []
    for path in sorted(UI.rglob("*")):
        if path.suffix not in (".html", ".js"):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if listed.search(line) or any(f'"{icon}"' in line for icon in "○●◐⚠"):
                found.append(f"{path.relative_to(UI)}:{n}: {line.strip()[:80]}")
    assert not found, "\n".join(found)


def test_templates_get_the_wire_list_and_the_icons():
    g = template_globals()
    assert g["seat_states"] is SEAT_STATES and g["seat_icons"] is ICONS
    assert set(ICONS) == set(SEAT_STATES)

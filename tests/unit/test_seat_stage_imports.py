"""Issue 16: the pure seat code takes its rules as values; it never reads the TOML loader."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from edge_agent.seats.rules import SeatRules
from edge_agent.settings import ConfigError, SeatsSection, parse_config

SEATS = Path(__file__).resolve().parents[2] / "edge_agent" / "seats"


def imported_modules(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return out


@pytest.mark.parametrize("path", sorted(SEATS.glob("*.py")), ids=lambda p: p.name)
def test_seat_modules_do_not_import_settings(path):
    mods = imported_modules(path)
    assert "edge_agent.settings" not in mods
    assert not any(m.startswith(("edge_agent.vision", "edge_agent.storage", "edge_agent.uplink")) for m in mods)


def test_settings_section_is_the_seat_rules_struct():
    assert SeatsSection is SeatRules
    cfg = parse_config({"edge": {"store_id": "s1"}, "seat_rules": {"change_threshold": 0.2}})
    assert isinstance(cfg.seat_rules, SeatRules) and cfg.seat_rules.change_threshold == 0.2


@pytest.mark.parametrize("model, message", [
    ({"type": "coral"}, "type must be one of ultralytics, tflite"),
    ({"crops": "always"}, 'crops must be "auto" or "off"'),
])
def test_model_section_checks(model, message):
    with pytest.raises(ConfigError, match="model") as exc:
        parse_config({"edge": {"store_id": "s1"}, "model": model})
    assert message in str(exc.value)


def test_drift_tolerance_checked():
    with pytest.raises(ConfigError, match="drift_tolerance"):
        parse_config({"edge": {"store_id": "s1"}, "seat_rules": {"drift_tolerance": 0.5}})

"""`[kiosk.STORE]` settings: the adapter chosen by `type`, errors that name the key, and the
commented example in hub.toml.example parses once uncommented."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.kiosk.adapters import GenericFileAdapter, make_adapter
from hub.kiosk.gosca import GoScaAdapter
from hub.kiosk.settings import GenericSettings, GoScaSettings
from hub.settings import SettingsError, parse_settings

REPO = Path(__file__).resolve().parents[2]


def test_type_chooses_the_adapter():
    s = parse_settings(b'[kiosk.a]\ntype = "gosca"\nbase_url = "http://k"\nstore_code = "x-sca"\n'
                       b'[kiosk.a.rules]\nunpaid_min = 3\n[kiosk.b]\ntype = "generic"\nsecret = "s"\n')
    assert isinstance(s.kiosk["a"], GoScaSettings) and s.kiosk["a"].rules.unpaid_min == 3
    assert isinstance(s.kiosk["b"], GenericSettings)
    assert isinstance(make_adapter(s.kiosk["a"]), GoScaAdapter)
    assert isinstance(make_adapter(s.kiosk["b"]), GenericFileAdapter)


@pytest.mark.parametrize("toml, says", [
    ('[kiosk.a]\ntype = "posbank"\n', "posbank"),
    ('[kiosk.a]\ntype = "gosca"\nbase_url = "k.example"\nstore_code = "x"\n', "kiosk.a.base_url"),
    ('[kiosk.a]\ntype = "gosca"\nbase_url = "http://k"\nstore_code = ""\n', "kiosk.a.store_code"),
    ('[kiosk.a]\ntype = "gosca"\nbase_url = "http://k"\nstore_code = "x"\ntimeout_s = 60\n', "kiosk.a.timeout_s"),
    ('[kiosk.a]\ntype = "generic"\n[kiosk.a.rules]\nhogging_min = 0\n', "kiosk.a.rules.hogging_min"),
    ('[kiosk.a]\ntype = "generic"\nsecrte = "typo"\n', "secrte"),
    ('[kiosk."a/b"]\ntype = "generic"\n', "kiosk.a/b"),
])
def test_bad_settings_name_the_key(toml, says):
    with pytest.raises(SettingsError, match=says):
        parse_settings(toml.encode())


def test_the_example_file_documents_working_kiosk_tables():
    text = (REPO / "hub.toml.example").read_text()
    block = text[text.index("# [kiosk.oryudong]"):]
    lines = [ln[2:] for ln in block.splitlines() if ln.startswith("# ") and ("=" in ln or ln.startswith("# ["))]
    s = parse_settings("\n".join(lines).encode())
    assert set(s.kiosk) == {"oryudong", "gangnam"}
    parse_settings(text.encode())  # and the file as shipped still parses

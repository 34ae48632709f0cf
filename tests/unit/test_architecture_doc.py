"""docs/architecture.md is the map of the code (issue 16): every module of ours must be listed in it,
and every module it names must exist, so the map cannot silently go stale after a move."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "architecture.md"


def _modules() -> set[str]:
    out = set()
    for pkg in ("edge_agent", "hub", "protocol", "ui"):
        for f in (REPO / pkg).rglob("*.py"):
            if f.name in ("__init__.py", "__main__.py") or "migrations" in f.parts:
                continue
            out.add(f.relative_to(REPO).as_posix())
    return out


def _named(text: str) -> set[str]:
    """Module paths the doc names: `dir/file.py` and, in a table row, the short `file.py` siblings
    that follow a full path (``hub/ingest/parse.py``, ``reducer.py``)."""
    named = set()
    for line in text.splitlines():
        last_dir = None
        for token in re.findall(r"`([^`]+)`", line):
            if "/" in token:
                if token.endswith(".py"):
                    named.add(token)
                    last_dir = token.rsplit("/", 1)[0]
                elif token.endswith("/"):
                    last_dir = token.rstrip("/")
            elif token.endswith(".py") and last_dir:
                named.add(f"{last_dir}/{token}")
    return named


def test_every_module_is_on_the_map():
    missing = sorted(_modules() - _named(DOC.read_text()))
    assert not missing, "modules missing from docs/architecture.md (add a row with their one job):\n" + "\n".join(missing)


def test_the_map_names_no_module_that_is_gone():
    gone = sorted(m for m in _named(DOC.read_text())
                  if m.split("/")[0] in ("edge_agent", "hub", "protocol", "ui") and not (REPO / m).exists())
    assert not gone, "docs/architecture.md names modules that do not exist:\n" + "\n".join(gone)

"""Issue 19 point 9: both commands answer --version with the installed release (pyproject's
version) and the wire schema, and exit 0 without doing anything else."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from protocol.messages import SCHEMA_VERSION

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@pytest.mark.parametrize("name", ["seat-edge", "seat-hub"])
def test_version_on_both_commands(name):
    if name == "seat-edge":
        from edge_agent.cli import app
    else:
        from hub.cli.main import app
    version = tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    r = CliRunner().invoke(app, ["--version"])
    assert r.exit_code == 0, r.output
    assert r.output.strip() == f"{name} {version} (protocol schema {SCHEMA_VERSION})"
    assert "--version" in CliRunner().invoke(app, ["--help"]).output

"""Issue 19 point 11: help texts show what they say: `[[seats]]` is not eaten as markup."""

from __future__ import annotations

from typer.testing import CliRunner

from edge_agent.cli import app


def test_print_seats_help_names_the_seats_tables():
    out = CliRunner().invoke(app, ["sample-camera", "--help"], env={"COLUMNS": "200"}).output
    assert "edge.toml [[seats]] tables" in out, out
    assert "[]" not in out, out

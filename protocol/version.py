"""The installed version of the seat-monitor distribution (both commands print it with --version)."""

from __future__ import annotations

from importlib import metadata

DISTRIBUTION = "seat-monitor"


def version_line(command: str) -> str:
    """``seat-edge 0.1.0 (protocol schema 2)``: the wire schema matters when an edge and a hub of
    different releases meet."""
    from protocol.messages import SCHEMA_VERSION

    try:
        v = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # run from a checkout that was never pip-installed
        v = "unknown (not installed: pip install -e .)"
    return f"{command} {v} (protocol schema {SCHEMA_VERSION})"

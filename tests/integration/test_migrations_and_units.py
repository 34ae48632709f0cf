"""Schema migrations on both backends, settings errors, layout checks, cursors (pure logic)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import inspect

from hub.db.migrate import current_revision, upgrade, upgrade_async
from hub.db.session import make_engine
from hub.settings import SettingsError, load_settings, parse_settings
from hub.stores.config_push import LayoutError, validate_seat_layout
from hub.stores.queries import BadCursor, decode_cursor, encode_cursor
from protocol import SeatDef, StateRules
from protocol.polygons import is_simple


def _head() -> str:
    from alembic.script import ScriptDirectory

    from hub.db.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


TABLES = {"stores", "edges", "channels", "seats", "seat_states", "seat_events", "ingested",
          "alerts", "configs", "alembic_version", "users", "user_stores", "sessions", "audit_log", "edge_accounts",
          "snapshots"}


async def _tables(url: str) -> tuple[set[str], str | None]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        return names, await current_revision(engine)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_migrations_upgrade_an_empty_database_in_place(backend, request, tmp_path):
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else f"sqlite+aiosqlite:///{tmp_path}/x/h.sqlite"
    upgrade(url)  # the CLI path (sync); the parent folder of the SQLite file is created
    names, rev = asyncio.run(_tables(url))
    assert names >= TABLES and rev == _head()
    assert "hourly_stats" not in names  # 0005: never written or read, dropped
    upgrade(url)  # idempotent: a second run changes nothing

    async def again() -> None:  # the in-app path (async engine, running loop)
        engine = make_engine(url)
        await upgrade_async(engine)
        await engine.dispose()

    asyncio.run(again())
    assert asyncio.run(_tables(url))[1] == _head()


async def _seats_after_0004(url: str) -> tuple[list[tuple], list[str]]:
    from sqlalchemy import text

    engine = make_engine(url)
    try:
        async with engine.begin() as conn:  # a hub at 0003 with one edge and its seat
            await conn.execute(text("INSERT INTO stores (id, name, created_at) VALUES ('a', 'a', 0)"))
            await conn.execute(text(
                "INSERT INTO edges (store_id, edge_id, boot_id, last_seq, last_seen, online, config_version, "
                "outbox_depth, outbox_dropped, layout_hash) VALUES ('a', 'e', 'b', 1, 0, true, 1, 0, 0, 'abc')"))
            await conn.execute(text(
                "INSERT INTO seats (store_id, seat_id, edge_id, channel, label, type, polygon, active) "
                "VALUES ('a', 's1', 'e', 1, '', 'desk', '[[0, 0], [1, 0], [1, 1]]', true)"))
        await upgrade_async(engine)
        async with engine.connect() as conn:
            seats = (await conn.execute(text("SELECT seat_id, polygon, desk FROM seats"))).all()
            hashes = (await conn.execute(text("SELECT layout_hash FROM edges"))).scalars().all()
        return [tuple(r) for r in seats], list(hashes)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_0004_adds_a_nullable_seat_desk_and_forgets_layout_hashes(backend, request, tmp_path):
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else f"sqlite+aiosqlite:///{tmp_path}/h.sqlite"
    upgrade(url, "0003_layout_hash")
    seats, hashes = asyncio.run(_seats_after_0004(url))
    assert asyncio.run(_tables(url))[1] == _head()
    # The seat stands with no desk; the edge's hash is forgotten, so its next birth by hash asks
    # for the full layout (which carries the desks).
    assert [(sid, desk) for sid, _, desk in seats] == [("s1", None)] and hashes == [""]


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_0005_drops_hourly_stats_and_its_downgrade_brings_it_back(backend, request, tmp_path):
    from alembic import command

    from hub.db.migrate import alembic_config

    url = request.getfixturevalue("pg_url") if backend == "postgresql" else f"sqlite+aiosqlite:///{tmp_path}/h.sqlite"
    upgrade(url, "0004_seat_desk")
    assert "hourly_stats" in asyncio.run(_tables(url))[0]
    upgrade(url, "0005_drop_hourly_stats")  # the revision under test (later ones come on top)
    names, rev = asyncio.run(_tables(url))
    assert "hourly_stats" not in names and rev == "0005_drop_hourly_stats"

    async def down() -> None:
        engine = make_engine(url)
        try:
            def run(sync_conn) -> None:
                cfg = alembic_config()
                cfg.attributes["connection"] = sync_conn
                command.downgrade(cfg, "0004_seat_desk")

            async with engine.begin() as conn:
                await conn.run_sync(run)
        finally:
            await engine.dispose()

    asyncio.run(down())
    names, rev = asyncio.run(_tables(url))
    assert "hourly_stats" in names and rev == "0004_seat_desk"


def test_cli_migrate_and_help(tmp_path):
    from typer.testing import CliRunner

    from hub.cli.main import app

    cfg = tmp_path / "hub.toml"
    cfg.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/cli.sqlite"\n')
    r = CliRunner().invoke(app, ["migrate", "--config", str(cfg)])
    assert r.exit_code == 0 and "up to date" in r.output
    assert "/api/v1" in CliRunner().invoke(app, ["serve", "--help"]).output
    assert "--for" in CliRunner().invoke(app, ["demo", "--help"]).output
    cfg.write_text("[databse]\nurl = 'x'\n")
    r = CliRunner().invoke(app, ["migrate", "--config", str(cfg)])
    assert r.exit_code == 2 and "databse" in r.output


def test_settings_errors_are_specific(tmp_path):
    s = load_settings("hub.toml.example")
    assert s.database.url.startswith("sqlite+aiosqlite") and s.mqtt.shared_group == "seat-hub"
    assert load_settings(None).http.port == 8080
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "missing.toml")
    with pytest.raises(SettingsError, match="not valid TOML"):
        parse_settings("[mqtt\n")
    with pytest.raises(SettingsError, match="mqtt.port"):
        parse_settings("[mqtt]\nport = 70000\n")
    with pytest.raises(SettingsError, match="database.url"):
        parse_settings("[database]\nurl = 'mysql://x'\n")
    with pytest.raises(SettingsError, match="Expected `float`"):
        parse_settings("edge_timeout_s = 'soon'\n")
    with pytest.raises(SettingsError, match="shared_group"):
        parse_settings("[mqtt]\nshared_group = 'a/b'\n")


def seat(sid: str, poly, channel: int = 1) -> SeatDef:
    return SeatDef(seat_id=sid, channel=channel, polygon=poly)


def test_layout_validation():
    ok = [seat("a1", [(0.1, 0.1), (0.2, 0.1), (0.2, 0.2), (0.1, 0.2)]), seat("a2", [(0, 0), (1, 0), (1, 1)], 2)]
    validate_seat_layout(ok, {1, 2})
    validate_seat_layout(ok)  # channels unknown: not checked
    with pytest.raises(LayoutError) as e:
        validate_seat_layout([
            seat("Bad Id", [(0.1, 0.1), (0.2, 0.1), (0.2, 0.2)]),
            seat("b", [(0.1, 0.1), (0.2, 0.1)]),
            seat("c", [(0.1, 0.1), (0.2, 0.2), (0.3, 0.3)]),
            seat("d", [(0, 0), (1, 1), (1, 0), (0, 1)], channel=5),
        ], {1})
    p = e.value.problems
    assert any("Bad Id" in x and "seat id" in x for x in p)
    assert any("'b'" in x and "at least 3" in x for x in p)
    assert any("'c'" in x and "no area" in x for x in p)
    assert any("'d'" in x and "cross" in x for x in p) and any("channel 5 is not configured" in x for x in p)
    assert is_simple([(0, 0), (1, 0), (1, 1), (0, 1)])
    assert not is_simple([(0, 0), (1, 1), (1, 0), (0, 1)])
    with pytest.raises(LayoutError, match="rules: abandoned_after_s must be > 0"):
        validate_seat_layout(ok, {1, 2}, StateRules(abandoned_after_s=0))


def test_cursor_round_trip_and_garbage():
    assert decode_cursor(encode_cursor(1700000000.25, 42)) == (1700000000.25, 42)
    for bad in ("", "xyz", encode_cursor(1.0, 2)[:-3] + "!!"):
        with pytest.raises(BadCursor):
            decode_cursor(bad)


def test_parse_message_skips_hub_kinds_and_cleared_deaths_but_rejects_bad_payloads():
    import time as _time

    import pytest as _pytest

    from hub.ingest.parse import IngestError, RawMessage, parse_message
    from protocol import Death, TopicSpace, encode

    space = TopicSpace()
    # the edge's reconnect clears its retained Death with an empty retained payload
    assert parse_message(RawMessage(space.topic("s1", "e1", "death"), b"", _time.time()), space) is None
    # the hub's own config publishes come back through the wildcard
    assert parse_message(RawMessage(space.topic("s1", "e1", "config"), b"x", _time.time()), space) is None
    with _pytest.raises(IngestError):  # empty payloads elsewhere are malformed
        parse_message(RawMessage(space.topic("s1", "e1", "delta"), b"", _time.time()), space)
    death = Death(store_id="s1", edge_id="e1", boot_id="b", seq=3, ts=1.0)
    assert parse_message(RawMessage(space.topic("s1", "e1", "death"), encode(death), 1.0), space) == death
    with _pytest.raises(IngestError, match="arrived on"):
        parse_message(RawMessage(space.topic("s2", "e1", "death"), encode(death), 1.0), space)

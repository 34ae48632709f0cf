"""ROI config push: validate a seat layout the way the edge does (the shared rules in
``protocol.layout``), store a new version, publish it. The edge validates again and answers with
a ConfigAck either way.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Literal

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Channel, ConfigRow, Edge, Seat
from protocol import Config, SeatDef, StateRules
from protocol.layout import LayoutError, layout_problems


def validate_seat_layout(seats: Sequence[SeatDef], known_channels: Iterable[int] | None = None,
                         rules: StateRules | None = None) -> None:
    """Raise ``LayoutError`` listing every problem, by the rules the edge applies too
    (``protocol.layout``), plus the state rules' own checks."""
    problems = layout_problems(seats, known_channels)
    if rules is not None:
        problems += [f"rules: {p}" for p in rules.problems()]
    if problems:
        raise LayoutError(problems)


class StaleConfig(Exception):
    """The save started from an older version than the current one (someone saved meanwhile)."""

    def __init__(self, base: int, current: int) -> None:
        super().__init__(f"this edit started from version {base}, but version {current} is current now: "
                         f"reload the config (GET), redo the change on version {current}, save again")
        self.base, self.current = base, current


class RulesPatch(msgspec.Struct, forbid_unknown_fields=True):
    """The state rules a save changes: every field left out keeps its current value (the last
    pushed rules, else what the edge reported, else the defaults). A seats-only save must never
    reset a store's timing to the defaults."""

    enter_s: float | None = None
    exit_s: float | None = None
    abandoned_after_s: float | None = None
    stale_after_s: float | None = None
    enter_samples: int | None = None
    exit_samples: int | None = None

    def over(self, current: StateRules) -> StateRules:
        given = {f: v for f in self.__struct_fields__ if (v := getattr(self, f)) is not None}
        return msgspec.structs.replace(current, **given)


class ConfigIn(msgspec.Struct, forbid_unknown_fields=True):
    """Body of PUT .../config. ``base_version``: the ``version`` of the GET the edit started from
    (0 for an edge without any); a save on anything older is refused, never merged. ``rules``
    (optional, partial): only the fields given change; the rest keep their current values."""

    seats: list[SeatDef]
    base_version: int
    rules: RulesPatch | None = None


ConfigState = Literal["none", "pending", "applied", "failed"]


class ConfigStatus(msgspec.Struct):
    store_id: str
    edge_id: str
    version: int  # the current version: send it back as base_version with the next save
    # none: never pushed from the hub; pending: pushed, no ack yet; applied / failed: the edge's ack
    status: ConfigState
    desired_version: int | None  # newest version pushed from the hub
    applied_version: int  # what the edge reported in its last birth / ok ack
    acked_version: int | None  # the desired version, once the edge acknowledged it
    ack_error: str | None  # the edge's validation error for the desired version
    seats: list[SeatDef] = []
    rules: StateRules | None = None


async def config_status(session: AsyncSession, store_id: str, edge_id: str) -> ConfigStatus:
    edge = await session.get(Edge, (store_id, edge_id))
    row = (await session.execute(
        select(ConfigRow).where(ConfigRow.store_id == store_id, ConfigRow.edge_id == edge_id)
        .order_by(ConfigRow.version.desc()).limit(1)
    )).scalar_one_or_none()
    applied = edge.config_version if edge else 0
    if row is None:
        status: ConfigState = "none"
    elif row.ack_error is not None:
        status = "failed"
    elif row.acked_version == row.version or applied >= row.version:
        status = "applied"
    else:
        status = "pending"
    return ConfigStatus(
        store_id=store_id, edge_id=edge_id, version=max(row.version if row else 0, applied), status=status,
        desired_version=row.version if row else None,
        applied_version=edge.config_version if edge else 0,
        acked_version=row.acked_version if row else None,
        ack_error=row.ack_error if row else None,
        seats=msgspec.convert(row.seats, list[SeatDef]) if row else [],
        rules=msgspec.convert(row.rules, StateRules) if row else None,
    )


async def store_new_config(session: AsyncSession, store_id: str, edge_id: str, body: ConfigIn,
                           now: float | None = None) -> Config:
    """Validate and insert the next version (caller commits, then publishes the returned message)."""
    known = set((await session.execute(
        select(Channel.channel).where(Channel.store_id == store_id, Channel.edge_id == edge_id)
    )).scalars())
    if not known:  # no channel list reported yet: fall back to the channels its seats use
        known = set((await session.execute(
            select(Seat.channel).where(Seat.store_id == store_id, Seat.edge_id == edge_id)
        )).scalars())
    edge = await session.get(Edge, (store_id, edge_id))
    last = (await session.execute(
        select(ConfigRow).where(ConfigRow.store_id == store_id, ConfigRow.edge_id == edge_id)
        .order_by(ConfigRow.version.desc()).limit(1)
    )).scalar_one_or_none()
    rules = current_rules(last, edge)
    if body.rules is not None:
        rules = body.rules.over(rules)
    validate_seat_layout(body.seats, known or None, rules)
    prev = last.version if last is not None else 0
    current = max(prev, edge.config_version if edge else 0)
    if body.base_version != current:
        raise StaleConfig(body.base_version, current)
    version = current + 1
    now = time.time() if now is None else now
    session.add(ConfigRow(
        store_id=store_id, edge_id=edge_id, version=version, seats=msgspec.to_builtins(body.seats),
        rules=msgspec.to_builtins(rules), created_at=now,
    ))
    return Config(store_id=store_id, edge_id=edge_id, ts=now, version=version, seats=body.seats, rules=rules)


def current_rules(last: ConfigRow | None, edge: Edge | None) -> StateRules:
    """The rules in force: the newest pushed ones, else those the edge reported in its birth."""
    if last is not None and last.rules:
        return msgspec.convert(last.rules, StateRules)
    if edge is not None and edge.rules:
        return msgspec.convert(edge.rules, StateRules)
    return StateRules()

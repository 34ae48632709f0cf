"""Decide what to do with a config the hub pushed (pure: no I/O, no clock).

- ``apply``: newer than the applied version, for this store/edge, and the layout is valid.
- ``ignore``: the same or an older version (the retained config is re-delivered on every
  reconnect; the Birth already tells the hub which version runs). No ack.
- ``reject``: wrong store/edge or an invalid layout; the caller acks with ``error`` and keeps
  the config it has. A bad config never replaces a good one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from protocol.layout import LayoutError, check_layout
from protocol.messages import Config

Action = Literal["apply", "ignore", "reject"]


@dataclass(frozen=True, slots=True)
class ApplyDecision:
    action: Action
    version: int
    error: str | None = None
    reason: str = ""  # why it was ignored (for the log)


def evaluate_config(current_version: int, msg: Config, known_channels: list[int], *,
                    store_id: str | None = None, edge_id: str | None = None) -> ApplyDecision:
    if store_id is not None and msg.store_id != store_id:
        return ApplyDecision("reject", msg.version,
                             f"config is for store {msg.store_id!r}, this edge belongs to store {store_id!r}")
    if edge_id is not None and msg.edge_id != edge_id:
        return ApplyDecision("reject", msg.version, f"config is for edge {msg.edge_id!r}, this is edge {edge_id!r}")
    if msg.version <= current_version:
        what = "already applied" if msg.version == current_version else "older than the applied version"
        return ApplyDecision("ignore", msg.version, reason=f"version {msg.version} {what} ({current_version})")
    try:
        check_layout(msg.seats, known_channels)
    except LayoutError as exc:
        return ApplyDecision("reject", msg.version, f"invalid seat layout: {exc}")
    bad = msg.rules.problems()
    if bad:
        return ApplyDecision("reject", msg.version, f"invalid state rules: {'; '.join(bad)}")
    return ApplyDecision("apply", msg.version)

"""Read the hub's seat rows back in tests."""

from __future__ import annotations


def seats_by_id(client, store="store-a") -> dict[str, dict]:
    r = client.get(f"/api/v1/stores/{store}/seats")
    return {s["seat_id"]: s for s in r.json()} if r.status_code == 200 else {}


def states(client, store="store-a") -> dict[str, str]:
    return {k: v["state"] for k, v in seats_by_id(client, store).items()}


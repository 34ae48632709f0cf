"""Seat-system (kiosk) integration: adapters (GoSca, generic), the poller, the pure
reconciliation rules between what the kiosk sold and what the camera sees, and the floor plan.

Data flow: adapter (HTTP/webhook) -> :mod:`hub.kiosk.store` (database) -> reconcile (alerts),
floor plan (pages), kiosk stats. Nothing here is on the ingest path: a kiosk that is slow, down
or answers garbage only makes the store's kiosk state "unknown since ...".
"""

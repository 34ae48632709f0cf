"""Prometheus metrics of one hub process (own registry, so several apps in one process never clash)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class HubMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.ingested = Counter("seat_hub_messages_ingested", "Edge messages written", ["kind"], registry=r)
        self.bad_payloads = Counter(
            "seat_hub_bad_payloads", "Messages dropped as malformed or foreign", registry=r
        )
        self.rejected = Counter(
            "seat_hub_rejected_messages",
            "Messages (or single seat changes: reason unknown_seat) refused before the database, by reason",
            ["reason"], registry=r,
        )
        self.duplicates = Counter("seat_hub_duplicates", "Redelivered messages ignored", registry=r)
        self.gaps = Counter("seat_hub_sequence_gaps", "Sequence gaps detected", registry=r)
        self.snapshot_requests = Counter("seat_hub_snapshot_requests", "Snapshot requests sent", registry=r)
        self.seat_changes = Counter("seat_hub_seat_changes", "Seat state changes applied", registry=r)
        self.batch_failures = Counter("seat_hub_batch_failures", "Batches lost after retries", registry=r)
        self.batch_seconds = Histogram(
            "seat_hub_batch_seconds",
            "Time to write one ingest batch",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.batch_size = Histogram(
            "seat_hub_batch_size", "Messages per ingest batch", buckets=(1, 5, 10, 25, 50, 100, 200, 500), registry=r
        )
        self.queue_depth = Gauge("seat_hub_queue_depth", "Messages waiting for the writer", registry=r)
        # Per store (issue 20, item 5): which store sends how much. Labelled only with stores the hub
        # stored something for (a hostile edge cannot mint labels with messages that are refused).
        self.store_messages = Counter("seat_hub_store_messages", "Edge messages committed, by store", ["store"],
                                      registry=r)
        self.store_seat_changes = Counter("seat_hub_store_seat_changes", "Seat state changes applied, by store",
                                          ["store"], registry=r)
        self.store_sessions = Gauge("seat_hub_store_sessions", "Broker sessions open, one per store (mqtt.store_sessions)",
                                    registry=r)
        self.store_sessions_subscribed = Gauge("seat_hub_store_sessions_subscribed",
                                               "Store sessions connected and subscribed", registry=r)
        self.mqtt_connected = Gauge("seat_hub_mqtt_connected", "1 when connected to the broker", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)

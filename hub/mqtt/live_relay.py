"""Transport of live messages between hub replicas over the broker (the ``LiveBackend`` of
:class:`hub.live.fanout.LiveHub`, as a Channels backend is to Litestar's Channels plugin).

Every replica subscribes to ``{prefix}-live/#`` (not shared: each gets all of them) and publishes
what its own ingest and alert service produce there, QoS 0, as JSON. A dashboard open on one
replica so sees what another replica's ingest wrote. What comes back is decoded as a
``protocol.live`` message (anything else is logged and dropped) and handed to the local fan-out
with its JSON text as it came, not encoded again per replica.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import msgspec

from hub.mqtt.client import MqttClient
from protocol import TopicError
from protocol.live import LiveMessage, decode_live

# (store_id, message, its JSON as received): the fan-out's ``deliver``
Deliver = Callable[[str, LiveMessage, bytes], None]

log = logging.getLogger("hub.mqtt.live_relay")


class MqttLiveRelay:
    def __init__(self, client: MqttClient) -> None:
        self.client = client
        self.topics = client.topics
        self._deliver: Deliver | None = None
        self._open = True
        client.add_route(self.topics.live_filter(), 0, self._received)

    def connect(self, deliver: Deliver) -> None:
        self._deliver = deliver

    def close(self) -> None:
        """From now on, ``send`` refuses: the fan-out delivers locally (the hub is stopping)."""
        self._open = False

    def send(self, store_id: str, data: bytes) -> bool:
        return self._open and self.client.publish_now(self.topics.live_topic(store_id), data)

    def _received(self, topic: str, payload: bytes) -> None:
        try:
            store_id = self.topics.parse_live(topic)
            msg = decode_live(payload)
        except (TopicError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("dropped live update on %r: %s", topic, exc)
            return
        if self._deliver is not None:
            self._deliver(store_id, msg, payload)

"""Coverage-guided fuzzing (atheris / libFuzzer) of the hub's decoding path: bytes -> topic and
payload checks -> msgspec decode -> value guard. Run by tests/faults/test_fuzz_atheris.py with a
bounded number of runs; by hand: ``python tests/faults/atheris_decoders.py -runs=1000000``.
Any exception other than the decoders' own error types is a crash (libFuzzer reports it)."""

from __future__ import annotations

import sys
import time

import atheris
import msgspec  # noqa: F401 - heavy dependencies first, uninstrumented (instrumenting SQLAlchemy takes half a minute)
import sqlalchemy  # noqa: F401
import sqlalchemy.ext.asyncio  # noqa: F401

import hub.db.models  # noqa: F401

with atheris.instrument_imports(enable_loader_override=False):
    from hub.ingest.parse import IngestError, RawMessage, parse_message
    from protocol import ProtocolError, TopicSpace, decode_json
    from protocol.layout import layout_problems
    from protocol.limits import message_problem
    from protocol.messages import Birth, Config

TOPICS = TopicSpace("seat/v1")
KINDS = ["birth", "delta", "event", "health", "death", "config_ack"]


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    kind = KINDS[fdp.ConsumeIntInRange(0, len(KINDS) - 1)]
    store = "store-a" if fdp.ConsumeBool() else (fdp.ConsumeUnicodeNoSurrogates(8) or "a")
    topic = f"seat/v1/{store}/edge-1/{kind}"
    payload = fdp.ConsumeBytes(fdp.remaining_bytes())
    try:
        msg = parse_message(RawMessage(topic, payload, time.time()), TOPICS)
    except IngestError:
        msg = None
    if msg is not None:
        message_problem(msg, time.time())
        if isinstance(msg, Birth | Config):
            layout_problems(msg.seats)
    try:
        decode_json(payload)
    except ProtocolError:
        pass


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()

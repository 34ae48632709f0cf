"""The provisioning bundle format (protocol/bundle.py): round trip and specific refusals."""

from __future__ import annotations

import pytest

from protocol.bundle import (
    BUNDLE_FORMAT,
    BrokerInfo,
    BundleError,
    ModelInfo,
    ProvisioningBundle,
    decode_bundle,
    read_bundle,
    write_bundle,
)


def _bundle(**kw) -> ProvisioningBundle:
    base = dict(format=BUNDLE_FORMAT, store_id="oryudong", edge_id="edge1",
                broker=BrokerInfo(host="hub.example.com", port=8883, tls=True, username="u", password="p"),
                hub_url="https://hub.example.com", model=ModelInfo(url="file:///m.pt", sha256="a" * 64))
    base.update(kw)
    return ProvisioningBundle(**base)


def test_round_trip_and_file_mode(tmp_path):
    p = tmp_path / "b.json"
    write_bundle(p, _bundle())
    assert oct(p.stat().st_mode & 0o777) == "0o600"
    assert read_bundle(p) == _bundle()
    assert b'"store_id": "oryudong"' in p.read_bytes()  # pretty, readable JSON


@pytest.mark.parametrize(("text", "needle"), [
    ('{"format": 2, "store_id": "a", "edge_id": "e", "broker": {"host": "h"}}', "upgrade seat-edge"),
    ('{"format": 1, "store_id": "A B", "edge_id": "e", "broker": {"host": "h"}}', "invalid store id"),
    ('{"format": 1, "store_id": "a", "edge_id": "e", "broker": {"host": "h", "pasword": "x"}}', "pasword"),
    ('{"format": 1, "store_id": "a", "edge_id": "e", "broker": {"host": "h", "username": "u"}}', "come together"),
    ('{"format": 1, "store_id": "a", "edge_id": "e", "broker": {"host": "h", "port": 0}}', "not a TCP port"),
    ('{"format": 1, "store_id": "a", "edge_id": "e", "broker": {"host": "h", "ca_pem": "x"}}', "PEM"),
    ('{"format": 1, "store_id": "a", "edge_id": "e", "broker": {"host": "h"}, '
     '"model": {"url": "u", "sha256": "xyz"}}', "sha256"),
    ("not json", "not a valid provisioning bundle"),
])
def test_bad_bundles_are_refused_with_the_reason(text, needle):
    with pytest.raises(BundleError, match=needle):
        decode_bundle(text, "b.json")


def test_missing_file(tmp_path):
    with pytest.raises(BundleError, match="cannot read bundle"):
        read_bundle(tmp_path / "nope.json")

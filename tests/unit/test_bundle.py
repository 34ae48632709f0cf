"""The provisioning bundle (protocol/bundle.py) reads what `seat-hub store bundle` writes
(hub/stores/provision.py bundle_toml), and refuses bad bundles with the reason."""

from __future__ import annotations

import pytest

from hub.db.models import EdgeAccount
from hub.stores.provision import BrokerUrl, bundle_toml, write_private
from protocol.bundle import BundleError, decode_bundle, read_bundle

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def _write(folder, ca: bool):
    acc = EdgeAccount(username="oryudong.edge1", store_id="oryudong", edge_id="edge1", password_hash="x",
                      created_at=0.0, rotated_at=0.0)
    if ca:
        write_private(folder / "ca.crt", PEM)
    write_private(folder / "edge-bundle.toml", bundle_toml(acc, "s3cret", BrokerUrl.parse("mqtts://hub.example.com"),
                                                           "seat/v1", "/etc/seat-edge/ca.crt" if ca else None))


def test_reads_the_hubs_bundle_folder_with_its_ca(tmp_path):
    _write(tmp_path, ca=True)
    b = read_bundle(tmp_path)  # the folder, as the installer gets it
    assert (b.store_id, b.edge_id) == ("oryudong", "edge1")
    assert (b.mqtt.host, b.mqtt.port, b.mqtt.tls) == ("hub.example.com", 8883, True)
    assert (b.mqtt.username, b.mqtt.password) == ("oryudong.edge1", "s3cret")
    assert b.ca_pem == PEM
    assert read_bundle(tmp_path / "edge-bundle.toml") == b


def test_missing_ca_file_says_to_copy_the_whole_folder(tmp_path):
    _write(tmp_path, ca=True)
    (tmp_path / "ca.crt").unlink()
    with pytest.raises(BundleError, match="copy the whole bundle folder"):
        read_bundle(tmp_path)


BASE = '[edge]\nstore_id = "a"\n[mqtt]\nhost = "h"\n'


@pytest.mark.parametrize(("text", "needle"), [
    ('[edge]\nstore_id = "A B"\n[mqtt]\nhost = "h"\n', "invalid store id"),
    (BASE + 'pasword = "x"\n', "pasword"),
    (BASE + 'username = "u"\n', "come together"),
    (BASE + "port = 0\n", "not a TCP port"),
    (BASE + '[model]\nurl = "u"\nsha256 = "xyz"\n', "sha256"),
    ("not toml [", "not a valid provisioning bundle"),
    ('[edge]\nstore_id = "a"\n', "mqtt"),
])
def test_bad_bundles_are_refused_with_the_reason(text, needle):
    with pytest.raises(BundleError, match=needle):
        decode_bundle(text, "edge-bundle.toml")


def test_not_a_pem(tmp_path):
    with pytest.raises(BundleError, match="PEM"):
        decode_bundle(BASE, "b", ca_pem="hello")
    with pytest.raises(BundleError, match="cannot read bundle"):
        read_bundle(tmp_path / "nope")

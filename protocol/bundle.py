"""The provisioning bundle: what one edge box needs to join the hub, typed.

``seat-hub store bundle STORE --broker-url mqtts://HOST --out DIR`` (hub/stores/provision.py) writes
``DIR/edge-bundle.toml`` (and ``DIR/ca.crt`` for a private CA); the store installer carries the
folder to the box and runs ``seat-edge install --store STORE --bundle DIR``. It holds the broker
password of that one edge: keep it like a password, delete it after the install.

    [edge]
    store_id = "oryudong"
    edge_id = "edge1"
    timezone = "Europe/Berlin"          # only when the store's zone is not Asia/Seoul

    [mqtt]
    host = "hub.example.com"
    port = 8883
    topic_prefix = "seat/v1"
    username = "oryudong.edge1"
    password = "..."
    tls = true
    ca_file = "/etc/seat-edge/ca.crt"   # its file is ca.crt next to edge-bundle.toml

Optional, for sites that fetch the model from HQ: ``hub_url = "https://..."`` and a ``[model]``
table with ``url`` and ``sha256``. Unknown keys are refused (a typo must not silently drop a
credential).
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

from protocol.topics import DEFAULT_PREFIX, TopicError, validate_id

BUNDLE_FILE = "edge-bundle.toml"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BundleError(ValueError):
    """The bundle cannot be used; the message says which field and why."""


class BundleEdge(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    store_id: str
    edge_id: str = "edge1"
    # The store's time zone at the hub (issue 19: the edge takes the store's zone from its config);
    # the installer writes it as [edge] timezone. Written only when it is not the edge's default
    # (Asia/Seoul), so an installer of the previous release still reads a Korean store's bundle.
    timezone: str | None = None


class BundleMqtt(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    host: str
    port: int = 1883
    topic_prefix: str = DEFAULT_PREFIX
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None  # where the edge keeps the CA; the file itself travels in the bundle folder


class BundleModel(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    url: str  # http(s):// or file:// where the box fetches the weights
    sha256: str  # lowercase hex; the download is refused when it differs
    name: str = ""  # file name to store it under (default: the URL's last part)


class ProvisioningBundle(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    edge: BundleEdge
    mqtt: BundleMqtt
    hub_url: str | None = None  # dashboard address, shown to the installer
    model: BundleModel | None = None
    ca_pem: str | None = None  # the CA certificate's text (read from the bundle folder)

    @property
    def store_id(self) -> str:
        return self.edge.store_id

    @property
    def edge_id(self) -> str:
        return self.edge.edge_id


def check_bundle(b: ProvisioningBundle, source: str = "<bundle>") -> ProvisioningBundle:
    def bad(msg: str) -> BundleError:
        return BundleError(f"{source}: {msg}")

    try:
        validate_id(b.edge.store_id, "store id")
        validate_id(b.edge.edge_id, "edge id")
    except TopicError as exc:
        raise bad(str(exc)) from None
    if not b.mqtt.host.strip():
        raise bad("mqtt.host is empty")
    if not 0 < b.mqtt.port < 65536:
        raise bad(f"mqtt.port {b.mqtt.port} is not a TCP port")
    if (b.mqtt.username is None) != (b.mqtt.password is None):
        raise bad("mqtt.username and mqtt.password come together (one is missing)")
    if b.ca_pem is not None and "-----BEGIN CERTIFICATE-----" not in b.ca_pem:
        raise bad("the CA file is not a PEM certificate (no BEGIN CERTIFICATE line)")
    if b.model is not None and not _SHA256.match(b.model.sha256):
        raise bad("model.sha256 must be 64 lowercase hex digits")
    return b


def decode_bundle(text: bytes | str, source: str = "<bundle>", ca_pem: str | None = None) -> ProvisioningBundle:
    try:
        b = msgspec.toml.decode(text, type=ProvisioningBundle)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BundleError(f"{source}: not a valid provisioning bundle: {exc}") from None
    if ca_pem is not None:
        b = msgspec.structs.replace(b, ca_pem=ca_pem)
    return check_bundle(b, source)


def read_bundle(path: str | Path) -> ProvisioningBundle:
    """``path``: the bundle folder, or its edge-bundle.toml. The CA named by ``mqtt.ca_file`` is
    read from the same folder (the path in the file is where the edge will keep it)."""
    p = Path(path)
    f = p / BUNDLE_FILE if p.is_dir() else p
    try:
        text = f.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read bundle {f}: {exc.strerror or exc}") from None
    b = decode_bundle(text, str(f))
    if b.mqtt.ca_file and b.ca_pem is None:
        ca = f.parent / Path(b.mqtt.ca_file).name
        try:
            pem = ca.read_text()
        except OSError:
            raise BundleError(f"{f}: names the CA {b.mqtt.ca_file}, but {ca} is missing: copy the whole "
                              "bundle folder (edge-bundle.toml and ca.crt)") from None
        b = check_bundle(msgspec.structs.replace(b, ca_pem=pem), str(f))
    return b

"""The provisioning bundle: everything one edge box needs to join the hub, in one JSON file.

``seat-hub store bundle STORE`` writes it at HQ; the store installer carries it to the box and
runs ``seat-edge install --store STORE --bundle FILE``. It holds the broker credentials of that
one edge, so it is a secret: written 0600, delete it after the install.

Example (format 1)::

    {"format": 1, "store_id": "oryudong", "edge_id": "edge1",
     "broker": {"host": "hub.example.com", "port": 8883, "tls": true,
                "username": "oryudong-edge1", "password": "...", "ca_pem": "-----BEGIN ...",
                "topic_prefix": "seat/v1"},
     "hub_url": "https://hub.example.com",
     "model": {"url": "https://hub.example.com/models/yolo11s.pt", "sha256": "ab12..."}}

Unknown fields are refused (a typo must not silently drop a credential); a newer ``format``
is refused with a message saying to upgrade seat-edge.
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

from protocol.topics import DEFAULT_PREFIX, TopicError, validate_id

BUNDLE_FORMAT = 1
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BundleError(ValueError):
    """The bundle cannot be used; the message says which field and why."""


class BrokerInfo(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    host: str
    port: int = 1883
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_pem: str | None = None  # PEM of the CA that signed the broker's certificate (private CA)
    topic_prefix: str = DEFAULT_PREFIX


class ModelInfo(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    url: str  # http(s):// or file:// where the box fetches the weights
    sha256: str  # lowercase hex; the download is refused when it differs
    name: str = ""  # file name to store it under (default: the URL's last part)


class ProvisioningBundle(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    format: int
    store_id: str
    edge_id: str
    broker: BrokerInfo
    hub_url: str | None = None  # dashboard / API address, shown to the installer
    model: ModelInfo | None = None
    created_at: float | None = None  # unix seconds, informative


def _check(b: ProvisioningBundle) -> ProvisioningBundle:
    if b.format != BUNDLE_FORMAT:
        newer = b.format > BUNDLE_FORMAT
        raise BundleError(
            f"bundle format {b.format} is not supported (this seat-edge reads format {BUNDLE_FORMAT})"
            + ("; upgrade seat-edge" if newer else "; create a new bundle at the hub")
        )
    try:
        validate_id(b.store_id, "store id")
        validate_id(b.edge_id, "edge id")
    except TopicError as exc:
        raise BundleError(str(exc)) from None
    if not b.broker.host.strip():
        raise BundleError("broker.host is empty")
    if not 0 < b.broker.port < 65536:
        raise BundleError(f"broker.port {b.broker.port} is not a TCP port")
    if (b.broker.username is None) != (b.broker.password is None):
        raise BundleError("broker.username and broker.password come together (one is missing)")
    if b.broker.ca_pem is not None and "-----BEGIN CERTIFICATE-----" not in b.broker.ca_pem:
        raise BundleError("broker.ca_pem is not a PEM certificate (no BEGIN CERTIFICATE line)")
    if b.model is not None and not _SHA256.match(b.model.sha256):
        raise BundleError("model.sha256 must be 64 lowercase hex digits")
    return b


def encode_bundle(bundle: ProvisioningBundle) -> bytes:
    """Pretty JSON (an installer may open it to check the store id)."""
    _check(bundle)
    return msgspec.json.format(msgspec.json.encode(bundle), indent=2) + b"\n"


def decode_bundle(data: bytes | str, source: str = "<bundle>") -> ProvisioningBundle:
    try:
        bundle = msgspec.json.decode(data, type=ProvisioningBundle)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BundleError(f"{source}: not a valid provisioning bundle: {exc}") from None
    try:
        return _check(bundle)
    except BundleError as exc:
        raise BundleError(f"{source}: {exc}") from None


def read_bundle(path: str | Path) -> ProvisioningBundle:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read bundle {p}: {exc.strerror or exc}") from None
    return decode_bundle(data, str(p))


def write_bundle(path: str | Path, bundle: ProvisioningBundle) -> None:
    """Write 0600 from the start (it holds a broker password)."""
    import os

    p = Path(path)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(encode_bundle(bundle))
    os.chmod(p, 0o600)

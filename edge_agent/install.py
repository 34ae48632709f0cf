"""`seat-edge install`: prepare a box for a store (config file, data dir, password, service)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from protocol.topics import TopicError, validate_id

UNIT_NAME = "seat-edge.service"

_TEMPLATE = """\
# seat-edge configuration for store {store_id}, written by `seat-edge install`.
# Add channels and seats below (or push seats from the hub), then `seat-edge run --config {config}`.
config_version = 0

[edge]
store_id = "{store_id}"
edge_id = "{edge_id}"
data_dir = "{data_dir}"
sample_interval_s = 2.0

[mqtt]
host = "{hub_host}"
port = 1883
topic_prefix = "seat/v1"

[model]
weights = "yolo11s.pt"      # path of the weights file on this box
person_classes = ["person"]

[state]
abandoned_after_s = 600.0

[local_ui]
listen = "{lan_ip}"
port = 8088
password_hash = "{password_hash}"

# [[channels]]
# id = 1
# url = "rtsp://user:pass@NVR-ADDRESS:554/Streaming/Channels/102"
# name = "Room A"
"""


class InstallError(RuntimeError):
    pass


def install_edge(
    *, store_id: str, edge_id: str, config_dir: Path, data_dir: Path, hub_host: str, lan_ip: str,
    password: str, systemd: bool, force: bool,
) -> list[str]:
    from edge_agent.passwords import hash_password

    try:
        validate_id(store_id, "store id")
        validate_id(edge_id, "edge id")
    except TopicError as exc:
        raise InstallError(str(exc)) from None
    if len(password) < 8:
        raise InstallError("the fallback page password must have at least 8 characters")
    if lan_ip in ("0.0.0.0", "::"):
        raise InstallError("give the box's LAN address with --lan-ip, not all interfaces")
    config = config_dir / "edge.toml"
    if config.exists() and not force:
        raise InstallError(f"{config} exists; use --force to overwrite it")
    try:
        config_dir.mkdir(parents=True, exist_ok=True)
        data_dir.mkdir(parents=True, exist_ok=True)
        config.write_text(_TEMPLATE.format(
            store_id=store_id, edge_id=edge_id, data_dir=data_dir, hub_host=hub_host, lan_ip=lan_ip,
            password_hash=hash_password(password), config=config,
        ))
        config.chmod(0o600)  # holds the password hash and, later, broker credentials
    except OSError as exc:
        raise InstallError(f"cannot write {config} or {data_dir}: {exc} (run as root or pick other dirs)") from None
    steps = [f"wrote {config}", f"data directory {data_dir}"]
    if systemd:
        steps += _install_unit(config)
    steps.append(f"next: add channels and seats to {config}, then `seat-edge run --config {config}`")
    return steps


def _install_unit(config: Path) -> list[str]:
    src = Path(__file__).resolve().parent.parent / "packaging" / UNIT_NAME
    if not src.exists():
        raise InstallError(f"unit file {src} not found in this installation")
    if shutil.which("systemctl") is None:
        raise InstallError("systemctl not found: this box does not run systemd; start `seat-edge run` another way")
    exe = Path(sys.executable).parent / "seat-edge"
    unit = src.read_text().replace("@SEAT_EDGE@", str(exe)).replace("@CONFIG@", str(config))
    dst = Path("/etc/systemd/system") / UNIT_NAME
    dst.write_text(unit)
    subprocess.run(["systemctl", "daemon-reload"], check=True)
    subprocess.run(["systemctl", "enable", "--now", UNIT_NAME], check=True)
    return [f"installed and started {dst}"]

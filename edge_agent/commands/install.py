"""`seat-edge install` / `seat-edge uninstall`: prepare a box for a store, safely re-runnable.

The install is a list of *items* (a directory, a file, a link, the model, a command), each of
which first looks at the machine and says whether it is missing, differs or is already right.
``--dry-run`` prints exactly that (with a diff for files) and changes nothing; a real run changes
only what is missing or differs, so a second run reports every item ``unchanged``.

Every path derives from ``root`` ("/" on a real box). With another root (tests, trying it out
without sudo) the files point inside that root, and nothing outside it is touched: no user is
created and no ``systemctl`` is run; those items report ``skipped`` with the exact command a
real install would run. Enabling the unit there is the same symlink ``systemctl enable`` makes.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from edge_agent.commands.install_items import (
    Command,
    Dir,
    File,
    InstallError,
    Item,
    Link,
    Model,
    PasswordNeeded,
    Result,
)
from edge_agent.settings import DEFAULT_ITEM_CLASSES, EdgeConfig
from protocol.bundle import ProvisioningBundle
from protocol.topics import DEFAULT_PREFIX, TopicError, validate_id

UNIT_NAME = "seat-edge.service"
SERVICE_USER = "seat-edge"
UNIT_TEMPLATE = Path(__file__).resolve().parents[1] / "assets" / UNIT_NAME  # packaging/ links to it
# Hikvision/Dahua-style NVR substream of channel N ("/Streaming/Channels/102" for channel 1).
DEFAULT_NVR_PATH = "/Streaming/Channels/{n}02"


# ------------------------------------------------------------------------------------- layout
@dataclass(frozen=True)
class Layout:
    """Every path of an installation, under ``root``."""

    root: Path = Path("/")

    @property
    def real(self) -> bool:
        return self.root.resolve() == Path("/")

    @property
    def config_dir(self) -> Path:
        return self.root / "etc" / "seat-edge"

    @property
    def config(self) -> Path:
        return self.config_dir / "edge.toml"

    @property
    def ca_file(self) -> Path:
        return self.config_dir / "ca.crt"  # where `seat-hub store bundle` says the edge keeps it

    @property
    def data_dir(self) -> Path:
        return self.root / "var" / "lib" / "seat-edge"

    @property
    def model_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def unit_dir(self) -> Path:
        return self.root / "etc" / "systemd" / "system"

    @property
    def unit(self) -> Path:
        return self.unit_dir / UNIT_NAME

    @property
    def wants_link(self) -> Path:
        return self.unit_dir / "multi-user.target.wants" / UNIT_NAME


# ----------------------------------------------------------------------------------- options
@dataclass
class InstallOptions:
    store_id: str
    edge_id: str | None = None
    bundle: ProvisioningBundle | None = None
    hub_host: str | None = None  # without a bundle
    hub_port: int | None = None
    lan_ip: str | None = None
    local_port: int | None = None  # the staff page's port; None: keep the existing one (8088 new)
    password: str | None = None  # None: keep the existing hash
    model: Path | None = None
    model_url: str | None = None
    model_sha256: str | None = None
    person_classes: list[str] | None = None
    channels: list[str] = field(default_factory=list)
    root: Path = Path("/")
    systemd: bool = True


@dataclass
class Plan:
    layout: Layout
    items: list[Item]
    config_text: str
    cfg: EdgeConfig
    notes: list[str]


def _toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _toml_list(xs: list[str]) -> str:
    return "[" + ", ".join(_toml_str(x) for x in xs) + "]"


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_str(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to edge.toml")


def _kept(section: object | None, owned: set[str]) -> list[str]:
    """``key = value`` lines of the options of an existing config's section that differ from the
    defaults and that install does not set itself: a re-run keeps what the user tuned."""
    if section is None:
        return []
    out = []
    for f in msgspec.structs.fields(section):
        if f.name in owned:
            continue
        value = getattr(section, f.name)
        dflt = f.default if f.default is not msgspec.NODEFAULT else (
            f.default_factory() if f.default_factory is not msgspec.NODEFAULT else msgspec.NODEFAULT)
        if value != dflt:
            out.append(f"{f.name} = {_toml_value(msgspec.to_builtins(value))}")
    return out


def render_config(*, store_id: str, edge_id: str, data_dir: Path, mqtt: dict, weights: Path | str,
                  person_classes: list[str], item_classes: list[str], lan_ip: str, password_hash: str,
                  channels: list[tuple[int, str, str]], seats_toml: str, config_version: int,
                  old: EdgeConfig | None = None, local_port: int | None = None,
                  timezone: str | None = None) -> str:
    m = [f"host = {_toml_str(mqtt['host'])}", f"port = {mqtt['port']}",
         f"topic_prefix = {_toml_str(mqtt.get('topic_prefix') or DEFAULT_PREFIX)}"]
    if mqtt.get("username"):
        m += [f"username = {_toml_str(mqtt['username'])}", f"password = {_toml_str(mqtt['password'])}"]
    if mqtt.get("tls"):
        m.append("tls = true")
    if mqtt.get("ca_file"):
        m.append(f"ca_file = {_toml_str(str(mqtt['ca_file']))}")
    o = old
    m += _kept(o and o.mqtt, {"host", "port", "topic_prefix", "username", "password", "tls", "ca_file"})
    # the store's zone from the bundle wins over the one the file had (the hub is the record)
    edge_extra = _kept(o and o.edge, {"store_id", "edge_id", "data_dir", "sample_interval_s"}
                       | ({"timezone"} if timezone else set()))
    if timezone:
        edge_extra.append(f"timezone = {_toml_str(timezone)}")
    model_extra = _kept(o and o.model, {"weights", "person_classes", "item_classes"})
    if o is None:  # a new store: far seats get their extra passes (a re-run keeps what the file says)
        model_extra.append('crops = "auto"')
    ui_extra = _kept(o and o.local_ui, {"listen", "port", "password_hash"})
    local_port = local_port or (o.local_ui.port if o else 8088)
    tables = ""
    for name, section in (("seat_rules", o and o.seat_rules), ("state", o and o.state)):
        if lines := _kept(section, set()):
            tables += f"\n[{name}]\n" + "\n".join(lines) + "\n"
    kf = {c.id for c in o.channels if c.keyframes_only} if o else set()  # stays with its channel id
    ch = "".join(f"\n[[channels]]\nid = {i}\nurl = {_toml_str(u)}\nname = {_toml_str(n)}\n"
                 + ("keyframes_only = true\n" if i in kf else "") for i, u, n in channels)
    nl = "\n"
    return f"""\
# seat-edge configuration for store {store_id}, written by `seat-edge install`. Re-running it keeps
# every value here (channels, seats, password, tuned options) but not added comments.
# Every option: edge.toml.example.
config_version = {config_version}

[edge]
store_id = {_toml_str(store_id)}
edge_id = {_toml_str(edge_id)}
data_dir = {_toml_str(str(data_dir))}
sample_interval_s = {o.edge.sample_interval_s if o else 2.0!r}
{nl.join(edge_extra) + nl if edge_extra else ""}
[mqtt]
{nl.join(m)}

[model]
weights = {_toml_str(str(weights))}
person_classes = {_toml_list(person_classes)}
item_classes = {_toml_list(item_classes)}
{nl.join(model_extra) + nl if model_extra else ""}
[local_ui]
listen = {_toml_str(lan_ip)}
port = {local_port}
password_hash = {_toml_str(password_hash)}
{nl.join(ui_extra) + nl if ui_extra else ""}{tables}{ch}{seats_toml}"""


def render_seats(seats: list) -> str:
    """``[[seats]]`` tables for edge.toml (install keeps the seats a config already has)."""
    out = []
    for s in seats:
        poly = ", ".join(f"[{x:g}, {y:g}]" for x, y in s.polygon)
        out.append(f"\n[[seats]]\nseat_id = {_toml_str(s.seat_id)}\nchannel = {s.channel}\n"
                   f"label = {_toml_str(s.label)}\ntype = {_toml_str(s.type)}\n"
                   + ("" if s.active else "active = false\n") + f"polygon = [{poly}]\n"
                   + ("" if s.desk is None else  # the drawn desk zone (issue 12) is kept too
                      "desk = [" + ", ".join(f"[{x:g}, {y:g}]" for x, y in s.desk) + "]\n"))
    return "".join(out)


def nvr_channel_urls(nvr: str, count: int, path_template: str = DEFAULT_NVR_PATH) -> list[str]:
    """``rtsp://user:pass@192.168.0.20:554`` + 4 -> the substream URL of channels 1..4."""
    if not nvr.startswith(("rtsp://", "rtsps://")):
        nvr = "rtsp://" + nvr
    if not 1 <= count <= 64:
        raise InstallError(f"--channels must be 1..64, got {count}")
    if "{n}" not in path_template:
        raise InstallError("--nvr-path must contain {n} (the channel number), e.g. /Streaming/Channels/{n}02")
    return [nvr.rstrip("/") + path_template.format(n=n) for n in range(1, count + 1)]


def model_person_classes(weights: Path) -> tuple[list[str], list[str], str | None]:
    """Person and item classes for this model file: COCO names when it has them, the offline
    person model's names otherwise; an error string when neither fits."""
    from edge_agent.demo.layout import OFFLINE_PERSON_CLASSES
    from edge_agent.vision.detector import DetectorError, load_model

    try:
        names = {n.lower(): n for n in dict(load_model(str(weights)).names).values()}
    except DetectorError as exc:
        return [], [], str(exc)
    if "person" in names:
        return [names["person"]], [c for c in DEFAULT_ITEM_CLASSES if c in names], None
    if all(c.lower() in names for c in OFFLINE_PERSON_CLASSES):
        return list(OFFLINE_PERSON_CLASSES), [], None
    return [], [], f"model {weights} has no 'person' class (it has {', '.join(names.values())}); give --person-classes"


def _existing(layout: Layout) -> EdgeConfig | None:
    from edge_agent.settings import ConfigError, load_config

    if not layout.config.exists():
        return None
    try:
        return load_config(layout.config)
    except ConfigError as exc:
        raise InstallError(f"the existing {layout.config} is broken ({exc}); fix it or move it away, then re-run") from None


def plan_install(o: InstallOptions, emit: Callable[[str], None] = lambda _m: None) -> Plan:
    from edge_agent.commands.doctor import sha256_file
    from edge_agent.local_page.passwords import MIN_LENGTH, hash_password, verify_password

    layout = Layout(o.root)
    b = o.bundle
    if b is not None and (o.hub_host or o.hub_port):
        raise InstallError("--hub-host/--hub-port and --bundle both name the broker: give one (the bundle's is HQ's)")
    if b is not None and b.store_id != o.store_id:
        raise InstallError(f"the bundle is for store {b.store_id!r}, not {o.store_id!r}: use the bundle of this store")
    edge_id = o.edge_id or (b.edge_id if b else None)
    old = _existing(layout)
    edge_id = edge_id or (old.edge.edge_id if old else "edge1")
    try:
        validate_id(o.store_id, "store id")
        validate_id(edge_id, "edge id")
    except TopicError as exc:
        raise InstallError(str(exc)) from None
    if old is not None and old.edge.store_id != o.store_id:
        raise InstallError(f"{layout.config} is for store {old.edge.store_id!r}; uninstall first to change the store")
    notes: list[str] = []
    owner = (SERVICE_USER, SERVICE_USER) if layout.real else None
    conf_owner = ("root", SERVICE_USER) if layout.real else None

    # Local page password: keep the existing hash unless a different password is given (the
    # hash is salted: re-hashing the same password would change the file on every run).
    old_hash = old.local_ui.password_hash if old else None
    if o.password is not None:
        if len(o.password) < MIN_LENGTH:
            raise InstallError(f"the fallback page password must have at least {MIN_LENGTH} characters")
        same = False
        if old_hash:
            try:
                same = verify_password(old_hash, o.password)
            except ValueError:
                same = False
        password_hash = old_hash if same else hash_password(o.password)
    elif old_hash:
        password_hash = old_hash
    else:
        raise PasswordNeeded("give --password for the staff fallback page (at least 8 characters)")

    lan_ip = o.lan_ip or (old.local_ui.listen if old else "127.0.0.1")
    if lan_ip in ("0.0.0.0", "::"):
        raise InstallError("give the box's LAN address with --lan-ip, not all interfaces")

    # Broker: the bundle, else --hub-host, else what the config has.
    items: list[Item] = []
    if b is not None:
        mqtt = {"host": b.mqtt.host, "port": b.mqtt.port, "tls": b.mqtt.tls, "username": b.mqtt.username,
                "password": b.mqtt.password, "topic_prefix": b.mqtt.topic_prefix}
        if b.ca_pem:
            mqtt["ca_file"] = layout.ca_file
            items_ca = [File(layout.ca_file, b.ca_pem.encode(), 0o644)]
        else:
            items_ca = []
    else:
        om = old.mqtt if old else None
        mqtt = {"host": o.hub_host or (om.host if om else "127.0.0.1"),
                "port": o.hub_port or (om.port if om else 1883), "tls": om.tls if om else False,
                "username": om.username if om else None, "password": om.password if om else None,
                "topic_prefix": om.topic_prefix if om else DEFAULT_PREFIX, "ca_file": om.ca_file if om else None}
        items_ca = []

    # Model: a local file (offline sites), a URL with its checksum, the bundle's, or the one installed.
    model_item: Model | None = None
    url, want = o.model_url, o.model_sha256
    if o.model is None and url is None and b is not None and b.model is not None:
        url, want = b.model.url, b.model.sha256
    if want is not None:
        want = want.strip().lower()
        if len(want) != 64 or any(c not in "0123456789abcdef" for c in want):
            raise InstallError("--model-sha256 must be 64 hex digits (sha256sum FILE prints it)")
    if o.model is not None:
        src = o.model.expanduser().resolve()
        if not src.is_file():
            raise InstallError(f"--model {o.model}: no such file")
        emit(f"checking the model {src} ({src.stat().st_size / 1e6:.1f} MB)…")
        digest = sha256_file(src)
        if want and digest != want:
            raise InstallError(f"--model {src} has sha256 {digest}, not the expected {want}: wrong or damaged file")
        model_item = Model(layout.model_dir / src.name, digest, source=src, owner=owner)
    elif url is not None:
        if want is None:
            raise InstallError("--model-url needs --model-sha256 (the download is checked against it)")
        name = (b.model.name if b and b.model and b.model.name and url == b.model.url else "") or \
            url.rstrip("/").rsplit("/", 1)[-1] or "model.pt"
        model_item = Model(layout.model_dir / name, want, url=url, owner=owner, progress=emit)
    if model_item is not None:
        weights: Path | str = model_item.dest
    elif old is not None and Path(old.model.weights).is_file():
        weights = old.model.weights
    else:
        raise InstallError("no model: give --model /path/to/weights.pt (offline) or --model-url URL --model-sha256 HEX")

    if o.person_classes:
        persons, item_cls = o.person_classes, (old.model.item_classes if old else list(DEFAULT_ITEM_CLASSES))
    elif model_item is not None and model_item.source is not None:
        persons, item_cls, err = model_person_classes(model_item.source)
        if err:
            raise InstallError(err)
        if not item_cls:
            notes.append("this model sees persons only: a seat whose student left their things reads empty "
                         "until the seat has its empty reference picture (see docs/seats.md)")
    elif old is not None:
        persons, item_cls = old.model.person_classes, old.model.item_classes
    else:
        persons, item_cls = ["person"], list(DEFAULT_ITEM_CLASSES)

    if o.channels:
        names = {c.id: c.name for c in old.channels} if old else {}  # the names the user gave stay
        channels = [(i, u, names.get(i, "")) for i, u in enumerate(o.channels, 1)]
    else:
        channels = [(c.id, c.url, c.name) for c in old.channels] if old else []
    if not channels:
        notes.append("no camera channels yet: re-run with --nvr rtsp://USER:PASS@NVR-IP --channels N "
                     "(or --channel URL, repeated)")

    text = render_config(
        store_id=o.store_id, edge_id=edge_id, data_dir=layout.data_dir, mqtt=mqtt, weights=weights,
        person_classes=persons, item_classes=item_cls, lan_ip=lan_ip, password_hash=password_hash,
        channels=channels, seats_toml=render_seats(old.seats if old else []), config_version=old.config_version if old else 0,
        old=old, local_port=o.local_port, timezone=b.edge.timezone if b is not None else None,
    )
    from edge_agent.settings import ConfigError, parse_config

    try:
        cfg = parse_config(tomllib.loads(text), str(layout.config))
    except ConfigError as exc:
        raise InstallError(f"the config install would write is invalid: {exc}") from None

    if layout.real:
        items.append(Command(
            ["useradd", "--system", "--home-dir", str(layout.data_dir), "--no-create-home",
             "--shell", "/usr/sbin/nologin", "--user-group", SERVICE_USER],
            f"system user {SERVICE_USER}", needed=lambda: not _user_exists(SERVICE_USER)))
    else:
        items.append(Command(
            ["useradd", "--system", "--home-dir", "/var/lib/seat-edge", "--no-create-home",
             "--shell", "/usr/sbin/nologin", "--user-group", SERVICE_USER],
            f"system user {SERVICE_USER}"))
    config_item = File(layout.config, text.encode(), 0o640, conf_owner)  # password hash, broker credentials
    config_changed = config_item.state() != "same"
    items += [
        Dir(layout.config_dir, 0o750, conf_owner),
        *items_ca,
        config_item,
        Dir(layout.data_dir, 0o750, owner),
        Dir(layout.model_dir, 0o755, owner),
    ]
    if model_item is not None:
        items.append(model_item)
    if o.systemd:
        unit_item = File(layout.unit, render_unit(layout).encode(), 0o644)
        unit_changed = unit_item.state() != "same"
        items.append(unit_item)
        if layout.real:
            if not Path("/run/systemd/system").is_dir():
                raise InstallError("this box does not run systemd (no /run/systemd/system): use --no-systemd "
                                   "and start `seat-edge run --config ...` another way")
            was_active = _systemctl_ok("is-active")
            items += [
                Command(["systemctl", "daemon-reload"], "systemd reload", needed=lambda: unit_changed),
                Command(["systemctl", "enable", "--now", UNIT_NAME], f"enable and start {UNIT_NAME}",
                        needed=lambda: not _systemctl_ok("is-enabled") or not _systemctl_ok("is-active")),
                Command(["systemctl", "restart", UNIT_NAME], f"restart {UNIT_NAME} (config changed)",
                        needed=lambda: (unit_changed or config_changed) and was_active),
            ]
        else:
            # What `systemctl --root enable` does for WantedBy=multi-user.target.
            items.append(Link(layout.wants_link, f"/etc/systemd/system/{UNIT_NAME}"))
    return Plan(layout, items, text, cfg, notes)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _systemctl_ok(verb: str) -> bool:
    r = subprocess.run(["systemctl", verb, "--quiet", UNIT_NAME], capture_output=True, check=False)
    return r.returncode == 0


def seat_edge_exe() -> Path:
    return Path(sys.executable).parent / "seat-edge"


def render_unit(layout: Layout) -> str:
    if not UNIT_TEMPLATE.exists():
        raise InstallError(f"unit template {UNIT_TEMPLATE} not found in this installation")
    # A test root still runs this venv's seat-edge; PYTHONPATH of a source checkout goes along.
    env = f"Environment=PYTHONPATH={os.environ['PYTHONPATH']}\n" if os.environ.get("PYTHONPATH") else ""
    return (UNIT_TEMPLATE.read_text().replace("@SEAT_EDGE@", str(seat_edge_exe()))
            .replace("@CONFIG@", str(layout.config)).replace("@DATA_DIR@", str(layout.data_dir))
            .replace("@USER@", SERVICE_USER).replace("@ENV@\n", env))


# ----------------------------------------------------------------------------------- uninstall
def uninstall(root: Path, *, purge: bool, dry_run: bool, emit: Callable[[Result], None]) -> list[Result]:
    """Stop and disable the service, remove the unit and config; the data (SQLite with the
    events not yet delivered, model files) stays unless ``purge``."""
    layout = Layout(root)
    results: list[Result] = []

    def out(r: Result) -> None:
        results.append(r)
        emit(r)

    if layout.real and shutil.which("systemctl"):
        for argv, why, needed in (
            (["systemctl", "disable", "--now", UNIT_NAME], f"stop and disable {UNIT_NAME}",
             lambda: _systemctl_ok("is-enabled") or _systemctl_ok("is-active")),
        ):
            cmd = Command(argv, why, needed)
            if cmd.state() == "same":
                out(Result(why, "unchanged"))
            elif dry_run:
                out(Result(why, "would run", cmd.describe()))
            else:
                cmd.apply()
                out(Result(why, "ran", cmd.describe()))
    targets = [layout.wants_link, layout.unit, layout.config_dir]
    if purge:
        targets.append(layout.data_dir)
    for p in targets:
        if not (p.exists() or p.is_symlink()):
            out(Result(f"{p}", "unchanged", "not there"))
            continue
        name = f"{'directory' if p.is_dir() and not p.is_symlink() else 'file'} {p}"
        if dry_run:
            out(Result(name, "would remove"))
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()
        out(Result(name, "removed"))
    if not purge:
        kept = layout.data_dir
        out(Result(f"directory {kept}", "kept", "events, outbox and models; --purge removes them"))
    if layout.real and not dry_run and shutil.which("systemctl"):
        subprocess.run(["systemctl", "daemon-reload"], capture_output=True, check=False)
    return results


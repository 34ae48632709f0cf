"""`seat-edge`: the store box's command line (Typer)."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

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

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Path to edge.toml.", envvar="SEAT_EDGE_CONFIG")]


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _load(config: Path):
    from edge_agent.config import ConfigError, load_config

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
    from edge_agent.detector import DetectorError

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
    from edge_agent.status import render_status

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
    from edge_agent.replay import ReplayError, run_replay

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

    from edge_agent.config import ModelSection, SeatsSection
    from edge_agent.detector import Detector, DetectorError, offline_person_model
    from edge_agent.evaluate import EvaluateError, load_sequence, read_label_csv, run_sequence

    cfg = _load(config) if config is not None else None
    if cfg is not None:
        model = cfg.model
    else:
        off = offline_person_model()
        model = ModelSection(weights=str(off), person_classes=["Normal", "Fall"], conf=0.3) if off else ModelSection()
    changes: dict = {}
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
    if labels is not None and len(sequences) != 1:
        typer.secho("--labels goes with exactly one sequence", fg="red", err=True)
        raise typer.Exit(2)
    try:
        detector = Detector(model)
    except DetectorError as exc:
        typer.secho(f"Model error: {exc}", fg="red", err=True)
        raise typer.Exit(3) from None
    typer.echo(f"model {model.weights} imgsz {model.imgsz} tiles {model.tiles[0]}x{model.tiles[1]} "
               f"on {detector.device}", err=True)
    total = right = flicker = 0
    for path in sequences:
        try:
            seq = load_sequence(path)
            if cfg is not None:  # the store's [seat_rules], unless the sequence overrides them
                seq.spec.seat_rules = {**msgspec.to_builtins(cfg.seat_rules), **seq.spec.seat_rules}
                msgspec.convert(seq.spec.seat_rules, SeatsSection)
            truth = read_label_csv(labels, []) if labels is not None else None
            report = run_sequence(seq, detector.detect, labels=truth, lag_s=lag,
                                  progress=lambda m: typer.echo(m, err=True))
        except EvaluateError as exc:
            typer.secho(f"Evaluate error: {exc}", fg="red", err=True)
            raise typer.Exit(2) from None
        typer.echo(report.text())
        total, right, flicker = total + report.samples, right + report.right, flicker + report.flicker
    if len(sequences) > 1 and total:
        typer.echo(f"all {len(sequences)} sequences: {total} seat-samples, {right / total:.1%} right, flicker {flicker}")


@app.command()
def snapshot(
    config: ConfigOpt,
    channel: Annotated[int, typer.Option(help="Channel id.")],
    out: Annotated[Path, typer.Option(help="PNG file to write.")],
) -> None:
    """Save the channel's current frame with seat polygons, states and detections drawn."""
    cfg = _load(config)
    from edge_agent.snapshot import SnapshotError, take_snapshot

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
    from edge_agent.store import EdgeStore

    store = EdgeStore(cfg.data_path / "edge.sqlite")
    store.meta_set("reference_request", str(channel))
    store.close()
    typer.echo(f"Requested new empty references for channel {channel}; the running agent takes them at its next sample.")


@app.command()
def install(
    store: Annotated[str, typer.Option("--store", help="Store id, e.g. oryudong.")],
    edge_id: Annotated[str, typer.Option(help="Edge id within the store.")] = "edge1",
    config_dir: Annotated[Path, typer.Option(help="Where edge.toml is written.")] = Path("/etc/seat-edge"),
    data_dir: Annotated[Path, typer.Option(help="SQLite data directory.")] = Path("/var/lib/seat-edge"),
    hub_host: Annotated[str, typer.Option(help="MQTT broker of the hub.")] = "127.0.0.1",
    lan_ip: Annotated[str, typer.Option(help="LAN address for the staff fallback page.")] = "127.0.0.1",
    password: Annotated[
        str | None, typer.Option(help="Fallback page password (asked for when not given).")
    ] = None,
    systemd: Annotated[bool, typer.Option(help="Install and enable the systemd unit.")] = False,
    force: Annotated[bool, typer.Option(help="Overwrite an existing edge.toml.")] = False,
) -> None:
    """Set up this box for a store: write edge.toml, the data directory, the local page password
    and (with --systemd) the service."""
    from edge_agent.install import InstallError, install_edge

    if password is None:
        password = typer.prompt("Password for the staff fallback page", hide_input=True, confirmation_prompt=True)
    try:
        steps = install_edge(
            store_id=store, edge_id=edge_id, config_dir=config_dir, data_dir=data_dir, hub_host=hub_host,
            lan_ip=lan_ip, password=password, systemd=systemd, force=force,
        )
    except InstallError as exc:
        typer.secho(f"Install error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    for s in steps:
        typer.echo(s)


@app.command()
def demo(
    store: Annotated[str, typer.Option(help="Store id the demo edge reports as.")] = "demo",
    mqtt_host: Annotated[str, typer.Option(help="Broker host.")] = "127.0.0.1",
    mqtt_port: Annotated[int, typer.Option(help="Broker port.")] = 1883,
    topic_prefix: Annotated[str, typer.Option(help="MQTT topic prefix.")] = "seat/v1",
    workdir: Annotated[Path, typer.Option(help="Where the demo keeps its SQLite and pictures.")] = Path("var/demo"),
    switch_every: Annotated[float, typer.Option(help="Seconds between the sample camera's pictures.")] = 20.0,
    local_port: Annotated[int, typer.Option(help="Port of the local fallback page.")] = 8088,
    rtsp: Annotated[bool, typer.Option(help="Serve the sample camera over real RTSP (GStreamer).")] = True,
    for_s: Annotated[float | None, typer.Option("--for", help="Run this many seconds, then exit 0.")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run an agent on the built-in sample camera (real library CCTV frames, alternating).

    Started by `seat-hub demo`; useful alone against any broker.
    """
    _setup_logging(log_level)
    from edge_agent.agent import EdgeAgent
    from edge_agent.demo import DEMO_PASSWORD, SampleCamera, demo_config

    workdir.mkdir(parents=True, exist_ok=True)
    camera = SampleCamera(workdir, switch_every, prefer_rtsp=rtsp)
    cfg = demo_config(store, workdir, mqtt_host, mqtt_port, topic_prefix, camera.urls, local_port)
    typer.echo(f"staff fallback page: http://127.0.0.1:{local_port}/ (password: {DEMO_PASSWORD})", err=True)
    camera.start()
    agent = EdgeAgent(cfg)
    signal.signal(signal.SIGTERM, lambda *_: agent.request_stop())
    agent.start()
    typer.echo(f"demo edge: store {store}, sample camera over {camera.kind}: "
               + ", ".join(camera.urls.values()), err=True)
    try:
        agent.run(duration_s=for_s)
    except KeyboardInterrupt:
        pass
    finally:
        agent.stop()
        camera.stop()


if __name__ == "__main__":
    app()

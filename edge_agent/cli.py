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
    """Take the empty-seat reference images of a channel now (do this when its seats are empty).

    The running agent picks the request up at its next sample.
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
    camera = agent = None

    def on_sigterm(*_) -> None:
        # Before the agent runs, unwind (so the sample camera's RTSP server stops too); then stop cleanly.
        if agent is None:
            raise KeyboardInterrupt
        agent.request_stop()

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        camera = SampleCamera(workdir, switch_every, prefer_rtsp=rtsp)
        cfg = demo_config(store, workdir, mqtt_host, mqtt_port, topic_prefix, camera.urls, local_port)
        typer.echo(f"staff fallback page: http://127.0.0.1:{local_port}/ (password: {DEMO_PASSWORD})", err=True)
        camera.start()
        agent = EdgeAgent(cfg)
        agent.start()
        typer.echo(f"demo edge: store {store}, sample camera over {camera.kind}: "
                   + ", ".join(camera.urls.values()), err=True)
        agent.run(duration_s=for_s)
    except KeyboardInterrupt:
        pass
    finally:
        if agent is not None:
            agent.stop()
        if camera is not None:
            camera.stop()


if __name__ == "__main__":
    app()

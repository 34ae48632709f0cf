"""`seat-edge install` and `seat-edge uninstall` as the store installer sees them: the options, the
progress and the "what next" lines. The work itself is in ``install.py`` and ``install_items.py``;
``edge_agent/cli.py`` registers these two commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

RootOpt = Annotated[Path, typer.Option(
    "--root", help="Install under this directory instead of / (tests, packaging, trying it without sudo): "
    "every path lives below it, no user is created and systemctl is not run.")]

_MARKS = {"created": "+", "updated": "~", "ran": "+", "removed": "-", "would create": "+", "would update": "~",
          "would run": "+", "would remove": "-", "unchanged": "=", "skipped": "·", "kept": "="}


def _show(res, verbose: bool) -> None:
    typer.echo(f"{_MARKS.get(res.status, '?')} {res.status:<12} {res.item}")
    if res.detail and (verbose or res.status.startswith("would") or res.status == "skipped"):
        for line in res.detail.splitlines():
            typer.echo(f"      {line}")


def install(
    store: Annotated[str, typer.Option("--store", help="Store id, e.g. oryudong (must match the bundle).")],
    bundle: Annotated[Path | None, typer.Option(
        help="Provisioning bundle from HQ (`seat-hub store bundle STORE --out DIR`): the folder or its "
             "edge-bundle.toml; broker address, this edge's login, the CA.")] = None,
    model: Annotated[Path | None, typer.Option(
        help="Local weights file (offline sites); copied to the data dir, its SHA-256 recorded.")] = None,
    model_url: Annotated[str | None, typer.Option(help="Download the weights from here (needs --model-sha256).")] = None,
    model_sha256: Annotated[str | None, typer.Option(help="Expected SHA-256 of the weights (sha256sum FILE).")] = None,
    person_classes: Annotated[str | None, typer.Option(
        help="Comma-separated class names that mean a person (default: taken from the model).")] = None,
    nvr: Annotated[str | None, typer.Option(
        help="NVR address, rtsp://USER:PASS@192.168.0.20:554; with --channels N gives channels 1..N.")] = None,
    channels: Annotated[int, typer.Option(help="Number of NVR channels to use (with --nvr).")] = 0,
    nvr_path: Annotated[str, typer.Option(help="RTSP path of channel {n} on the NVR (substream).")] = "/Streaming/Channels/{n}02",
    channel: Annotated[list[str] | None, typer.Option(
        "--channel", help="One camera URL per channel, repeated (instead of --nvr).")] = None,
    edge_id: Annotated[str | None, typer.Option(help="Edge id within the store (default: from the bundle, else edge1).")] = None,
    hub_host: Annotated[str | None, typer.Option(help="MQTT broker of the hub, without a bundle.")] = None,
    hub_port: Annotated[int | None, typer.Option(help="Broker port, without a bundle.")] = None,
    lan_ip: Annotated[str | None, typer.Option(help="LAN address of this box for the staff fallback page.")] = None,
    local_port: Annotated[int | None, typer.Option(
        help="Port of the staff fallback page (default: the one already set, else 8088).")] = None,
    password: Annotated[str | None, typer.Option(
        help="Fallback page password (asked for on the first install; later runs keep it).")] = None,
    systemd: Annotated[bool, typer.Option(help="Install and enable the systemd unit.")] = True,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show every change (with diffs) and make none.")] = False,
    probe: Annotated[bool, typer.Option(help="Probe each camera channel (resolution, fps).")] = True,
    root: RootOpt = Path("/"),
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the diff of every change.")] = False,
) -> None:
    """Set up this box for a store, safe to re-run: checks the machine (Python, disk, NVIDIA driver,
    CUDA and the GPU's architecture), writes /etc/seat-edge/edge.toml from the bundle, installs the
    model (checksum verified), probes every camera, installs the systemd unit (own user, restart on
    failure, resource limits) and says what to do next.

    Re-running changes only what differs (it keeps the channels, seats and password already there).
    Example: seat-edge install --store oryudong --bundle ./oryudong --model yolo11s.pt
    --nvr rtsp://admin:PASS@192.168.0.20:554 --channels 4 --lan-ip 192.168.0.50
    """
    from edge_agent.commands.doctor import machine_checks, probe_all, render_table
    from edge_agent.commands.install import InstallOptions, Layout, nvr_channel_urls, plan_install
    from edge_agent.commands.install_items import InstallError, PasswordNeeded, run_items
    from protocol.bundle import BundleError, read_bundle

    def fail(msg: str) -> None:
        typer.secho(f"Install error: {msg}", fg="red", err=True)
        raise typer.Exit(2)

    try:
        b = read_bundle(bundle) if bundle else None
        urls = list(channel or [])
        if nvr:
            if urls:
                fail("give either --nvr with --channels or --channel URLs, not both")
            urls = nvr_channel_urls(nvr, channels, nvr_path)
        layout = Layout(root)
        opts = InstallOptions(
            store_id=store, edge_id=edge_id, bundle=b, hub_host=hub_host, hub_port=hub_port, lan_ip=lan_ip,
            local_port=local_port, password=password,
            model=model, model_url=model_url, model_sha256=model_sha256,
            person_classes=[c.strip() for c in person_classes.split(",") if c.strip()] if person_classes else None,
            channels=urls, root=root, systemd=systemd,
        )
        typer.echo(f"seat-edge install: store {store}{' (dry run: nothing is changed)' if dry_run else ''}")
        typer.echo("\nThis machine:")
        typer.echo(render_table(machine_checks(layout.data_dir)))
        try:
            plan = plan_install(opts, emit=lambda m: typer.echo(m, err=True))
        except PasswordNeeded:
            # Asked only now, after everything else on the command line was found usable.
            opts.password = "placeholder" if dry_run else typer.prompt(
                "Password for the staff fallback page", hide_input=True, confirmation_prompt=True)
            plan = plan_install(opts, emit=lambda m: typer.echo(m, err=True))
        typer.echo("\nChanges:" if not dry_run else "\nChanges it would make:")
        results = run_items(plan.items, dry_run=dry_run, real=plan.layout.real, emit=lambda r: _show(r, verbose))
    except (InstallError, BundleError) as exc:
        fail(str(exc))
    changed = sum(1 for r in results if r.status not in ("unchanged", "skipped"))
    typer.echo(f"{changed} {'to change' if dry_run else 'changed'}, {sum(1 for r in results if r.status == 'unchanged')} unchanged, "
               f"{sum(1 for r in results if r.status == 'skipped')} skipped")
    cfg = plan.cfg
    bad_channels = 0
    if probe and cfg.channels:
        typer.echo("\nCameras:")
        typer.echo(f"  probing {len(cfg.channels)} channels for a few seconds…", err=True)
        checks = probe_all(cfg.channels)
        bad_channels = sum(1 for c in checks if not c.ok)
        typer.echo(render_table(checks))
    for n in plan.notes:
        typer.secho(f"note: {n}", fg="yellow")
    conf = plan.layout.config
    import shutil

    from edge_agent.commands.install import seat_edge_exe

    # Not on PATH (a venv of a trial): show the command with its path, so it can be copied as is.
    exe = "seat-edge" if shutil.which("seat-edge") == str(seat_edge_exe()) else str(seat_edge_exe())
    typer.echo("\nNext:")
    if dry_run:
        typer.echo("  run the same command without --dry-run")
    else:
        if bad_channels:
            typer.echo("  fix the unreachable cameras (docs/troubleshooting.md), then re-run this command")
        if not cfg.seats:
            typer.echo(f"  draw the seats: at the hub (ROI editor, pushed to this box), or in {conf} "
                       f"(docs/seats.md); check them with `{exe} snapshot --config {conf} --channel 1 --out ch1.png`")
        if plan.layout.real and systemd:
            typer.echo("  the service runs: `systemctl status seat-edge`, logs: `journalctl -u seat-edge -f`")
        else:
            typer.echo(f"  start the agent: {exe} run --config {conf}")
        typer.echo(f"  check everything: {exe} doctor --config {conf}")
        if b is not None and b.hub_url:
            typer.echo(f"  the store at the hub: {b.hub_url.rstrip('/')}/stores/{store}")
        if b is not None:
            typer.echo(f"  delete the bundle {bundle}: it holds this edge's broker password (now in {conf})")


def uninstall(
    purge: Annotated[bool, typer.Option("--purge", help="Also delete the data dir (events, outbox, models).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be removed, remove nothing.")] = False,
    root: RootOpt = Path("/"),
) -> None:
    """Stop and remove the service and its config. The data (/var/lib/seat-edge: events not yet
    delivered to the hub, the model) is kept unless --purge."""
    from edge_agent.commands.install import uninstall as do_uninstall
    from edge_agent.commands.install_items import InstallError

    try:
        do_uninstall(root, purge=purge, dry_run=dry_run, emit=lambda r: _show(r, True))
    except InstallError as exc:
        typer.secho(f"Uninstall error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None

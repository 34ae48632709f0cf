#!/usr/bin/python3
"""A real RTSP server (GStreamer rtsp-server) that serves JPEG files as H.264 channels.

Runs under the *system* Python (``/usr/bin/python3``) because it needs PyGObject and the
GStreamer introspection data from Debian packages; the harness in ``rtsp_server.py`` starts it.

    /usr/bin/python3 gst_child.py --port 8554 --width 640 --height 360 --fps 10 \
        /tmp/ch1.jpg /tmp/ch2.jpg            # -> rtsp://127.0.0.1:8554/ch1, /ch2

Each mount re-reads its file for every frame (multifilesrc opens the file per buffer), so
atomically replacing the file changes the served picture while clients stay connected.
A path with a ``%05d`` pattern serves that numbered sequence in a loop (a busy scene).
Prints ``READY <port>`` on stdout once it listens.
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402 - after require_version


def launch_line(path: str, width: int, height: int, fps: int, gop: int) -> str:
    # videoscale keeps the encoded size fixed even when a replacement image has another size;
    # key-int-max sets the keyframe spacing that keyframe-only readers depend on.
    return (
        f'( multifilesrc location="{path}" loop=true caps=image/jpeg,framerate={fps}/1 '
        "! jpegdec ! videoconvert ! videoscale "
        f"! video/x-raw,format=I420,width={width},height={height} "
        f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bitrate=1024 "
        "! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--fps", type=int, default=10)
    ap.add_argument("--gop", type=int, default=10, help="frames between keyframes")
    ap.add_argument("images", nargs="+", help="one JPEG file per channel: ch1, ch2, ...")
    args = ap.parse_args(argv)

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    for n, path in enumerate(args.images, start=1):
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch_line(path, args.width, args.height, args.fps, args.gop))
        factory.set_shared(True)  # one encoder per channel, however many readers connect
        mounts.add_factory(f"/ch{n}", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on {args.host}:{args.port}", file=sys.stderr, flush=True)
        return 2

    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print(f"READY {args.port}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

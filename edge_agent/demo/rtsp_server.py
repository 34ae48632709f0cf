"""The real RTSP server used by the demo's sample camera and by the tests (``gst_child.py``).

Usable from pytest and from the demo alike (no pytest imports). The server runs as a child
process under the system Python with GStreamer; each channel serves one JPEG file that
``set_image`` replaces atomically, so the picture changes while readers stay connected.
``stop()`` kills the process and ``start()`` brings it back on the same port (outage tests).

    with RtspTestServer(channels=2) as srv:
        srv.set_image(1, "bus.jpg")
        cv2.VideoCapture(srv.url(1))
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Self

import numpy as np

SYSTEM_PYTHON = os.environ.get("SEAT_RTSP_PYTHON", "/usr/bin/python3")
SERVE_SCRIPT = Path(__file__).with_name("gst_child.py")
SETUP_HINT = (
    "run `bash scripts/setup.sh` (installs gstreamer1.0-rtsp, gir1.2-gst-rtsp-server-1.0, python3-gi)"
)


class RtspServerUnavailable(RuntimeError):
    """GStreamer's RTSP server cannot be run on this machine; the message says what to install."""


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the process (thread) that started it dies, even by
    SIGKILL (Linux prctl PR_SET_PDEATHSIG), so no server outlives the demo or a test."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except Exception:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_gstreamer(python: str = SYSTEM_PYTHON) -> None:
    """Raise RtspServerUnavailable unless ``python`` can import GstRtspServer."""
    if not Path(python).exists():
        raise RtspServerUnavailable(f"{python} not found; the RTSP test server needs it: {SETUP_HINT}")
    probe = (
        "import gi; gi.require_version('Gst','1.0'); gi.require_version('GstRtspServer','1.0'); "
        "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
        "import sys; sys.exit(0 if all(Gst.ElementFactory.find(e) for e in "
        "('multifilesrc','jpegdec','x264enc','rtph264pay')) else 3)"
    )
    r = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=30, check=False)
    if r.returncode != 0:
        why = (
            "GStreamer elements missing (x264enc/jpegdec/...)"
            if r.returncode == 3
            else r.stderr.strip()[-300:]
        )
        raise RtspServerUnavailable(f"GStreamer RTSP server unusable with {python}: {why}; {SETUP_HINT}")


def _placeholder(width: int, height: int, n: int) -> np.ndarray:
    # A distinct grey level per channel so that channels can be told apart.
    return np.full((height, width, 3), 40 + (n * 37) % 180, np.uint8)


class RtspTestServer:
    """Serves ``channels`` H.264 streams at rtsp://127.0.0.1:PORT/ch1..chN."""

    def __init__(
        self,
        channels: int = 1,
        *,
        width: int = 640,
        height: int = 360,
        fps: int = 10,
        gop: int = 10,
        port: int | None = None,
        python: str = SYSTEM_PYTHON,
        sequence: list[str | Path] | None = None,
    ) -> None:
        """``sequence``: images that every channel cycles through, one per frame (a scene where
        every frame differs, for benchmarks); ``set_image`` then does not apply."""
        if channels < 1:
            raise ValueError("channels must be >= 1")
        self.channels = channels
        self.width, self.height, self.fps, self.gop = width, height, fps, gop
        self.port = port or _free_port()
        self.python = python
        self._dir = Path(tempfile.mkdtemp(prefix="rtsp-test-"))
        self._proc: subprocess.Popen | None = None
        self._sequence = bool(sequence)
        for n in range(1, channels + 1):
            self.set_image(n, _placeholder(width, height, n))
        if sequence:
            seq = self._dir / "seq"
            seq.mkdir()
            for i, p in enumerate(sequence):
                self._write_jpeg(p, seq / f"{i:05d}.jpg")

    # -- pictures -------------------------------------------------------------------------
    def image_path(self, channel: int) -> Path:
        return self._dir / f"ch{channel}.jpg"

    def set_image(self, channel: int, image: str | Path | np.ndarray) -> None:
        """Serve ``image`` (a file any OpenCV can read, or a BGR array) on ``channel`` from the
        next frame on. Written to a temp file and renamed, so the server never reads half a file."""
        if not 1 <= channel <= self.channels:
            raise ValueError(f"channel {channel} not served (1..{self.channels})")
        tmp = self._dir / f".ch{channel}.tmp"
        self._write_jpeg(image, tmp)
        os.replace(tmp, self.image_path(channel))

    def _write_jpeg(self, image: str | Path | np.ndarray, dest: Path) -> None:
        import cv2  # the edge extras provide it; only needed when pictures are set

        if isinstance(image, np.ndarray):
            img = image
        else:
            img = cv2.imread(str(image))
            if img is None:
                raise ValueError(f"cannot read image {image}")
        # Same size as the stream: the encoder's caps never have to change mid-stream.
        img = cv2.resize(img, (self.width, self.height), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise ValueError("JPEG encoding failed")
        dest.write_bytes(buf.tobytes())

    # -- process --------------------------------------------------------------------------
    def url(self, channel: int) -> str:
        return f"rtsp://127.0.0.1:{self.port}/ch{channel}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 20.0) -> None:
        """Start (or restart, on the same port) the server and wait until it listens."""
        if self.running:
            return
        check_gstreamer(self.python)
        cmd = [
            self.python,
            "-I",  # isolated: the script's folder (edge_agent/) has a types.py that shadows the stdlib
            str(SERVE_SCRIPT),
            "--port",
            str(self.port),
            "--width",
            str(self.width),
            "--height",
            str(self.height),
            "--fps",
            str(self.fps),
            "--gop",
            str(self.gop),
            *(
                str(self._dir / "seq" / "%05d.jpg") if self._sequence else str(self.image_path(n))
                for n in range(1, self.channels + 1)
            ),
        ]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        sel = selectors.DefaultSelector()
        sel.register(self._proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    err = self._proc.stderr.read()[-500:]
                    raise RtspServerUnavailable(f"RTSP server exited ({self._proc.returncode}): {err}")
                if sel.select(0.2) and self._proc.stdout.readline().startswith("READY"):
                    return
            self.stop()
            raise RtspServerUnavailable(f"RTSP server did not listen on port {self.port} within {timeout} s")
        finally:
            sel.close()

    def stop(self) -> None:
        """Kill the server: connected readers see the stream end, new connections are refused."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for f in (proc.stdout, proc.stderr):
            if f:
                f.close()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

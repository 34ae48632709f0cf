"""Per-channel capture: one thread per channel that always holds only the newest frame.

OpenCV's RTSP reader buffers: a ``read()`` after a pause returns an old frame. So every channel
gets a reader thread that reads as fast as the stream delivers and keeps just the newest
decoded frame, stamped with the wall time it came off the stream. The detector samples that.

Sources (same interface, chosen from the channel's ``url``):
- ``rtsp://`` (or any ``scheme://``) and video files: OpenCV's FFMPEG backend; files are paced
  at their own frame rate and looped, so they behave like a camera in demos.
- a folder of images: cycled in name order at ``CaptureOptions.folder_fps`` (demo machines
  without an RTSP server).
- ``keyframes_only = true``: PyAV decoding only keyframes (``edge_agent.vision.keyframes``).

A dropped channel is reopened with exponential backoff and jitter, forever, until stopped.
"""

from __future__ import annotations

import logging
import os
import random
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, Self
from urllib.parse import urlsplit

import numpy as np

from edge_agent.settings import ChannelSection
from edge_agent.types import Frame
from protocol.messages import ChannelHealth

log = logging.getLogger(__name__)

# Read by OpenCV at every open. TCP: RTSP over UDP loses packets (grey smears) on busy LANs.
# A short probe keeps opening a stream under a second instead of ~3 s of analysis.
os.environ.setdefault(
    "OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp|analyzeduration;1000000|probesize;500000"
)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
SourceKind = Literal["stream", "file", "folder"]


class SourceError(RuntimeError):
    """A source cannot be opened or has stopped delivering frames; the message says why."""


class FrameSource(Protocol):
    live: bool  # live sources are read as fast as they deliver; others are paced by media time

    def read(self) -> tuple[np.ndarray, float | None]:
        """Next BGR image and its media time in seconds (None if unknown). Raises SourceError."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class CaptureOptions:
    open_timeout_s: float = 10.0
    read_timeout_s: float = 5.0  # a vanished camera is noticed after this, not never
    folder_fps: float = 2.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    stale_after_s: float = 5.0  # no frame for this long -> channel reported offline
    fps_window_s: float = 5.0


# --------------------------------------------------------------------------------- pure parts
def redact_url(url: str) -> str:
    """Hide the password of ``rtsp://user:pass@host`` in logs and health messages."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def source_kind(url: str) -> SourceKind:
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", url):
        return "stream"
    return "folder" if Path(url).is_dir() else "file"


class Backoff:
    """Exponential backoff with jitter: delays grow x2 up to ``maximum``; each is drawn from
    [d/2, d] so that 16 channels of one NVR that dropped together do not retry in lockstep."""

    def __init__(self, initial: float, maximum: float, rng: random.Random | None = None) -> None:
        self.initial, self.maximum = initial, maximum
        self._rng = rng or random.Random()
        self._next = initial

    def next_delay(self) -> float:
        d = self._next
        self._next = min(self.maximum, self._next * 2)
        return self._rng.uniform(d / 2, d)

    def reset(self) -> None:
        self._next = self.initial


class RollingRate:
    """Events per second over the last ``window`` seconds."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._times: deque[float] = deque()

    def add(self, t: float) -> None:
        self._times.append(t)
        self._trim(t)

    def rate(self, now: float) -> float:
        self._trim(now)
        return len(self._times) / self.window

    def _trim(self, now: float) -> None:
        while self._times and self._times[0] < now - self.window:
            self._times.popleft()


# ------------------------------------------------------------------------------------ sources
def _tcp_problem(url: str, timeout: float) -> str | None:
    """Why the stream's host:port cannot be reached, or None when it accepts connections."""
    parts = urlsplit(url)
    if not parts.hostname:
        return "no host in URL"
    port = parts.port or (322 if parts.scheme == "rtsps" else 554)
    try:
        with socket.create_connection((parts.hostname, port), timeout=min(timeout, 3.0)):
            return None
    except TimeoutError:
        return f"no answer from {parts.hostname}:{port} (timed out)"
    except OSError as exc:
        return f"cannot connect to {parts.hostname}:{port}: {exc.strerror or exc}"


class OpenCvSource:
    """RTSP streams and video files through OpenCV's FFMPEG backend."""

    def __init__(self, url: str, opts: CaptureOptions) -> None:
        import cv2

        self.url = url
        self.live = source_kind(url) == "stream"
        if not self.live and not Path(url).is_file():
            raise SourceError(
                f"no such file or folder: {url} (a channel url is rtsp://..., a video file or a folder of images)"
            )
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            int(opts.open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            int(opts.read_timeout_s * 1000),
        ]
        self._cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
        if not self._cap.isOpened():
            self._cap.release()
            shown = redact_url(url)
            if self.live and urlsplit(url).scheme in ("rtsp", "rtsps"):
                why = _tcp_problem(url, opts.open_timeout_s)
                if why is None:
                    why = "the server answers but gave no video stream (wrong path, credentials or codec?)"
                raise SourceError(f"cannot open {shown}: {why}")
            raise SourceError(f"cannot open {shown}: not a readable video (OpenCV FFMPEG)")
        self._cv2 = cv2
        self._read_timeout_s = opts.read_timeout_s

    def read(self) -> tuple[np.ndarray, float | None]:
        t0 = time.monotonic()
        ok, img = self._cap.read()
        if self.live and ok and time.monotonic() - t0 >= 0.95 * self._read_timeout_s:
            # FFmpeg's read timeout fired, yet OpenCV hands back the last picture again: a camera that
            # stalls with its connection open would look alive on a frozen frame. Found by
            # tests/faults/test_camera_faults.py; treat it as what it is.
            raise SourceError(f"camera stalled: no new frame within the {self._read_timeout_s:g} s read timeout")
        if not ok and not self.live:
            # Loop a file so that it acts like a camera.
            self._cap.set(self._cv2.CAP_PROP_POS_FRAMES, 0)
            ok, img = self._cap.read()
        if not ok or img is None:
            raise SourceError("stream ended or sent no frame within the read timeout")
        media_t = None if self.live else self._cap.get(self._cv2.CAP_PROP_POS_MSEC) / 1000.0
        return img, media_t

    def close(self) -> None:
        self._cap.release()


class ImageFolderSource:
    """A folder of images cycled in name order at ``fps`` (for demos without a camera)."""

    live = False

    def __init__(self, folder: str, fps: float) -> None:
        import cv2

        self._cv2 = cv2
        self.files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise SourceError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in folder {folder}")
        if fps <= 0:
            raise SourceError(f"folder fps must be > 0, got {fps}")
        self.period = 1.0 / fps
        self._n = 0

    def read(self) -> tuple[np.ndarray, float | None]:
        for _ in range(len(self.files)):
            path = self.files[self._n % len(self.files)]
            media_t = self._n * self.period
            self._n += 1
            img = self._cv2.imread(str(path))
            if img is not None:
                return img, media_t
            log.warning("skipping unreadable image %s", path)
        raise SourceError(f"none of the {len(self.files)} images in {path.parent} can be read")

    def close(self) -> None:
        pass


def open_source(channel: ChannelSection, opts: CaptureOptions) -> FrameSource:
    kind = source_kind(channel.url)
    if kind == "folder":
        return ImageFolderSource(channel.url, opts.folder_fps)
    if channel.keyframes_only:
        from edge_agent.vision.keyframes import KeyframeSource

        return KeyframeSource(channel.url, opts)
    return OpenCvSource(channel.url, opts)


# ------------------------------------------------------------------------------------- reader
SourceOpener = Callable[[ChannelSection, CaptureOptions], FrameSource]


class ChannelReader:
    """Reads one channel in a thread; ``latest()`` is the newest frame, never a queued one."""

    def __init__(
        self,
        channel: ChannelSection,
        options: CaptureOptions | None = None,
        *,
        opener: SourceOpener = open_source,
    ) -> None:
        self.channel = channel
        self.options = options or CaptureOptions()
        self._opener = opener
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._frame: Frame | None = None
        self._index = 0
        self._connected = False
        self._ever_connected = False
        self._reconnects = 0
        self._last_error: str | None = None
        self._rate = RollingRate(self.options.fps_window_s)

    # -- control --------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"capture-ch{self.channel.id}", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to end without waiting for it."""
        self._stop.set()

    def stop(self, timeout: float | None = None) -> None:
        """Stop reading. Waits up to ``timeout`` (default: read timeout + 2 s) for the thread."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout if timeout is not None else self.options.read_timeout_s + 2)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- outputs --------------------------------------------------------------------------
    def latest(self, max_age_s: float) -> Frame | None:
        """The newest frame if it was captured at most ``max_age_s`` ago, else None (stale)."""
        with self._lock:
            frame = self._frame
        if frame is None or time.time() - frame.captured_at > max_age_s:
            return None
        return frame

    def health(self) -> ChannelHealth:
        now = time.time()
        with self._lock:
            frame, connected = self._frame, self._connected
            fps = self._rate.rate(now)
            reconnects, err = self._reconnects, self._last_error
        age = None if frame is None else max(0.0, now - frame.captured_at)
        online = connected and age is not None and age <= self.options.stale_after_s
        return ChannelHealth(
            channel=self.channel.id,
            online=online,
            fps=round(fps, 2),
            last_frame_age_s=None if age is None else round(age, 3),
            reconnects=reconnects,
            last_error=err,
        )

    # -- thread ---------------------------------------------------------------------------
    def _error(self, msg: str) -> None:
        msg = redact_url(msg)
        with self._lock:
            changed = msg != self._last_error
            self._last_error = msg
        if changed:
            log.warning("channel %s: %s", self.channel.id, msg)

    def _run(self) -> None:
        opts = self.options
        backoff = Backoff(opts.backoff_initial_s, opts.backoff_max_s)
        while not self._stop.is_set():
            try:
                source = self._opener(self.channel, opts)
            except SourceError as exc:
                self._error(str(exc))
            except Exception as exc:  # noqa: BLE001 - a bug or odd input must not kill the channel
                self._error(f"cannot open {self.channel.url}: {type(exc).__name__}: {exc}")
            else:
                with self._lock:
                    if self._ever_connected:
                        self._reconnects += 1
                    self._ever_connected = self._connected = True
                try:
                    self._pump(source, backoff)
                except SourceError as exc:
                    self._error(str(exc))
                except Exception as exc:  # noqa: BLE001 - same: report it, reconnect, keep going
                    self._error(f"{type(exc).__name__}: {exc}")
                finally:
                    with self._lock:
                        self._connected = False
                    try:
                        source.close()
                    except Exception as exc:  # noqa: BLE001 - closing a broken stream may fail too
                        log.debug("channel %s: close failed: %s", self.channel.id, exc)
            if not self._stop.is_set():
                self._stop.wait(backoff.next_delay())

    def _pump(self, source: FrameSource, backoff: Backoff) -> None:
        anchor: tuple[float, float] | None = None  # (wall, media time) for pacing files
        prev_t = float("inf")
        while not self._stop.is_set():
            image, media_t = source.read()
            if not source.live and media_t is not None:
                if media_t < prev_t:  # first frame, or the file looped
                    anchor = (time.monotonic(), media_t)
                prev_t = media_t
                wait = anchor[0] + (media_t - anchor[1]) - time.monotonic()
                if wait > 0 and self._stop.wait(wait):
                    return
            now = time.time()
            with self._lock:
                self._index += 1
                self._frame = Frame(self.channel.id, image, now, self._index)
                self._rate.add(now)
            backoff.reset()  # only a delivered frame proves the channel is healthy again


class CaptureManager:
    """All channel readers of the edge. Call ``start()``; ``stop()`` (or use ``with``)."""

    def __init__(self, channels: list[ChannelSection], options: CaptureOptions | None = None) -> None:
        self.readers = {c.id: ChannelReader(c, options) for c in channels}

    def start(self) -> None:
        for r in self.readers.values():
            r.start()

    def stop(self) -> None:
        for r in self.readers.values():
            r.request_stop()  # signal all first so that their timeouts run in parallel
        for r in self.readers.values():
            r.stop()

    def latest_frames(self, max_age_s: float) -> dict[int, Frame]:
        """Newest fresh frame per channel id; stale or missing channels are left out."""
        out = {}
        for cid, r in self.readers.items():
            f = r.latest(max_age_s)
            if f is not None:
                out[cid] = f
        return out

    def health(self) -> list[ChannelHealth]:
        return [r.health() for r in self.readers.values()]

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""Frame sources: where a channel's pictures come from, one class per kind, same interface.

- ``rtsp://`` (or any ``scheme://``) and video files: OpenCV's FFMPEG backend (``OpenCvSource``);
  files are paced at their own frame rate and looped, so they behave like a camera in demos.
- a folder of images (``ImageFolderSource``): cycled in name order at ``CaptureOptions.folder_fps``.
- keyframes only: PyAV (``edge_agent.vision.keyframes``).

``capture`` chooses one per channel and reads it in a thread; sources themselves hold no thread.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import urlsplit

import numpy as np

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


def redact_url(url: str) -> str:
    """Hide the password of ``rtsp://user:pass@host`` in logs and health messages."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def source_kind(url: str) -> SourceKind:
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", url):
        return "stream"
    return "folder" if Path(url).is_dir() else "file"


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


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
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Self

from edge_agent.settings import ChannelSection
from edge_agent.types import Frame
from edge_agent.vision.keyframes import KeyframeSource
from edge_agent.vision.sources import (
    CaptureOptions,
    FrameSource,
    ImageFolderSource,
    OpenCvSource,
    SourceError,
    redact_url,
    source_kind,
)
from protocol.messages import ChannelHealth

log = logging.getLogger(__name__)










# --------------------------------------------------------------------------------- pure parts




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






def open_source(channel: ChannelSection, opts: CaptureOptions) -> FrameSource:
    kind = source_kind(channel.url)
    if kind == "folder":
        return ImageFolderSource(channel.url, opts.folder_fps)
    if channel.keyframes_only:
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
                # A delivered frame ends the outage: say so once, and `status` / the hub stop
                # showing the old error next to "online".
                recovered, self._last_error = self._last_error, None
            if recovered:
                log.info("channel %s back online (the error was: %s)", self.channel.id, recovered)
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

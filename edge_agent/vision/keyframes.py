"""Keyframe-only decoding with PyAV: the cheap capture mode when sampling every 1 to 5 s.

Non-key packets are dropped before the decoder and the decoder is told to skip them too
(``skip_frame = "NONKEY"``), so a channel costs one decode per GOP instead of one per frame.
The newest frame is then at most one keyframe interval old (the NVR's GOP, often 1 to 2 s).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from edge_agent.vision.sources import CaptureOptions, SourceError, redact_url, source_kind


class KeyframeSource:
    """Same interface as the OpenCV source: ``read() -> (bgr image, media time)``."""

    def __init__(self, url: str, opts: CaptureOptions) -> None:
        self.url = url
        self.live = source_kind(url) == "stream"
        if not self.live and not Path(url).is_file():
            raise SourceError(
                f"no such file: {url} (a channel url is rtsp://..., a video file or a folder of images)"
            )
        options = {"analyzeduration": "1000000", "probesize": "500000"}
        if url.startswith(("rtsp://", "rtsps://")):
            options["rtsp_transport"] = "tcp"
        try:
            self._container = av.open(
                url, options=options, timeout=(opts.open_timeout_s, opts.read_timeout_s)
            )
        except (av.error.FFmpegError, OSError) as exc:
            raise SourceError(f"cannot open {redact_url(url)}: {exc}") from None
        if not self._container.streams.video:
            self._container.close()
            raise SourceError(f"{redact_url(url)} has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.codec_context.skip_frame = "NONKEY"
        self._frames = self._decode()

    def _decode(self) -> Iterator[tuple[np.ndarray, float | None]]:
        while True:
            decoded = 0
            for packet in self._container.demux(self._stream):
                if packet.size == 0 or not packet.is_keyframe:
                    continue
                for frame in packet.decode():
                    decoded += 1
                    yield frame.to_ndarray(format="bgr24"), frame.time
            if self.live:
                return  # demux ended: the stream is gone
            if decoded == 0:
                raise SourceError(f"{self.url}: no decodable keyframe in the file")
            self._container.seek(0)  # loop a file so that it acts like a camera

    def read(self) -> tuple[np.ndarray, float | None]:
        try:
            return next(self._frames)
        except StopIteration:
            raise SourceError("stream ended") from None
        except (av.error.FFmpegError, OSError) as exc:
            raise SourceError(f"stream read failed: {exc}") from None

    def close(self) -> None:
        self._container.close()

"""Cameras that misbehave, against the real capture code and a real GStreamer RTSP server:
a stream that stalls (TCP connection stays open, no more data), a "camera" that answers with
garbage, and a camera whose resolution changes (NVR substream switched). Each channel reports
it in its health, reconnects by itself, and the other channels keep running."""

from __future__ import annotations

import os
import socket
import threading
import time

import numpy as np
import pytest

from edge_agent.demo.rtsp_server import RtspServerUnavailable, RtspTestServer
from edge_agent.settings import ChannelSection
from edge_agent.vision.capture import ChannelReader
from edge_agent.vision.sources import CaptureOptions

FAST = CaptureOptions(open_timeout_s=3, read_timeout_s=2, backoff_initial_s=0.2, backoff_max_s=1.0,
                      stale_after_s=1.5, fps_window_s=2.0, folder_fps=20)


def wait_for(cond, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if v := cond():
            return v
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def server(**kw) -> RtspTestServer:
    try:
        srv = RtspTestServer(channels=1, fps=10, gop=10, **kw)
        srv.set_image(1, np.full((kw.get("height", 360), kw.get("width", 640), 3), (0, 200, 0), np.uint8))
        srv.start()
    except RtspServerUnavailable as exc:
        pytest.fail(str(exc))
    return srv


class StallProxy:
    """TCP proxy in front of a camera. ``stall()``: every connection stays open but no byte moves
    either way (and new ones are accepted and stall too), like a camera whose encoder hung."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.port = self.lsock.getsockname()[1]
        self.flowing = threading.Event()
        self.flowing.set()
        self.closed = False
        self.socks: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(("127.0.0.1", self.upstream))
            except OSError:
                c.close()
                continue
            self.socks += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while not self.closed:
                self.flowing.wait()
                data = a.recv(65536)
                if not data:
                    break
                self.flowing.wait()  # data read just before a stall is held back too
                b.sendall(data)
        except OSError:
            pass

    def stall(self) -> None:
        self.flowing.clear()

    def resume(self) -> None:
        self.flowing.set()

    def close(self) -> None:
        self.closed = True
        self.flowing.set()
        for s in [self.lsock, *self.socks]:
            try:
                s.close()
            except OSError:
                pass


class GarbageCamera:
    """Answers every connection with random bytes, whatever it is asked."""

    def __init__(self) -> None:
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.port = self.lsock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._spew, args=(c,), daemon=True).start()

    @staticmethod
    def _spew(c: socket.socket) -> None:
        try:
            c.settimeout(0.2)
            for _ in range(50):
                c.sendall(b"RTSP/1.0 200 OK\r\n" + os.urandom(4096))
                try:
                    c.recv(4096)
                except TimeoutError:
                    pass
        except OSError:
            pass
        finally:
            c.close()

    def close(self) -> None:
        self.lsock.close()


def test_stalled_camera_goes_offline_and_recovers_when_it_streams_again():
    srv = server()
    proxy = StallProxy(srv.port)
    reader = ChannelReader(ChannelSection(id=1, url=f"rtsp://127.0.0.1:{proxy.port}/ch1"), FAST)
    reader.start()
    try:
        wait_for(lambda: reader.latest(1.0), 15, "first frames through the proxy")
        proxy.stall()
        stalled = time.monotonic()
        wait_for(lambda: not reader.health().online, 5, "health offline while the camera stalls")
        offline_s = time.monotonic() - stalled
        frozen = reader.latest(100.0).index
        # Before the fix OpenCV returned the last picture again after every read timeout: the
        # channel flickered back online on a frozen frame (three times, then gave up).
        for _ in range(int((3 * FAST.read_timeout_s + 1) / 0.1)):
            h = reader.health()
            assert not h.online and reader.latest(100.0).index == frozen, f"frozen frame passed as new: {h}"
            time.sleep(0.1)
        assert reader.alive, "the channel's reader thread ended"
        assert reader.health().last_error
        proxy.resume()
        resumed = time.monotonic()
        wait_for(lambda: reader.latest(1.0), 30, "frames again after the stall")
        back_s = time.monotonic() - resumed
        h = reader.health()
        # back online: the old error is cleared (issue 19: status must not show it next to "online")
        assert h.online and h.reconnects >= 1 and h.last_error is None
        print(f"stall: offline {offline_s:.1f} s after the stall, frames {back_s:.1f} s after it streamed again")
    finally:
        reader.stop()
        proxy.close()
        srv.close()


def test_garbage_camera_is_an_error_and_the_other_channel_keeps_running():
    srv = server()
    junk = GarbageCamera()
    good = ChannelReader(ChannelSection(id=1, url=srv.url(1)), FAST)
    bad = ChannelReader(ChannelSection(id=2, url=f"rtsp://127.0.0.1:{junk.port}/ch1"), FAST)
    good.start()
    bad.start()
    try:
        wait_for(lambda: good.latest(1.0), 15, "frames on the good channel")
        wait_for(lambda: bad.health().last_error, 15, "an error on the garbage channel")
        wait_for(lambda: junk.connections >= 2, 15, "the garbage channel retrying")
        h = bad.health()
        assert not h.online and bad.latest(10.0) is None and bad.alive
        assert good.latest(1.0) is not None and good.health().online
        print(f"garbage camera: {junk.connections} attempts, error: {h.last_error}")
    finally:
        good.stop()
        bad.stop()
        junk.close()
        srv.close()


def test_resolution_change_is_followed_without_a_restart():
    srv = server(width=640, height=360)
    reader = ChannelReader(ChannelSection(id=1, url=srv.url(1)), FAST)
    reader.start()
    try:
        f = wait_for(lambda: reader.latest(1.0), 15, "first frames")
        assert f.image.shape[:2] == (360, 640)
        # The NVR switches the channel to another size: the stream ends and comes back at 320x180.
        srv.stop()
        srv.width, srv.height = 320, 180
        srv.set_image(1, np.full((180, 320, 3), (200, 0, 0), np.uint8))
        srv.start()
        t0 = time.monotonic()
        f = wait_for(lambda: (f := reader.latest(1.0)) is not None and f.image.shape[:2] == (180, 320) and f,
                     30, "frames at the new size")
        print(f"resolution change: frames at 320x180 {time.monotonic() - t0:.1f} s after the switch")
    finally:
        reader.stop()
        srv.close()

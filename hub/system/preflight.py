"""Checks made before a hub command touches anything: is the port free, is another instance
using this folder. A second `seat-hub demo` or `serve` started by mistake must stop with one clear
line and leave the running one alone: its log, its broker config, its MQTT session (the default
MQTT client id follows the HTTP port, so a second hub on the same port would take it over)."""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from pathlib import Path
from typing import IO


class Busy(RuntimeError):
    """Another program holds what this command needs; the message says what and what to do."""


def check_port(host: str, port: int, option: str = "--port") -> None:
    """Raise ``Busy`` when ``host:port`` cannot be listened on (bound the way uvicorn binds)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise Busy(f"port {port} on {host} is already in use (another seat-hub, or another program): "
                           f"stop it, or choose a free port with {option}") from None
            if exc.errno == errno.EACCES:
                raise Busy(f"port {port} needs root on this system: choose a port above 1023 with {option}") from None
            raise Busy(f"cannot listen on {host}:{port}: {exc.strerror}") from None


class FolderLock:
    """An exclusive lock on ``folder/name`` for as long as this process runs (``flock``: the
    kernel drops it when the process dies, even by SIGKILL, so no stale lock is ever left)."""

    def __init__(self, folder: Path, name: str = ".lock") -> None:
        self.path = Path(folder) / name
        self._f: IO[str] | None = None

    def acquire(self, what: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+")  # noqa: SIM115 - held until release(); "a+": never truncates another's pid
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            pid = f.read().strip() or "?"
            f.close()
            raise Busy(f"another {what} is running with {self.path.parent} (pid {pid}): stop it first "
                       f"(its files are left alone)") from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        self._f = f

    def release(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

"""A PostgreSQL cluster of the test's own (initdb + pg_ctl in a temp dir, on a free port), so a
test may stop and restart the server. The machine's PostgreSQL is never touched."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.services import ServiceUnavailable, free_port, wait_port


class PrivatePostgres:
    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise ServiceUnavailable("no /usr/lib/postgresql/*/bin/initdb: `apt-get install postgresql`")
        self.bin = Path(bins[-1]).parent
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="seat-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "pg.log"
        # initdb refuses to run as root: run the server as the postgres user when we are root.
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(self.dir, self.user)
        self._run([str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync",
                   "-E", "UTF8"])

    def _run(self, cmd: list[str], check: bool = True) -> subprocess.CompletedProcess:
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise ServiceUnavailable(f"{' '.join(cmd)} failed: {r.stderr[-1000:]}")
        return r

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "start"])
        if not wait_port("127.0.0.1", self.port, 15):
            raise ServiceUnavailable(f"private PostgreSQL did not listen on {self.port}")

    def stop(self, mode: str = "fast") -> None:
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"], check=False)

    def url(self, db: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{db}"

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

"""The items an install is made of: a directory, a file, a link, the model, a command.

Each item first looks at the machine (``state``: missing, differs or same), can say what it would
change (``describe``: a diff for files, secrets hidden) and makes it right (``apply``).
``run_items`` drives them for a real run or a dry run; `seat-edge install` builds the list.
"""

from __future__ import annotations

import difflib
import os
import pwd
import shutil
import subprocess
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

State = Literal["missing", "differs", "same"]
Status = Literal["created", "updated", "unchanged", "would create", "would update", "skipped", "ran",
                 "would run", "removed", "would remove", "kept"]


class InstallError(RuntimeError):
    """Bad input or a step that failed; the message says what to do."""


class PasswordNeeded(InstallError):
    """First install without --password: the command line asks for one."""


@dataclass
class Result:
    item: str
    status: Status
    detail: str = ""  # a diff, a command, or why it was skipped


def _owner_ids(owner: tuple[str, str] | None) -> tuple[int, int] | None:
    if owner is None:
        return None
    import grp

    try:
        return pwd.getpwnam(owner[0]).pw_uid, grp.getgrnam(owner[1]).gr_gid
    except KeyError:
        return (-1, -1)  # the user is created by an earlier item; until then ownership differs


def _meta_differs(path: Path, mode: int, owner: tuple[str, str] | None) -> bool:
    st = path.lstat()
    if (st.st_mode & 0o7777) != mode:
        return True
    ids = _owner_ids(owner)
    return ids is not None and (st.st_uid, st.st_gid) != ids


def _set_meta(path: Path, mode: int, owner: tuple[str, str] | None) -> None:
    ids = _owner_ids(owner)
    if ids is not None and ids != (-1, -1):
        os.chown(path, *ids)
    os.chmod(path, mode)


@dataclass
class Dir:
    path: Path
    mode: int = 0o755
    owner: tuple[str, str] | None = None

    @property
    def name(self) -> str:
        return f"directory {self.path}"

    def state(self) -> State:
        if not self.path.is_dir():
            return "missing"
        return "differs" if _meta_differs(self.path, self.mode, self.owner) else "same"

    def describe(self) -> str:
        return f"mode {self.mode:o}" + (f", owner {self.owner[0]}:{self.owner[1]}" if self.owner else "")

    def apply(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        _set_meta(self.path, self.mode, self.owner)


_SECRET_KEYS = ("password", "password_hash")


def _redact(text: str) -> list[str]:
    """Lines of a file as shown in a dry run or diff: passwords (keys, camera URLs) hidden."""
    from edge_agent.vision.sources import redact_url

    out = []
    for line in text.splitlines(keepends=True):
        key = line.split("=", 1)[0].strip()
        out.append(f"{key} = \"***\"\n" if "=" in line and key in _SECRET_KEYS else redact_url(line))
    return out


@dataclass
class File:
    path: Path
    content: bytes
    mode: int = 0o644
    owner: tuple[str, str] | None = None

    @property
    def name(self) -> str:
        return f"file {self.path}"

    def state(self) -> State:
        if not self.path.is_file():
            return "missing"
        if self.path.read_bytes() != self.content:
            return "differs"
        return "differs" if _meta_differs(self.path, self.mode, self.owner) else "same"

    def describe(self) -> str:
        new = self.content.decode("utf-8", "replace")
        if self.path.is_file():
            old = self.path.read_bytes().decode("utf-8", "replace")
            if old != new:
                return "".join(difflib.unified_diff(_redact(old), _redact(new), str(self.path), "(new)")).rstrip()
            return f"mode/owner -> {self.mode:o}" + (f" {self.owner[0]}:{self.owner[1]}" if self.owner else "")
        own = f", owner {self.owner[0]}:{self.owner[1]}" if self.owner else ""
        return f"{len(self.content)} bytes, mode {self.mode:o}{own}:\n" + "".join(_redact(new)).rstrip()

    def apply(self) -> None:
        # Written next to it and renamed: a crash never leaves half a config; created with its
        # final mode so a secret is never readable in between.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, self.mode)
        with os.fdopen(fd, "wb") as f:
            f.write(self.content)
        _set_meta(tmp, self.mode, self.owner)
        os.replace(tmp, self.path)


@dataclass
class Link:
    path: Path
    target: str

    @property
    def name(self) -> str:
        return f"link {self.path}"

    def state(self) -> State:
        if not self.path.is_symlink():
            return "missing" if not self.path.exists() else "differs"
        return "same" if os.readlink(self.path) == self.target else "differs"

    def describe(self) -> str:
        return f"-> {self.target}"

    def apply(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_symlink() or self.path.exists():
            self.path.unlink()
        os.symlink(self.target, self.path)


@dataclass
class Model:
    """The weights file at ``dest`` with a known SHA-256, copied from ``source`` (a local file)
    or downloaded from ``url``; the checksum is recorded next to it for `seat-edge doctor`."""

    dest: Path
    sha256: str
    source: Path | None = None
    url: str | None = None
    owner: tuple[str, str] | None = None
    progress: Callable[[str], None] = lambda _msg: None

    @property
    def name(self) -> str:
        return f"model {self.dest}"

    def state(self) -> State:
        from edge_agent.commands.doctor import checksum_path, sha256_file

        if not self.dest.is_file():
            return "missing"
        rec = checksum_path(self.dest)
        if not rec.is_file() or rec.read_text().split()[:1] != [self.sha256]:
            return "differs"
        return "same" if sha256_file(self.dest) == self.sha256 else "differs"

    def describe(self) -> str:
        src = str(self.source) if self.source else self.url
        return f"from {src}, sha256 {self.sha256}"

    def apply(self) -> None:
        from edge_agent.commands.doctor import checksum_path, sha256_file

        self.dest.parent.mkdir(parents=True, exist_ok=True)
        part = self.dest.with_name(self.dest.name + ".part")
        if self.source is not None:
            if self.source.resolve() != self.dest.resolve():
                shutil.copyfile(self.source, part)
                os.replace(part, self.dest)
        else:
            self._download(part)
            got = sha256_file(part)
            if got != self.sha256:
                part.unlink()
                raise InstallError(f"downloaded model from {self.url} has sha256 {got}, expected {self.sha256}: "
                                   "refused (incomplete download or a different file); nothing was changed")
            os.replace(part, self.dest)
        if sha256_file(self.dest) != self.sha256:
            raise InstallError(f"{self.dest} does not have sha256 {self.sha256} after copying")
        _set_meta(self.dest, 0o644, self.owner)
        File(checksum_path(self.dest), f"{self.sha256}  {self.dest.name}\n".encode(), 0o644, self.owner).apply()

    def _download(self, part: Path) -> None:
        try:
            with urllib.request.urlopen(self.url, timeout=30) as r, open(part, "wb") as f:  # noqa: S310
                total = int(r.headers.get("Content-Length") or 0)
                done = last = 0
                while chunk := r.read(1 << 20):
                    f.write(chunk)
                    done += len(chunk)
                    if done - last >= 8 << 20 or (total and done == total):
                        last = done
                        self.progress(f"  downloading model: {done / 1e6:.0f} MB"
                                      + (f" of {total / 1e6:.0f} MB" if total else ""))
        except OSError as exc:
            part.unlink(missing_ok=True)
            raise InstallError(f"cannot download the model from {self.url}: {exc}; on an offline box copy the "
                               "file there and use --model PATH") from None


@dataclass
class Command:
    """A system command, run only when ``needed()``; never under a test root."""

    argv: list[str]
    why: str
    needed: Callable[[], bool] = lambda: True

    @property
    def name(self) -> str:
        return self.why

    def state(self) -> State:
        return "missing" if self.needed() else "same"

    def describe(self) -> str:
        return " ".join(self.argv)

    def apply(self) -> None:
        r = subprocess.run(self.argv, capture_output=True, text=True, check=False)
        if r.returncode != 0:
            raise InstallError(f"`{' '.join(self.argv)}` failed ({r.returncode}): {(r.stderr or r.stdout).strip()}")


Item = Dir | File | Link | Model | Command


def run_items(items: list[Item], *, dry_run: bool, real: bool, emit: Callable[[Result], None]) -> list[Result]:
    """Look at each item, then (unless dry_run) make it right. Order matters: each item sees
    what the ones before it did (the user exists before files are given to it)."""
    results = []
    for it in items:
        st = it.state()
        if isinstance(it, Command):
            if st == "same":
                res = Result(it.name, "unchanged")
            elif not real:
                res = Result(it.name, "skipped", f"not under --root; a real install runs: {it.describe()}")
            elif dry_run:
                res = Result(it.name, "would run", it.describe())
            else:
                it.apply()
                res = Result(it.name, "ran", it.describe())
        elif st == "same":
            res = Result(it.name, "unchanged")
        elif dry_run:
            res = Result(it.name, "would create" if st == "missing" else "would update", it.describe())
        else:
            detail = it.describe()
            it.apply()
            res = Result(it.name, "created" if st == "missing" else "updated", detail)
        results.append(res)
        emit(res)
    return results

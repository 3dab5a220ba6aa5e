"""One writer per run directory: an OS lock on ``RUN/.lock``.

Every command that writes a run directory (train, resume, evaluate when it appends eval.jsonl or keeps best.pt,
report into the run directory) holds an exclusive ``fcntl.flock`` on ``RUN/.lock`` while it works. The kernel
drops the lock when the process ends however it ends (kill -9 included), so a crash never leaves a stale lock;
the file itself stays and records who holds it (pid, start time, command), which a second writer shows in its
error. Readers (sample, translate, interpolate, report --out elsewhere) take no lock. Under torchrun only rank 0
writes and locks. Where ``fcntl`` does not exist (Windows) runs are not locked, with a warning.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path
from types import TracebackType

from .errors import GanforgeError
from .files import describe_os_error

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"


class RunLock:
    """``with RunLock(run_dir):`` or ``lock = RunLock(run_dir).acquire()`` ... ``lock.release()``.

    ``created`` tells whether acquiring made the folder; :meth:`release` with ``remove_created=True`` removes
    it again when it holds nothing but the lock file (a command that failed before writing anything)."""

    def __init__(self, run_dir: str | Path, what: str = "run directory", leave_no_file: bool = False) -> None:
        # leave_no_file: remove the lock file on release (folders of data, which should hold nothing else). A
        # process that opened the old file just before may then lock it while a newcomer locks a new one: a small
        # window, acceptable where the lock only guards a clean-up of temp files.
        self.run_dir, self.what, self.leave_no_file = Path(run_dir), what, leave_no_file
        self.path = self.run_dir / LOCK_NAME
        self.fd: int | None = None
        self.created = False

    def acquire(self) -> RunLock:
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise GanforgeError(f"{self.what} {str(self.run_dir)!r} is a file")
        try:
            self.created = not self.run_dir.exists()
            self.run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise GanforgeError(f"cannot write {self.what} {str(self.run_dir)!r}: {describe_os_error(exc)}") from None
        if fcntl is None:  # pragma: no cover - Windows
            warnings.warn("run directories are not locked on this platform (no fcntl)", stacklevel=2)
            self.fd = fd
            return self
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder(fd)
            os.close(fd)
            raise GanforgeError(f"{self.run_dir} is in use by {holder}; wait for it to finish or stop it") from None
        info = {"pid": os.getpid(), "started": time.time(), "command": " ".join(["ganforge", *sys.argv[1:]])}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self.fd = fd
        return self

    def release(self, remove_created: bool = False) -> None:
        if self.fd is None:
            return
        if self.leave_no_file:
            self.path.unlink(missing_ok=True)
        os.close(self.fd)  # closing the descriptor drops the flock
        self.fd = None
        if remove_created and self.created:
            try:
                self.path.unlink(missing_ok=True)
                self.run_dir.rmdir()  # only when nothing else was written
            except OSError:
                pass

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release(remove_created=kind is not None)


def _holder(fd: int) -> str:
    """'process 1234 (started 2026-12-01 17:30:02: ganforge train ...)' from the lock file's record."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info["started"])))
        return f"process {int(info['pid'])} (started {started}: {info.get('command', '?')})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def is_main_rank() -> bool:
    """Rank 0 of a torchrun job, or a plain process (the one that writes and locks)."""
    return int(os.environ.get("RANK", "0") or 0) == 0

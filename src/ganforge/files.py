"""Writing files safely: every file ganforge writes goes through :func:`atomic_write`.

A file is written to a uniquely named temporary file beside its target (``.NAME.XXXXXXXX.tmp``), flushed
(and fsync'ed where asked), then renamed over the target with :func:`os.replace`, which is atomic on POSIX and
Windows: a reader, or a process killed halfway, sees the old file or the new one, never half of one. Temp names
are unique per write, so two writers never share one. A failed write removes its temp file; a full disk becomes
:class:`DiskFullError` naming the file (the target, if it existed, is untouched). Temp files left by a process
killed mid-write are removed by :func:`sweep_temp` when a run (or a fetch) starts again in that folder.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Union

from .errors import GanforgeError

TMP_SUFFIX = ".tmp"

Content = Union[bytes, str, Callable[[IO[bytes]], object]]


class DiskFullError(GanforgeError):
    """No space left on the device while writing ``path``; nothing at ``path`` was changed."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"no space left on device while writing {path}")
        self.path = path


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it; restored at once (module import, one thread)
    os.umask(mask)
    return mask


_MODE = 0o666 & ~_umask()  # mkstemp makes 0600 files; finished files get the usual permissions


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def atomic_write(path: str | Path, content: Content, fsync: bool = False) -> Path:
    """Write ``content`` (bytes, text as UTF-8, or a function that writes to a binary file object) to ``path``
    atomically. Raises :class:`DiskFullError` on a full disk and ``OSError`` for other failures; either way no
    temp file is left and ``path`` keeps its old content."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        if callable(content):
            content(f)
        else:
            f.write(content.encode("utf-8") if isinstance(content, str) else content)
        f.flush()
        if fsync:
            os.fsync(f.fileno())
    return Path(path)


def is_temp(name: str) -> bool:
    """Whether a file name is a temp file of :func:`atomic_write` (or of older ganforge versions:
    ``.NAME.PID.tmp``, ``.NAME.tmp.png``)."""
    return name.startswith(".") and (name.endswith(TMP_SUFFIX) or ".tmp." in name)


def sweep_temp(*folders: Path) -> list[Path]:
    """Remove the temp files a killed write left in ``folders`` (not recursive); returns what was removed.
    Only call this while holding the folder's lock (:mod:`ganforge.runlock`): another writer's temp files
    are in use."""
    removed = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if is_temp(p.name) and (p.is_file() or p.is_symlink()):
                try:
                    p.unlink()
                    removed.append(p)
                except OSError:
                    pass
    return removed


def ensure_writable_dir(path: str | Path, what: str) -> Path:
    """Create folder ``path`` if needed and check that files can be created in it; one-line errors otherwise
    (a file in the way, a read-only folder or file system, /proc...)."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise GanforgeError(f"cannot write {what} {str(p)!r}: it is a file, not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=p, prefix=".write-check.", suffix=TMP_SUFFIX)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise GanforgeError(f"cannot write {what} {str(p)!r}: {describe_os_error(exc)}") from None
    return p


def describe_os_error(exc: OSError) -> str:
    """``Permission denied``, ``Not a directory: '/x/y'``..., on one line."""
    text = exc.strerror or type(exc).__name__
    name = exc.filename
    return f"{text}: {str(name)!r}" if name is not None else text


_RAISE = object()


def read_json(path: str | Path, missing: Any = _RAISE, damaged: Any = _RAISE) -> Any:
    """A JSON file's content. A missing file returns ``missing`` (else a one-line error); a damaged one (cut
    short, not UTF-8, not JSON) returns ``damaged`` after a warning that names it (else a one-line error)."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        if missing is _RAISE:
            raise GanforgeError(f"{p} does not exist") from None
        return missing
    except UnicodeDecodeError:
        problem = "not UTF-8 text"
    except OSError as e:
        raise GanforgeError(f"cannot read {p}: {describe_os_error(e)}") from None
    else:
        try:
            return json.loads(text)
        except ValueError as e:
            problem = f"not valid JSON: {e}"
    if damaged is _RAISE:
        raise GanforgeError(f"{p} is damaged ({problem}); restore it or delete it")
    warnings.warn(f"{p} is damaged ({problem}); ignoring it", stacklevel=2)
    return damaged


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """For writers that need a file name rather than a file object (ffmpeg): yields a unique temp path with the
    target's suffix (``.NAME.XXXXXXXX.tmp.mp4``), renamed over ``path`` when the block succeeds, removed when
    it fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX + path.suffix)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, _MODE)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise DiskFullError(path) from exc
        raise

"""Downloads for data sets and weights: one helper, so every file arrives the same way.

A :class:`Resource` is a file with its checksum (SHA-256 where one is published, else MD5), size and URLs.
:func:`download` streams it into a uniquely named ``.part`` file beside its target, checks size and checksum,
and only then moves it into place with :func:`os.replace`, so an interrupted or corrupted download never leaves
a file that looks complete; a later fetch sweeps leftover ``.part`` files. Without network access it fails at
once with a one-line :class:`~ganforge.errors.GanforgeError` that says what to download and where to put it.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .errors import GanforgeError

try:  # progress bars are optional
    from tqdm import tqdm
except ImportError:  # pragma: no cover - depends on the environment
    tqdm = None

_CHUNK = 1 << 16


@dataclass(frozen=True)
class Resource:
    """One downloadable file: its name in the dest folder, its checksum, and URLs to try in order.

    ``sha256`` is checked when known, else ``md5``; when neither is known the file is used unverified
    with a warning. ``size`` (bytes), when known, is checked too.

    ``extract`` names paths (relative to dest) that unpacking this archive (tar or zip) must produce;
    when they all exist already, the archive is neither downloaded nor unpacked again. ``strip`` names
    the archive's top-level folder whose contents go directly into dest (other top-level entries are
    dropped). ``keep_archive=False`` deletes the archive once it has been unpacked.
    """

    filename: str
    md5: str | None
    urls: tuple[str, ...]
    extract: tuple[str, ...] = ()
    sha256: str | None = None
    size: int | None = None
    strip: str | None = None
    keep_archive: bool = True

    @property
    def algorithm(self) -> str:
        """The hash that is checked (``sha256`` also when none is known: it is computed and shown)."""
        return "md5" if self.md5 and not self.sha256 else "sha256"

    @property
    def checksum(self) -> str | None:
        return self.sha256 or self.md5


def one_line(obj: object) -> str:
    return " ".join(str(obj).split()) or type(obj).__name__


def _hasher(algorithm: str) -> hashlib._Hash:
    return hashlib.md5(usedforsecurity=False) if algorithm == "md5" else hashlib.sha256()


def digest(path: Path, algorithm: str) -> str:
    digest = _hasher(algorithm)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def md5(path: Path) -> str:
    return digest(path, "md5")


def warn_unverified(res: Resource, where: str, sha256: str) -> None:
    print(f"warning: {res.filename} has no published checksum, so {where} is used unverified "
          f"(its sha256 is {sha256})", file=sys.stderr)


def local_ok(res: Resource, path: Path) -> bool:
    """Whether ``path`` (already in place) is a good copy of ``res``."""
    if not path.is_file():
        return False
    if res.size is not None and path.stat().st_size != res.size:
        return False
    actual = digest(path, res.algorithm)
    if res.checksum is None:
        warn_unverified(res, str(path), actual)
        return True
    return actual == res.checksum


def _stream(url: str, out: IO[bytes], timeout: float, label: str, algorithm: str = "md5") -> tuple[str, int]:
    """Copy ``url`` into ``out``; return the hex digest (``algorithm``) and size of what was written."""
    digest = _hasher(algorithm)
    nbytes = 0
    req = urllib.request.Request(url, headers={"User-Agent": "ganforge"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        total = int(resp.headers.get("Content-Length") or 0) or None
        bar = tqdm(total=total, unit="B", unit_scale=True, desc=label, disable=None) if tqdm else None
        try:
            for chunk in iter(lambda: resp.read(_CHUNK), b""):
                out.write(chunk)
                digest.update(chunk)
                nbytes += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
    return digest.hexdigest(), nbytes


def download(res: Resource, dest: Path, urls: tuple[str, ...], timeout: float, manual: str) -> None:
    """Fetch ``res`` into ``dest`` atomically, trying ``urls`` in order."""
    failures: list[str] = []
    for url in urls:
        fd, tmp_name = tempfile.mkstemp(dir=dest, prefix=f".{res.filename}.", suffix=".part")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                actual, nbytes = _stream(url, out, timeout, res.filename, res.algorithm)
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
            tmp.unlink(missing_ok=True)
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            failures.append(f"{url}: {one_line(reason)}")
            continue
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if res.size is not None and nbytes != res.size:
            tmp.unlink(missing_ok=True)
            raise GanforgeError(
                f"size mismatch for {res.filename} from {url}: expected {res.size} bytes, got {nbytes}"
            )
        if res.checksum is None:
            warn_unverified(res, f"the download from {url}", actual)
        elif actual != res.checksum:
            tmp.unlink(missing_ok=True)
            raise GanforgeError(
                f"checksum mismatch for {res.filename} from {url}: expected {res.algorithm} {res.checksum}, "
                f"got {actual}"
            )
        os.replace(tmp, dest / res.filename)
        return
    also = f" (also tried {'; '.join(failures[1:])})" if len(failures) > 1 else ""
    raise GanforgeError(f"cannot download {failures[0]}{also}; {manual}")

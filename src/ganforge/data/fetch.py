"""``ganforge data fetch mnist|fashion-mnist|cifar10``: download the standard public dataset files.

Files land in :func:`ganforge.paths.data_dir` (``~/.cache/ganforge/data/NAME``) unless another folder is
given. Each file is streamed into a temporary file next to its target, its MD5 is checked, and only
then is it moved into place with :func:`os.replace`, so an interrupted or corrupted download never
leaves a file that looks complete. Files already present with the right checksum are not fetched
again; the CIFAR-10 archive is unpacked so that ``DEST/cifar-10-batches-py/data_batch_1`` etc. exist.

``base_url`` (or the ``GANFORGE_DATA_MIRROR`` environment variable) replaces the URL base of every
file, for mirrors and for tests. Without network access the fetch fails at once with a one-line
:class:`~ganforge.errors.GanforgeError` that says which files to put where by hand.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..errors import GanforgeError, choices_error
from ..paths import data_dir

try:  # progress bars are optional
    from tqdm import tqdm
except ImportError:  # pragma: no cover - depends on the environment
    tqdm = None

MIRROR_ENV = "GANFORGE_DATA_MIRROR"
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Resource:
    """One downloadable file: its name in the dest folder, its MD5, and URLs to try in order.

    ``extract`` names paths (relative to dest) that unpacking this tar archive must produce; when they
    all exist already, the archive is neither downloaded nor unpacked again.
    """

    filename: str
    md5: str
    urls: tuple[str, ...]
    extract: tuple[str, ...] = ()


_MNIST_BASES = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
_FASHION_BASE = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_CIFAR_DIR = "cifar-10-batches-py"
_CIFAR_MEMBERS = tuple(
    f"{_CIFAR_DIR}/{n}" for n in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                                  "data_batch_5", "test_batch", "batches.meta")
)


def _files(bases: tuple[str, ...], md5s: dict[str, str]) -> tuple[Resource, ...]:
    return tuple(Resource(f, m, tuple(b + f for b in bases)) for f, m in md5s.items())


RESOURCES: dict[str, tuple[Resource, ...]] = {
    "mnist": _files(_MNIST_BASES, {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }),
    "fashion-mnist": _files((_FASHION_BASE,), {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }),
    "cifar10": (
        Resource("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a",
                 ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",), _CIFAR_MEMBERS),
    ),
}


def _one_line(obj: object) -> str:
    return " ".join(str(obj).split()) or type(obj).__name__


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _urls(res: Resource, base: str | None) -> tuple[str, ...]:
    return (base.rstrip("/") + "/" + res.filename,) if base else res.urls


def _stream(url: str, out: IO[bytes], timeout: float, label: str) -> str:
    """Copy ``url`` into ``out``; return the MD5 of what was written."""
    digest = hashlib.md5(usedforsecurity=False)
    req = urllib.request.Request(url, headers={"User-Agent": "ganforge"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        total = int(resp.headers.get("Content-Length") or 0) or None
        bar = tqdm(total=total, unit="B", unit_scale=True, desc=label, disable=None) if tqdm else None
        try:
            for chunk in iter(lambda: resp.read(_CHUNK), b""):
                out.write(chunk)
                digest.update(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
    return digest.hexdigest()


def _download(res: Resource, dest: Path, urls: tuple[str, ...], timeout: float, manual: str) -> None:
    """Fetch ``res`` into ``dest`` atomically, trying ``urls`` in order."""
    failures: list[str] = []
    for url in urls:
        fd, tmp_name = tempfile.mkstemp(dir=dest, prefix=f".{res.filename}.", suffix=".part")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                actual = _stream(url, out, timeout, res.filename)
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
            tmp.unlink(missing_ok=True)
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            failures.append(f"{url}: {_one_line(reason)}")
            continue
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if actual != res.md5:
            tmp.unlink(missing_ok=True)
            raise GanforgeError(
                f"checksum mismatch for {res.filename} from {url}: expected md5 {res.md5}, got {actual}"
            )
        os.replace(tmp, dest / res.filename)
        return
    also = f" (also tried {'; '.join(failures[1:])})" if len(failures) > 1 else ""
    raise GanforgeError(f"cannot download {failures[0]}{also}; {manual}")


def _extract(archive: Path, dest: Path, members: tuple[str, ...]) -> None:
    """Unpack ``archive`` into a scratch folder in ``dest``, then move its top-level entries into place."""
    scratch = Path(tempfile.mkdtemp(dir=dest, prefix=".extract."))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(scratch, filter="data")
                else:  # pragma: no cover - Python without extraction filters
                    for m in tar.getmembers():
                        if m.name.startswith(("/", "..")) or ".." in Path(m.name).parts:
                            raise tarfile.TarError(f"unsafe path {m.name!r}")
                    tar.extractall(scratch)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise GanforgeError(f"cannot unpack {archive}: {_one_line(exc)}") from exc
        for entry in scratch.iterdir():
            target = dest / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            os.replace(entry, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    missing = [m for m in members if not (dest / m).exists()]
    if missing:
        raise GanforgeError(f"{archive.name} did not contain {', '.join(missing)}")


def fetch_dataset(name: str, dest: Path | None = None, base_url: str | None = None,
                  timeout: float = 30) -> Path:
    """Download dataset ``name`` (a key of :data:`RESOURCES`) into ``dest`` and return ``dest``.

    ``dest`` defaults to ``data_dir(name)``. ``base_url`` (else ``$GANFORGE_DATA_MIRROR``) replaces
    the URL base of every file. Files already present with the right MD5 are kept. Raises
    :class:`GanforgeError` for an unknown name, an unreachable server or a checksum mismatch.
    """
    if name not in RESOURCES:
        raise choices_error("dataset", name, list(RESOURCES))
    resources = RESOURCES[name]
    dest = Path(dest).expanduser() if dest is not None else data_dir(name)
    base = base_url or os.environ.get(MIRROR_ENV) or None
    manual = (f"offline? put {', '.join(r.filename for r in resources)} into {dest} "
              f"(or pass --data PATH)")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GanforgeError(f"cannot create {dest}: {_one_line(exc)}") from exc
    for res in resources:
        if res.extract and all((dest / m).exists() for m in res.extract):
            continue
        path = dest / res.filename
        if not (path.is_file() and _md5(path) == res.md5):
            _download(res, dest, _urls(res, base), timeout, manual)
        if res.extract:
            _extract(path, dest, res.extract)
    return dest

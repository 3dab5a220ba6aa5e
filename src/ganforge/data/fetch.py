"""``ganforge data fetch NAME``: download standard public datasets, where NAME is one of
classic ``mnist``, ``fashion-mnist``, ``cifar10``; pix2pix (paired) ``facades``, ``cityscapes``, ``maps``,
``edges2shoes``, ``night2day``; CycleGAN (unpaired) ``horse2zebra``, ``apple2orange``,
``summer2winter_yosemite``, ``monet2photo``, ``maps-unpaired``.

Files land in :func:`ganforge.paths.data_dir` (``~/.cache/ganforge/data/NAME``) unless another folder is
given. Each file arrives through :func:`ganforge.download.download` (a temporary file, size and checksum
checked, then moved into place), so an interrupted or corrupted download never leaves a file that looks complete.
Files already present with the right checksum are not fetched again. Archives are unpacked with a
path-traversal guard: the CIFAR-10 tarball so that ``DEST/cifar-10-batches-py/data_batch_1`` etc. exist;
a pix2pix tarball (``NAME/train/*.jpg``, aligned A|B pairs) or a CycleGAN zip (``NAME/trainA`` ...)
without its top-level folder, so that ``DEST/train`` or ``DEST/trainA`` etc. exist, after which the
archive is deleted. When those folders already exist nothing is downloaded. An archive with no published
checksum is used with a one-line warning that shows the SHA-256 it was found to have.

``base_url`` (or the ``GANFORGE_DATA_MIRROR`` environment variable) replaces the URL base of every
file (the file name stays), for mirrors and for tests. Without network access the fetch fails at once
with a one-line :class:`~ganforge.errors.GanforgeError` that says what to download and where to put it.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from ..download import Resource, download, local_ok, one_line
from ..errors import GanforgeError, choices_error
from ..paths import data_dir
from ..runlock import RunLock

MIRROR_ENV = "GANFORGE_DATA_MIRROR"


_MNIST_BASES = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
_FASHION_BASE = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_CIFAR_DIR = "cifar-10-batches-py"
_CIFAR_MEMBERS = tuple(
    f"{_CIFAR_DIR}/{n}" for n in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                                  "data_batch_5", "test_batch", "batches.meta")
)
PIX2PIX_BASE = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/"
CYCLEGAN_BASE = "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/"


def _files(bases: tuple[str, ...], md5s: dict[str, str]) -> tuple[Resource, ...]:
    return tuple(Resource(f, m, tuple(b + f for b in bases)) for f, m in md5s.items())


def _pix2pix(name: str, splits: tuple[str, ...]) -> tuple[Resource, ...]:
    # No checksum for the pix2pix tarballs is published by the authors (pytorch-CycleGAN-and-pix2pix's
    # datasets/download_pix2pix_dataset.sh has none), and none was found in tensorflow_datasets, HF
    # datasets, mmgeneration/mmediting, PaddleGAN or keras examples: sha256, md5 and size stay None and
    # the fetch warns (and prints the sha256 it computed).
    return (Resource(f"{name}.tar.gz", None, (f"{PIX2PIX_BASE}{name}.tar.gz",), splits, strip=name,
                     keep_archive=False),)


def _cyclegan(archive: str, sha256: str, size: int) -> tuple[Resource, ...]:
    return (Resource(f"{archive}.zip", None, (f"{CYCLEGAN_BASE}{archive}.zip",),
                     ("trainA", "trainB", "testA", "testB"), sha256=sha256, size=size, strip=archive,
                     keep_archive=False),)


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
    # pix2pix: NAME.tar.gz holds NAME/{train,val[,test]}/*.jpg, each image the A and B halves side by side.
    "facades": _pix2pix("facades", ("train", "val", "test")),
    "cityscapes": _pix2pix("cityscapes", ("train", "val")),
    "maps": _pix2pix("maps", ("train", "val")),
    "edges2shoes": _pix2pix("edges2shoes", ("train", "val")),
    "night2day": _pix2pix("night2day", ("train", "val", "test")),
    # CycleGAN: NAME.zip holds NAME/{trainA,trainB,testA,testB}/*.jpg. Sizes and SHA-256 from
    # tensorflow_datasets, file tensorflow_datasets/url_checksums/cycle_gan.txt (its cycle_gan dataset),
    # recorded for the same archives at their former address
    # https://people.eecs.berkeley.edu/~taesung_park/CycleGAN/datasets/NAME.zip.
    "horse2zebra": _cyclegan("horse2zebra",
                             "a74d9d392eecca9966b51287a76ca126af473d9de4f3e8fc0e9cda08fa1730a1", 116867962),
    "apple2orange": _cyclegan("apple2orange",
                              "845a191e9af8926408ea597001cd03a452e3300a1f44a79fe329b3d59f6e3eb8", 78456409),
    "summer2winter_yosemite": _cyclegan("summer2winter_yosemite",
                                        "167fe1726807a9d22bd106b4a6c0bd7953b688af924ac1bf967439c4961e49f9",
                                        132640856),
    "monet2photo": _cyclegan("monet2photo",
                             "88f91b00fc228f97c9411fbf1880ec1d119c98f1722e4cfcfaa2fb35fac05b04", 305231073),
    "maps-unpaired": _cyclegan("maps",
                               "639534f69dbf9f36bef8d6292a7698006361221f83f0285d7c9ca78afe6e8a9e", 1476754427),
}

GROUPS: dict[str, tuple[str, ...]] = {
    "classic": ("mnist", "fashion-mnist", "cifar10"),
    "pix2pix": ("facades", "cityscapes", "maps", "edges2shoes", "night2day"),
    "cyclegan": ("horse2zebra", "apple2orange", "summer2winter_yosemite", "monet2photo", "maps-unpaired"),
}

DESCRIPTIONS: dict[str, str] = {
    "mnist": "MNIST handwritten digits (28x28 gray, 60000 train / 10000 test)",
    "fashion-mnist": "Fashion-MNIST clothing (28x28 gray, 60000 train / 10000 test)",
    "cifar10": "CIFAR-10 (32x32 color, 10 classes, 50000 train / 10000 test)",
    "facades": "pix2pix facades, photo|labels (aligned A|B, 400 train / 100 val / 106 test)",
    "cityscapes": "pix2pix cityscapes, photo|labels (aligned A|B, 2975 train / 500 val)",
    "maps": "pix2pix maps, aerial|map (aligned A|B, 1096 train / 1098 val)",
    "edges2shoes": "pix2pix edges2shoes, edges|photo (aligned A|B, 49825 train / 200 val)",
    "night2day": "pix2pix night2day (aligned A|B, 17823 train / 10 val / 2287 test)",
    "horse2zebra": "CycleGAN horse2zebra (unpaired, trainA 1067 / trainB 1334 / testA 120 / testB 140)",
    "apple2orange": "CycleGAN apple2orange (unpaired, trainA 995 / trainB 1019 / testA 266 / testB 248)",
    "summer2winter_yosemite": "CycleGAN summer2winter_yosemite (unpaired, trainA 1231 / trainB 962 / testA 309 / testB 238)",
    "monet2photo": "CycleGAN monet2photo (unpaired, trainA 1072 / trainB 6287 / testA 121 / testB 751)",
    "maps-unpaired": "CycleGAN maps, aerial vs map (unpaired, trainA 1096 / trainB 1096 / testA 1098 / testB 1098)",
}


def describe(name: str) -> str:
    """One-line description of fetchable dataset ``name`` (for CLI help)."""
    if name not in RESOURCES:
        raise choices_error("dataset", name, list(RESOURCES))
    return DESCRIPTIONS[name]


def _urls(res: Resource, base: str | None) -> tuple[str, ...]:
    return (base.rstrip("/") + "/" + res.filename,) if base else res.urls


def _unsafe(name: str) -> bool:
    """Whether an archive member name is absolute or climbs out with ``..`` (POSIX or Windows style)."""
    if not name or name.startswith(("/", "\\")):
        return True
    win = PureWindowsPath(name)
    if win.drive or win.root:
        return True
    return ".." in PurePosixPath(name.replace("\\", "/")).parts


def _unpack(archive: Path, scratch: Path) -> None:
    """Unpack a zip or tar ``archive`` into ``scratch``, refusing unsafe member paths."""
    if archive.name.lower().endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
            bad = next((n for n in names if _unsafe(n)), None)
            if bad is not None:
                raise GanforgeError(f"refusing to unpack {archive.name}: unsafe member path {bad!r}")
            zf.extractall(scratch)
        return
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        bad = next((m.name for m in members
                    if _unsafe(m.name) or (m.issym() or m.islnk()) and _unsafe(m.linkname)), None)
        if bad is not None:
            raise GanforgeError(f"refusing to unpack {archive.name}: unsafe member path {bad!r}")
        if hasattr(tarfile, "data_filter"):
            tar.extractall(scratch, filter="data")
        else:  # pragma: no cover - Python without extraction filters
            tar.extractall(scratch)


def _extract(archive: Path, dest: Path, res: Resource) -> None:
    """Unpack ``archive`` into a scratch folder in ``dest``, then move its top-level entries into place.

    With ``res.strip``, the entries of that top-level folder are moved instead. An archive that cannot
    be unpacked (corrupt, or with unsafe paths) is deleted.
    """
    scratch = Path(tempfile.mkdtemp(dir=dest, prefix=".extract."))
    try:
        try:
            _unpack(archive, scratch)
        except GanforgeError:
            archive.unlink(missing_ok=True)
            raise
        except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            archive.unlink(missing_ok=True)
            raise GanforgeError(f"cannot unpack {archive}: {one_line(exc)}") from exc
        src = scratch / res.strip if res.strip else scratch
        if not src.is_dir() or src.is_symlink():
            raise GanforgeError(f"{archive.name} has no top-level folder {res.strip}/")
        for entry in src.iterdir():
            target = dest / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            os.replace(entry, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    missing = [m for m in res.extract if not (dest / m).exists()]
    if missing:
        raise GanforgeError(f"{archive.name} did not contain {', '.join(missing)}")


def _manual(resources: tuple[Resource, ...], res: Resource, urls: tuple[str, ...], dest: Path) -> str:
    """The one-line 'do it by hand' hint for an unreachable server."""
    if res.strip:
        return (f"offline? download {urls[0]} by hand and unpack the contents of its {res.strip}/ folder "
                f"into {dest} (so that {dest / res.extract[0]} exists), or put the archive itself there "
                f"(or pass --data PATH)")
    if res.extract:
        return (f"offline? download {urls[0]} by hand and unpack it into {dest} "
                f"(so that {dest / res.extract[0]} exists) (or pass --data PATH)")
    return f"offline? put {', '.join(r.filename for r in resources)} into {dest} (or pass --data PATH)"


def fetch_dataset(name: str, dest: Path | None = None, base_url: str | None = None,
                  timeout: float = 30) -> Path:
    """Download dataset ``name`` (a key of :data:`RESOURCES`) into ``dest`` and return ``dest``.

    ``dest`` defaults to ``data_dir(name)``. ``base_url`` (else ``$GANFORGE_DATA_MIRROR``) replaces
    the URL base of every file. Files already present with the right checksum are kept, and archives
    whose unpacked folders already exist are not fetched. Raises :class:`GanforgeError` for an unknown
    name, an unreachable server, a size or checksum mismatch, or an unsafe or incomplete archive.
    """
    if name not in RESOURCES:
        raise choices_error("dataset", name, list(RESOURCES))
    resources = RESOURCES[name]
    dest = Path(dest).expanduser() if dest is not None else data_dir(name)
    base = base_url or os.environ.get(MIRROR_ENV) or None
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GanforgeError(f"cannot create {dest}: {one_line(exc)}") from exc
    with RunLock(dest, "download folder", leave_no_file=True):  # one fetch at a time per folder: the sweep below is then safe
        _sweep(dest)
        _fetch_into(dest, resources, base, timeout)
    return dest


def _sweep(dest: Path) -> None:
    """Remove what an interrupted fetch left: partial downloads (``.NAME.*.part``) and scratch folders."""
    for p in dest.iterdir():
        if p.name.startswith(".") and p.name.endswith(".part") and p.is_file():
            p.unlink(missing_ok=True)
        elif p.name.startswith(".extract.") and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)


def _fetch_into(dest: Path, resources: tuple[Resource, ...], base: str | None, timeout: float) -> None:
    for res in resources:
        if res.extract and all((dest / m).exists() for m in res.extract):
            continue
        path = dest / res.filename
        if not local_ok(res, path):
            urls = _urls(res, base)
            download(res, dest, urls, timeout, _manual(resources, res, urls, dest))
        if res.extract:
            try:
                _extract(path, dest, res)
            finally:  # a throwaway archive goes whether or not it unpacked (a bad one is not reused)
                if not res.keep_archive:
                    path.unlink(missing_ok=True)

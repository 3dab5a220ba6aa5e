"""Tests for ganforge.data.fetch against a local http.server (never the network)."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import socket
import tarfile
import threading
import time
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ganforge.data import fetch
from ganforge.errors import GanforgeError

MNIST_NAMES = [r.filename for r in fetch.RESOURCES["mnist"]]


class Server:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        requests = self.requests

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append(self.path)
                super().do_GET()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(autouse=True)
def _no_mirror(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(fetch.MIRROR_ENV, raising=False)
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def server(tmp_path: Path):
    root = tmp_path / "served"
    root.mkdir()
    srv = Server(root)
    yield srv
    srv.close()


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _serve_fake(monkeypatch: pytest.MonkeyPatch, srv: Server, name: str, contents: dict[str, bytes]) -> None:
    """Write ``contents`` into the served folder and patch RESOURCES[name] to their md5s."""
    for fname, data in contents.items():
        (srv.root / fname).write_bytes(data)
    patched = tuple(dataclasses.replace(r, md5=_md5(contents[r.filename])) for r in fetch.RESOURCES[name])
    monkeypatch.setitem(fetch.RESOURCES, name, patched)


def _fake_mnist(monkeypatch: pytest.MonkeyPatch, srv: Server) -> dict[str, bytes]:
    contents = {n: f"fake {n}".encode() * 50 for n in MNIST_NAMES}
    _serve_fake(monkeypatch, srv, "mnist", contents)
    return contents


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PIX2PIX = ["facades", "cityscapes", "maps", "edges2shoes", "night2day"]
CYCLEGAN = ["horse2zebra", "apple2orange", "summer2winter_yosemite", "monet2photo", "maps-unpaired"]
ALL_NAMES = ["mnist", "fashion-mnist", "cifar10", *PIX2PIX, *CYCLEGAN]


def test_resources_table() -> None:
    assert sorted(fetch.RESOURCES) == sorted(ALL_NAMES)
    mnist = {r.filename: r for r in fetch.RESOURCES["mnist"]}
    assert mnist["train-images-idx3-ubyte.gz"].md5 == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert mnist["t10k-labels-idx1-ubyte.gz"].urls == (
        "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz",
        "http://yann.lecun.com/exdb/mnist/t10k-labels-idx1-ubyte.gz",
    )
    assert len(fetch.RESOURCES["fashion-mnist"]) == 4
    (cifar,) = fetch.RESOURCES["cifar10"]
    assert cifar.md5 == "c58f30108f718f92721af3b95e74349a"
    assert "cifar-10-batches-py/data_batch_1" in cifar.extract


def test_mnist_fetch_and_idempotence(monkeypatch: pytest.MonkeyPatch, server: Server, tmp_path: Path) -> None:
    contents = _fake_mnist(monkeypatch, server)
    dest = tmp_path / "dest"
    assert fetch.fetch_dataset("mnist", dest, base_url=server.url) == dest
    for fname, data in contents.items():
        assert (dest / fname).read_bytes() == data
    assert sorted(p.name for p in dest.iterdir()) == sorted(MNIST_NAMES)  # no leftover temp files
    assert len(server.requests) == 4

    fetch.fetch_dataset("mnist", dest, base_url=server.url)
    assert len(server.requests) == 4  # nothing downloaded the second time


def test_replaces_corrupt_local_file(monkeypatch: pytest.MonkeyPatch, server: Server, tmp_path: Path) -> None:
    contents = _fake_mnist(monkeypatch, server)
    dest = tmp_path / "dest"
    fetch.fetch_dataset("mnist", dest, base_url=server.url)
    (dest / MNIST_NAMES[0]).write_bytes(b"truncated")
    fetch.fetch_dataset("mnist", dest, base_url=server.url)
    assert server.requests[4:] == [f"/{MNIST_NAMES[0]}"]
    assert (dest / MNIST_NAMES[0]).read_bytes() == contents[MNIST_NAMES[0]]


def test_default_dest_and_mirror_env(monkeypatch: pytest.MonkeyPatch, server: Server, tmp_path: Path) -> None:
    _fake_mnist(monkeypatch, server)
    monkeypatch.setenv(fetch.MIRROR_ENV, server.url)
    dest = fetch.fetch_dataset("mnist")
    assert dest == tmp_path / "cache" / "data" / "mnist"
    assert all((dest / n).is_file() for n in MNIST_NAMES)


def test_checksum_mismatch(monkeypatch: pytest.MonkeyPatch, server: Server, tmp_path: Path) -> None:
    _fake_mnist(monkeypatch, server)
    bad = MNIST_NAMES[0]
    (server.root / bad).write_bytes(b"tampered")
    expected = next(r.md5 for r in fetch.RESOURCES["mnist"] if r.filename == bad)
    dest = tmp_path / "dest"
    with pytest.raises(GanforgeError) as err:
        fetch.fetch_dataset("mnist", dest, base_url=server.url)
    msg = str(err.value)
    assert bad in msg and expected in msg and _md5(b"tampered") in msg
    assert "\n" not in msg
    assert list(dest.iterdir()) == []  # no partial or temp file left behind


def test_unreachable_server(tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{_free_port()}/"
    dest = tmp_path / "dest"
    start = time.monotonic()
    with pytest.raises(GanforgeError) as err:
        fetch.fetch_dataset("mnist", dest, base_url=base, timeout=5)
    assert time.monotonic() - start < 5
    msg = str(err.value)
    assert f"{base}{MNIST_NAMES[0]}" in msg
    assert str(dest) in msg and "offline?" in msg and "--data" in msg
    assert all(n in msg for n in MNIST_NAMES)
    assert "\n" not in msg
    assert list(dest.iterdir()) == []


def test_http_404_is_reported(monkeypatch: pytest.MonkeyPatch, server: Server, tmp_path: Path) -> None:
    _fake_mnist(monkeypatch, server)
    (server.root / MNIST_NAMES[1]).unlink()
    with pytest.raises(GanforgeError, match="404"):
        fetch.fetch_dataset("mnist", tmp_path / "dest", base_url=server.url)


def _cifar_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for member in fetch.RESOURCES["cifar10"][0].extract:
            data = f"fake {member}".encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_cifar10_extraction(monkeypatch: pytest.MonkeyPatch, server: Server, tmp_path: Path) -> None:
    _serve_fake(monkeypatch, server, "cifar10", {"cifar-10-python.tar.gz": _cifar_tar()})
    dest = tmp_path / "dest"
    fetch.fetch_dataset("cifar10", dest, base_url=server.url)
    batches = dest / "cifar-10-batches-py"
    for n in ["data_batch_1", "data_batch_5", "test_batch", "batches.meta"]:
        assert (batches / n).read_bytes() == f"fake cifar-10-batches-py/{n}".encode()
    assert not [p for p in dest.iterdir() if p.name.startswith(".")]  # scratch folders cleaned up
    fetch.fetch_dataset("cifar10", dest, base_url=server.url)
    assert len(server.requests) == 1


def test_cifar10_archive_missing_members(monkeypatch: pytest.MonkeyPatch, server: Server, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        tar.addfile(info, io.BytesIO(b""))
    _serve_fake(monkeypatch, server, "cifar10", {"cifar-10-python.tar.gz": buf.getvalue()})
    with pytest.raises(GanforgeError, match="test_batch"):
        fetch.fetch_dataset("cifar10", tmp_path / "dest", base_url=server.url)


def test_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(GanforgeError) as err:
        fetch.fetch_dataset("imagenet", tmp_path)
    assert str(err.value) == f"unknown dataset 'imagenet'; choices: {', '.join(sorted(ALL_NAMES))}"


# --- pix2pix / CycleGAN archives -------------------------------------------------------------------


def test_archive_resources_table() -> None:
    assert {n for names in fetch.GROUPS.values() for n in names} == set(ALL_NAMES)
    assert list(fetch.GROUPS["pix2pix"]) == PIX2PIX and list(fetch.GROUPS["cyclegan"]) == CYCLEGAN
    for name in ALL_NAMES:
        for res in fetch.RESOURCES[name]:
            assert res.urls and all(u.startswith(("http://", "https://")) for u in res.urls)
            assert all(u.endswith("/" + res.filename) for u in res.urls)
            assert res.checksum is None or res.checksum in (res.sha256, res.md5)
    for name in PIX2PIX:
        (res,) = fetch.RESOURCES[name]
        assert res.urls == (f"http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{name}.tar.gz",)
        assert res.strip == name and {"train", "val"} <= set(res.extract)
        assert res.checksum is None  # none published: fetched with a warning
    assert "test" in fetch.RESOURCES["facades"][0].extract
    for name in CYCLEGAN:
        (res,) = fetch.RESOURCES[name]
        archive = "maps" if name == "maps-unpaired" else name
        assert res.filename == f"{archive}.zip" and res.strip == archive
        assert res.urls == (f"http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{archive}.zip",)
        assert res.extract == ("trainA", "trainB", "testA", "testB")
        assert res.algorithm == "sha256" and len(res.sha256 or "") == 64 and res.size
    assert fetch.RESOURCES["horse2zebra"][0].sha256 == "a74d9d392eecca9966b51287a76ca126af473d9de4f3e8fc0e9cda08fa1730a1"
    assert fetch.RESOURCES["cifar10"][0].algorithm == "md5"


def test_describe() -> None:
    for name in ALL_NAMES:
        text = fetch.describe(name)
        assert text and "\n" not in text
    assert fetch.describe("facades").startswith("pix2pix facades")
    assert "400 train" in fetch.describe("facades")
    assert fetch.describe("maps-unpaired").startswith("CycleGAN maps")
    with pytest.raises(GanforgeError, match="unknown dataset 'imagenet'"):
        fetch.describe("imagenet")


def _jpeg(color: tuple[int, int, int]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 2), color).save(buf, format="JPEG")
    return buf.getvalue()


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


FACADES = {
    "facades/train/1.jpg": _jpeg((255, 0, 0)),
    "facades/train/2.jpg": _jpeg((0, 255, 0)),
    "facades/val/1.jpg": _jpeg((0, 0, 255)),
    "facades/test/1.jpg": _jpeg((9, 9, 9)),
}
HORSE2ZEBRA = {
    f"horse2zebra/{split}/{i}.jpg": _jpeg((i * 40, 0, 0))
    for split in ("trainA", "trainB", "testA", "testB") for i in (1, 2)
}


def _serve_archive(monkeypatch: pytest.MonkeyPatch, srv: Server, name: str, data: bytes, *,
                   patch_checksum: bool = True, size: int | None = None) -> None:
    """Serve ``data`` as RESOURCES[name]'s archive; give the resource its sha256 and size."""
    (res,) = fetch.RESOURCES[name]
    (srv.root / res.filename).write_bytes(data)
    if patch_checksum:
        res = dataclasses.replace(res, sha256=hashlib.sha256(data).hexdigest(),
                                  size=len(data) if size is None else size)
        monkeypatch.setitem(fetch.RESOURCES, name, (res,))


def test_pix2pix_tarball_is_unpacked_without_top_folder(
        monkeypatch: pytest.MonkeyPatch, server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _tar_gz(FACADES)
    _serve_archive(monkeypatch, server, "facades", data, patch_checksum=False)  # the real entry: no checksum
    dest = tmp_path / "dest"
    assert fetch.fetch_dataset("facades", dest, base_url=server.url) == dest
    assert server.requests == ["/facades.tar.gz"]
    assert sorted(p.name for p in dest.iterdir()) == ["test", "train", "val"]  # archive and scratch gone
    assert sorted(p.name for p in (dest / "train").glob("*.jpg")) == ["1.jpg", "2.jpg"]
    assert (dest / "val" / "1.jpg").read_bytes() == FACADES["facades/val/1.jpg"]
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "warning" in err and "no published checksum" in err
    assert hashlib.sha256(data).hexdigest() in err

    fetch.fetch_dataset("facades", dest, base_url=server.url)
    assert len(server.requests) == 1  # folders exist: nothing downloaded again


def test_pix2pix_archive_put_by_hand(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "facades.tar.gz").write_bytes(_tar_gz(FACADES))
    fetch.fetch_dataset("facades", dest, base_url=f"http://127.0.0.1:{_free_port()}/", timeout=5)
    assert sorted(p.name for p in dest.iterdir()) == ["test", "train", "val"]
    assert "no published checksum" in capsys.readouterr().err


def test_cyclegan_zip_is_unpacked_without_top_folder(
        monkeypatch: pytest.MonkeyPatch, server: Server, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    members = {**HORSE2ZEBRA, "__MACOSX/horse2zebra/._junk": b"junk"}
    _serve_archive(monkeypatch, server, "horse2zebra", _zip(members))
    dest = tmp_path / "dest"
    fetch.fetch_dataset("horse2zebra", dest, base_url=server.url)
    assert sorted(p.name for p in dest.iterdir()) == ["testA", "testB", "trainA", "trainB"]
    assert (dest / "trainB" / "2.jpg").read_bytes() == HORSE2ZEBRA["horse2zebra/trainB/2.jpg"]
    assert capsys.readouterr().err == ""  # verified: no warning
    fetch.fetch_dataset("horse2zebra", dest, base_url=server.url)
    assert server.requests == ["/horse2zebra.zip"]


def test_maps_unpaired_default_dest_and_mirror_env(
        monkeypatch: pytest.MonkeyPatch, server: Server, tmp_path: Path) -> None:
    members = {k.replace("horse2zebra/", "maps/"): v for k, v in HORSE2ZEBRA.items()}
    _serve_archive(monkeypatch, server, "maps-unpaired", _zip(members))
    monkeypatch.setenv(fetch.MIRROR_ENV, server.url)
    dest = fetch.fetch_dataset("maps-unpaired")
    assert dest == tmp_path / "cache" / "data" / "maps-unpaired"
    assert server.requests == ["/maps.zip"]  # the mirror replaces the base, the archive name stays
    assert (dest / "testA" / "1.jpg").is_file() and not (dest / "maps.zip").exists()


@pytest.mark.parametrize("kind", ["tar", "zip"])
@pytest.mark.parametrize("evil", ["../evil", "horse2zebra/../../evil", "/tmp/ganforge-evil-abs"])
def test_archive_with_unsafe_path_is_refused(
        monkeypatch: pytest.MonkeyPatch, server: Server, tmp_path: Path, kind: str, evil: str) -> None:
    name = "facades" if kind == "tar" else "horse2zebra"
    good = FACADES if kind == "tar" else HORSE2ZEBRA
    members = {**good, evil: b"pwned"}
    _serve_archive(monkeypatch, server, name, _tar_gz(members) if kind == "tar" else _zip(members))
    dest = tmp_path / "a" / "dest"
    with pytest.raises(GanforgeError) as err:
        fetch.fetch_dataset(name, dest, base_url=server.url)
    msg = str(err.value)
    assert "unsafe" in msg and evil in msg and "\n" not in msg
    assert not (tmp_path / "a" / "evil").exists() and not (tmp_path / "evil").exists()
    assert not Path("/tmp/ganforge-evil-abs").exists()
    assert list(dest.iterdir()) == []  # archive and scratch removed, nothing unpacked


def test_sha256_mismatch(monkeypatch: pytest.MonkeyPatch, server: Server, tmp_path: Path) -> None:
    _serve_archive(monkeypatch, server, "horse2zebra", _zip(HORSE2ZEBRA))
    (server.root / "horse2zebra.zip").write_bytes(b"tampered")  # wrong content (same size is not required)
    (res,) = fetch.RESOURCES["horse2zebra"]
    monkeypatch.setitem(fetch.RESOURCES, "horse2zebra", (dataclasses.replace(res, size=None),))
    dest = tmp_path / "dest"
    with pytest.raises(GanforgeError) as err:
        fetch.fetch_dataset("horse2zebra", dest, base_url=server.url)
    msg = str(err.value)
    assert "checksum mismatch for horse2zebra.zip" in msg and f"sha256 {res.sha256}" in msg
    assert hashlib.sha256(b"tampered").hexdigest() in msg and "\n" not in msg
    assert list(dest.iterdir()) == []


def test_size_mismatch(monkeypatch: pytest.MonkeyPatch, server: Server, tmp_path: Path) -> None:
    data = _zip(HORSE2ZEBRA)
    _serve_archive(monkeypatch, server, "horse2zebra", data, size=len(data) + 1)
    dest = tmp_path / "dest"
    with pytest.raises(GanforgeError, match=f"size mismatch .* expected {len(data) + 1} bytes, got {len(data)}"):
        fetch.fetch_dataset("horse2zebra", dest, base_url=server.url)
    assert list(dest.iterdir()) == []


def test_zip_without_top_folder(monkeypatch: pytest.MonkeyPatch, server: Server, tmp_path: Path) -> None:
    members = {k.replace("horse2zebra/", "other/"): v for k, v in HORSE2ZEBRA.items()}
    _serve_archive(monkeypatch, server, "horse2zebra", _zip(members))
    dest = tmp_path / "dest"
    with pytest.raises(GanforgeError, match="no top-level folder horse2zebra/"):
        fetch.fetch_dataset("horse2zebra", dest, base_url=server.url)
    assert list(dest.iterdir()) == []


def test_corrupt_tarball(server: Server, tmp_path: Path) -> None:
    (server.root / "night2day.tar.gz").write_bytes(b"not a tarball")
    dest = tmp_path / "dest"
    with pytest.raises(GanforgeError, match="cannot unpack") as err:
        fetch.fetch_dataset("night2day", dest, base_url=server.url)
    assert "\n" not in str(err.value)
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("name", ["facades", "maps-unpaired"])
def test_archive_unreachable_says_what_to_do(tmp_path: Path, name: str) -> None:
    base = f"http://127.0.0.1:{_free_port()}/"
    dest = tmp_path / "dest"
    (res,) = fetch.RESOURCES[name]
    with pytest.raises(GanforgeError) as err:
        fetch.fetch_dataset(name, dest, base_url=base, timeout=5)
    msg = str(err.value)
    assert "\n" not in msg and "offline?" in msg and "--data" in msg
    assert f"download {base}{res.filename}" in msg
    assert f"its {res.strip}/ folder into {dest}" in msg
    assert list(dest.iterdir()) == []

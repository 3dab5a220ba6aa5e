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
            def do_GET(self) -> None:  # noqa: N802
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


def test_resources_table() -> None:
    assert sorted(fetch.RESOURCES) == ["cifar10", "fashion-mnist", "mnist"]
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
    assert str(err.value) == "unknown dataset 'imagenet'; choices: cifar10, fashion-mnist, mnist"

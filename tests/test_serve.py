"""ganforge serve through real HTTP: uvicorn on a free port, every model kind, every bad request, the token, many
clients at once."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge.cli import main

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")


class Server:
    """The app of ``ganforge serve`` on 127.0.0.1 and a free port, in a thread."""

    def __init__(self, sources: list[str], token: str | None = None) -> None:
        from ganforge.serve import make_app, open_models

        self.models = open_models(sources)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(make_app(self.models, token), host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            assert time.time() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def request(self, path: str, body: Any = None, headers: dict[str, str] | None = None,
                data: bytes | None = None) -> tuple[int, str, bytes]:
        h = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.headers.get("content-type", ""), r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("content-type", ""), e.read()

    def upload(self, fields: dict[str, str], image: bytes, headers: dict[str, str] | None = None) -> tuple[int, str, bytes]:
        boundary = uuid.uuid4().hex
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()]
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="in.png"\r\n'
                     f'Content-Type: image/png\r\n\r\n'.encode() + image + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request("/api/translate", data=body,
                            headers={**(headers or {}), "Content-Type": f"multipart/form-data; boundary={boundary}"})


@pytest.fixture(scope="module")
def server(kind_runs: dict[str, Path]) -> Iterator[Server]:
    s = Server([str(kind_runs[k]) for k in ("generator", "conditional", "pix2pix", "cyclegan")])
    yield s
    s.stop()


def png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def png_bytes(size: tuple[int, int], solid: bool = False) -> bytes:
    buf = io.BytesIO()
    arr = np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr * 0 if solid else arr).save(buf, format="PNG")
    return buf.getvalue()


def error(r: tuple[int, str, bytes]) -> str:
    assert r[1].startswith("application/json"), r
    return json.loads(r[2])["error"]


def test_health_models_and_pages(server: Server) -> None:
    assert json.loads(server.request("/api/health")[2]) == {"status": "ok", "models": 4}
    info = json.loads(server.request("/api/models")[2])
    kinds = {m["name"]: (m["kind"], m["recipe"]) for m in info["models"]}
    assert kinds == {"generator": ("generator", "dcgan"), "conditional": ("conditional", "cdcgan"),
                     "pix2pix": ("translator", "pix2pix"), "cyclegan": ("translator", "cyclegan")}
    cyc = next(m for m in info["models"] if m["name"] == "cyclegan")
    assert cyc["directions"] == ["AtoB", "BtoA"] and cyc["examples"] == {"AtoB": 8, "BtoA": 8}
    assert info["limits"]["n"] == 64
    for path in ("/", "/model/generator"):
        status, ctype, body = server.request(path)
        assert status == 200 and ctype.startswith("text/html") and b"/api/models" in body
    assert server.request("/model/nope")[0] == 404
    assert "/api/generate" in json.loads(server.request("/openapi.json")[2])["paths"]


def test_generate_equals_the_api(server: Server, kind_runs: dict[str, Path]) -> None:
    status, ctype, body = server.request("/api/generate", {"model": "generator", "n": 4, "seed": 5, "nrow": 4})
    assert status == 200 and ctype == "image/png"
    grid = png(body)
    assert grid.shape == (2 + 18, 2 + 4 * 18, 3)  # one row of four 16 px images, 2 px apart
    want = ganforge.load(kind_runs["generator"]).generate(4, seed=5)
    first = (want[0].add(1).div(2).mul(255).add(0.5).to(torch.uint8)).permute(1, 2, 0).numpy()
    assert np.array_equal(grid[2:18, 2:18], first)
    # conditional: a class by name, and one row per class
    a = server.request("/api/generate", {"model": "conditional", "n": 4, "seed": 1, "class": "basil"})
    b = server.request("/api/generate", {"model": "conditional", "n": 4, "seed": 1, "class": 2})
    assert a[0] == 200 and a[2] == b[2]
    rows = png(server.request("/api/generate", {"model": "conditional", "n": 10, "class_grid": True})[2])
    assert rows.shape[:2] == (2 + 5 * 18, 2 + 2 * 18)  # 5 classes x 2
    strip = server.request("/api/interpolate", {"model": "generator", "seed_a": 3, "seed_b": 7, "steps": 5})
    assert strip[0] == 200 and png(strip[2]).shape[:2] == (20, 2 + 5 * 18)
    assert server.request("/api/interpolate", {"model": "conditional", "steps": 3, "class": 1})[0] == 200


def test_translate_uploads_and_examples(server: Server, kind_runs: dict[str, Path]) -> None:
    img = png_bytes((30, 22))
    status, ctype, body = server.upload({"model": "cyclegan", "direction": "BtoA"}, img)
    assert status == 200 and ctype == "image/png"
    want = ganforge.load(kind_runs["cyclegan"]).translate(Image.open(io.BytesIO(img)), "BtoA")
    assert np.array_equal(png(body), np.asarray(want))
    assert png(server.upload({"model": "pix2pix", "fit": "pad"}, img)[2]).shape == (22, 30, 3)
    ex = server.request("/api/example/cyclegan?index=2&direction=BtoA")
    assert ex[0] == 200 and png(ex[2]).shape == (20, 20, 3)  # a 16 px example with its 2 px frame


@pytest.mark.parametrize("body, status, says", [
    ({"model": "generator", "n": 65}, 422, "n: Input should be less than or equal to 64"),
    ({"model": "generator", "n": 0}, 422, "n: Input should be greater than or equal to 1"),
    ({"model": "generator", "seed": -1}, 422, "seed: Input should be greater than or equal to 0"),
    ({"model": "generator", "n": "many"}, 422, "n: Input should be a valid integer"),
    ({"n": 4}, 422, "model: Field required"),
    ({"model": "nope"}, 404, "model 'nope' is not served; models: generator, conditional, pix2pix, cyclegan"),
    ({"model": "pix2pix"}, 400, "is a translator model; this needs a generator or conditional model"),
    ({"model": "generator", "class": 1}, 400, "unconditional"),
    ({"model": "conditional", "class": "salami"}, 400, "class 'salami' is out of range; allowed: 0..4"),
    ({"model": "generator", "class_grid": True}, 400, "class_grid: model 'generator' is unconditional"),
])
def test_bad_generate_requests(server: Server, body: dict, status: int, says: str) -> None:
    r = server.request("/api/generate", body)
    assert r[0] == status and says in error(r)


def test_bad_interpolate_translate_and_example_requests(server: Server) -> None:
    cases = [
        (server.request("/api/interpolate", {"model": "generator", "steps": 33}), 422, "steps: Input should be less than or equal to 32"),
        (server.request("/api/interpolate", {"model": "generator", "mode": "cubic"}), 422, "mode: String should match"),
        (server.request("/api/interpolate", {"model": "conditional"}), 400, "is class-conditional: give class"),
        (server.request("/api/generate", data=b"{not json", headers={"Content-Type": "application/json"}), 422, "JSON"),
        (server.upload({"model": "generator"}, png_bytes((8, 8))), 400, "is a generator model"),
        (server.upload({"model": "cyclegan"}, b"not an image"), 400, "is not a readable image"),
        (server.upload({"model": "cyclegan", "direction": "CtoD"}, png_bytes((8, 8))), 400, "AtoB and BtoA only"),
        (server.upload({"model": "cyclegan", "fit": "stretch"}, png_bytes((8, 8))), 400, "fit 'stretch'; choices"),
        (server.upload({"model": "cyclegan"}, png_bytes((2100, 2100), solid=True)), 413, "the limit is 4194304 pixels"),
        (server.request("/api/example/cyclegan?index=8"), 404, "example index 8; this model has 0..7"),
        (server.request("/api/example/generator"), 400, "is a generator model"),
        (server.request("/api/report/generator"), 404, "has no report.html"),
    ]
    for r, status, says in cases:
        assert r[0] == status and says in error(r), (r, says)
    # an upload announcing more than the limit is refused before its body is read
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("POST", "/api/translate")
    conn.putheader("Content-Type", "multipart/form-data; boundary=x")
    conn.putheader("Content-Length", str(50 * 2**20))
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 413 and "the limit is 10485760 bytes" in json.loads(resp.read())["error"]
    conn.close()
    assert json.loads(server.request("/api/health")[2])["status"] == "ok"  # still up


def test_many_clients_at_once(server: Server) -> None:
    def one(i: int) -> bytes:
        r = server.request("/api/generate", {"model": "generator" if i % 2 else "conditional", "n": 8, "seed": i % 4})
        assert r[0] == 200
        return r[2]

    with ThreadPoolExecutor(12) as pool:
        out = list(pool.map(one, range(24)))
    for i in range(24):  # the same request gives the same image, whatever ran beside it
        assert out[i] == out[i % 8]


def test_token(kind_runs: dict[str, Path]) -> None:
    s = Server([str(kind_runs["generator"])], token="s3cret")
    try:
        r = s.request("/api/models")
        assert r[0] == 401 and "needs its token" in error(r)
        assert s.request("/api/models", headers={"Authorization": "Bearer wrong"})[0] == 401
        assert s.request("/api/models", headers={"Authorization": "Bearer s3cret"})[0] == 200
        assert s.request("/api/health?token=s3cret")[0] == 200
        assert s.request("/")[0] == 200  # the page itself asks for the token
    finally:
        s.stop()


def test_cli_refusals(kind_runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["serve", str(tmp_path / "none")]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    assert main(["serve", str(kind_runs["generator"]), "--port", "70000"]) == 2
    assert "--port 70000" in capsys.readouterr().err
    assert main(["serve", str(kind_runs["generator"]), "--token", " "]) == 2
    assert "--token is empty" in capsys.readouterr().err

"""Tests for ganforge.metrics.inception: layout of the FID Inception, loading, features, finding the weights.

Random weights only (the real file is never downloaded); downloads go to a local http.server.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.metrics import inception
from ganforge.metrics.inception import FIDInception, find_weights, load_fid_inception, weights_sha256

from .conftest import SHARED
from .test_fetch import Server  # the local HTTP server of the download tests

# ../shared/reference beside the checkout (next to ../shared/data, which GANFORGE_SHARED_DATA may move)
KEYS_JSON = SHARED.parent / "reference" / "fid_inception_keys.json"


@pytest.fixture(autouse=True)
def _no_weights_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real weights anywhere: private torch hub and ganforge caches, no env var, no mirror."""
    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
    monkeypatch.delenv(inception.WEIGHTS_MIRROR_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def model() -> FIDInception:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return FIDInception().eval().requires_grad_(False)


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1)) * 2 - 1


@pytest.fixture(scope="module")
def batch_out(model: FIDInception, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.inference_mode():
        return model.features(images)


def _save(state: dict[str, torch.Tensor], path: Path) -> Path:
    torch.save(state, path)
    return path


# --- layout -----------------------------------------------------------------------------------------


def test_state_dict_matches_the_weights_file_layout(model: FIDInception) -> None:
    if not KEYS_JSON.is_file():
        pytest.skip(f"{KEYS_JSON} is missing")
    ref = json.loads(KEYS_JSON.read_text())["weights_file_state_dict"]
    assert len(ref) == 566
    got = model.state_dict()
    assert sorted(got) == sorted(e["key"] for e in ref)
    for e in ref:
        assert tuple(got[e["key"]].shape) == tuple(e["shape"]), e["key"]
    params = dict(model.named_parameters())
    assert sorted(params) == sorted(e["key"] for e in ref if e["kind"] == "param")


def test_parameter_counts(model: FIDInception) -> None:
    assert sum(p.numel() for p in model.parameters()) == 23_850_960
    assert sum(p.numel() for n, p in model.named_parameters() if not n.startswith("fc.")) == 21_785_568


def test_patched_blocks(model: FIDInception) -> None:
    names = {n: type(m).__name__ for n, m in model.named_children()}
    assert names["Mixed_5b"] == names["Mixed_5d"] == "FIDInceptionA"
    assert names["Mixed_6b"] == names["Mixed_6e"] == "FIDInceptionC"
    assert (names["Mixed_7b"], names["Mixed_7c"]) == ("FIDInceptionE_1", "FIDInceptionE_2")
    bn = model.Conv2d_1a_3x3.bn
    assert bn.eps == pytest.approx(0.001) and model.Conv2d_1a_3x3.conv.bias is None


# --- loading ----------------------------------------------------------------------------------------


def _cheap_state(model: FIDInception) -> dict[str, torch.Tensor]:
    """Every key at its right shape, each a stride-0 view of one random number: a few kB on disk."""
    g = torch.Generator().manual_seed(2)
    return {k: (torch.rand((), generator=g) * 2).to(v.dtype).expand(v.shape) for k, v in model.state_dict().items()}


def test_load_own_random_weights(model: FIDInception, tmp_path: Path) -> None:
    saved = model.state_dict()
    loaded = load_fid_inception(_save(saved, tmp_path / "w.pth"))
    assert not loaded.training
    assert not any(p.requires_grad for p in loaded.parameters())
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, saved[k]), k


def test_load_without_num_batches_tracked(model: FIDInception, tmp_path: Path) -> None:
    state = {k: v for k, v in _cheap_state(model).items() if not k.endswith("num_batches_tracked")}
    assert len(state) == 566 - 94
    loaded = load_fid_inception(_save(state, tmp_path / "old.pth"))
    for k, v in loaded.state_dict().items():
        if k.endswith("num_batches_tracked"):
            assert int(v) == 0, k
        else:
            assert torch.equal(v, state[k]), k


def test_load_refuses_wrong_files(model: FIDInception, tmp_path: Path) -> None:
    good = _cheap_state(model)
    missing = dict(good)
    del missing["Mixed_6c.branch7x7_2.conv.weight"]
    with pytest.raises(GanforgeError, match=r"is not the FID Inception weights file.*Mixed_6c\.branch7x7_2\.conv\.weight"):
        load_fid_inception(_save(missing, tmp_path / "missing.pth"))
    misshaped = dict(good)
    misshaped["fc.weight"] = torch.zeros(()).expand(1000, 2048)  # torchvision's 1000 classes
    with pytest.raises(GanforgeError, match=r"fc\.weight.*\(1000, 2048\)") as info:
        load_fid_inception(_save(misshaped, tmp_path / "torchvision_like.pth"))
    assert "\n" not in str(info.value)
    extra = dict(good)
    extra["AuxLogits.fc.weight"] = torch.zeros(1)
    with pytest.raises(GanforgeError, match="AuxLogits"):
        load_fid_inception(_save(extra, tmp_path / "extra.pth"))
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint" * 10)
    with pytest.raises(GanforgeError, match="is not the FID Inception weights file"):
        load_fid_inception(garbage)


# --- features ---------------------------------------------------------------------------------------


def test_features_shapes_and_finite(model: FIDInception, batch_out: tuple[torch.Tensor, torch.Tensor]) -> None:
    pool, logits = batch_out
    assert pool.shape == (2, 2048) and logits.shape == (2, 1008)
    assert torch.isfinite(pool).all() and torch.isfinite(logits).all()
    assert (pool >= 0).all() and pool.abs().max() > 1e-3  # a mean of ReLU outputs, not all zero
    torch.testing.assert_close(logits, pool @ model.fc.weight.t() + model.fc.bias)


def test_eval_outputs_deterministic_and_batch_independent(model: FIDInception, images: torch.Tensor,
                                                          batch_out: tuple[torch.Tensor, torch.Tensor]) -> None:
    pool, logits = batch_out
    # image 0 alone gives what it gives in the batch of 2; extract returns float32 CPU tensors
    pool1, logits1 = model.extract(images[:1], batch_size=1)
    assert pool1.dtype == torch.float32 and pool1.device.type == "cpu"
    torch.testing.assert_close(pool1, pool[:1], rtol=0, atol=1e-5)
    torch.testing.assert_close(logits1, logits[:1], rtol=0, atol=1e-5)
    with torch.inference_mode():
        out = model(images[:1])
    assert torch.equal(out["pool"], pool1)  # the same image alone again: the same numbers
    torch.testing.assert_close(out["logits"], logits1, rtol=0, atol=1e-5)
    torch.testing.assert_close(out["logits_unbiased"], logits1 - model.fc.bias, rtol=0, atol=1e-5)


def test_grayscale_is_repeated_to_rgb(model: FIDInception) -> None:
    gray = torch.rand(2, 1, 32, 32) * 2 - 1
    x = model.preprocess(gray)
    assert x.shape == (2, 3, 299, 299)
    assert torch.equal(x, model.preprocess(gray.expand(-1, 3, -1, -1)))
    with torch.inference_mode():
        pool, logits = model.features(gray)
    assert pool.shape == (2, 2048) and logits.shape == (2, 1008) and torch.isfinite(pool).all()


def test_preprocess_resizes_like_pytorch_fid(model: FIDInception, images: torch.Tensor) -> None:
    x = model.preprocess(images)
    torch.testing.assert_close(x, F.interpolate(images, size=(299, 299), mode="bilinear", align_corners=False))
    # pytorch-fid maps [0, 1] to [-1, 1] after resizing; ganforge's [-1, 1] images go in unscaled
    x01 = (images + 1) / 2
    torch.testing.assert_close(x, 2 * F.interpolate(x01, size=(299, 299), mode="bilinear", align_corners=False) - 1)
    at299 = torch.rand(1, 3, 299, 299) * 2 - 1
    assert torch.equal(model.preprocess(at299), F.interpolate(at299, size=(299, 299), mode="bilinear",
                                                              align_corners=False))
    with pytest.raises(GanforgeError, match="uint8"):
        model.preprocess(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(GanforgeError, match=r"\(1, 4, 8, 8\)"):
        model.preprocess(torch.zeros(1, 4, 8, 8))


def test_extract_bf16_close_to_float32(model: FIDInception, images: torch.Tensor,
                                       batch_out: tuple[torch.Tensor, torch.Tensor]) -> None:
    pool, _ = model.extract([images[:1]], batch_size=4, bf16=True)
    assert pool.dtype == torch.float32 and pool.shape == (1, 2048)
    rel = (pool[0] - batch_out[0][0]).norm() / batch_out[0][0].norm()
    assert rel < 0.05
    empty_pool, empty_logits = model.extract([], batch_size=4)
    assert empty_pool.shape == (0, 2048) and empty_logits.shape == (0, 1008)


# --- finding and downloading the weights ------------------------------------------------------------


FAKE = b"not really the FID Inception weights " * 100


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root = tmp_path / "served"
    root.mkdir()
    (root / inception.FID_WEIGHTS_FILENAME).write_bytes(FAKE)
    srv = Server(root)
    monkeypatch.setenv(inception.WEIGHTS_MIRROR_ENV, srv.url)
    monkeypatch.setattr(inception, "FID_WEIGHTS_SHA256", hashlib.sha256(FAKE).hexdigest())
    monkeypatch.setattr(inception, "FID_WEIGHTS_SIZE", len(FAKE))
    yield srv
    srv.close()


def test_weights_constants() -> None:
    assert inception.FID_WEIGHTS_URL.endswith("/" + inception.FID_WEIGHTS_FILENAME)
    # the file name carries the first 8 hex digits of its SHA-256 (torch.hub's convention)
    assert inception.FID_WEIGHTS_SHA256.startswith("6726825d") and len(inception.FID_WEIGHTS_SHA256) == 64


def test_find_weights_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = inception.hub_weights_path()
    assert hub == tmp_path / "torch_home" / "hub" / "checkpoints" / inception.FID_WEIGHTS_FILENAME
    cached = inception.cache_weights_path()
    assert cached == tmp_path / "cache" / "weights" / inception.FID_WEIGHTS_FILENAME
    for p in (hub, cached):
        p.parent.mkdir(parents=True)
        p.write_bytes(b"x")
    assert find_weights() == hub
    hub.unlink()
    assert find_weights() == cached
    env_file = tmp_path / "env.pth"
    env_file.write_bytes(b"y")
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(env_file))
    assert find_weights() == env_file
    explicit = tmp_path / "explicit.pth"
    explicit.write_bytes(b"z")
    assert find_weights(explicit) == explicit
    with pytest.raises(GanforgeError, match="nope.pth"):
        find_weights(tmp_path / "nope.pth")
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(tmp_path / "gone.pth"))
    with pytest.raises(GanforgeError, match=inception.WEIGHTS_ENV):
        find_weights()
    assert weights_sha256(explicit) == hashlib.sha256(b"z").hexdigest()


def test_download_into_cache(server: Server) -> None:
    path = find_weights()
    assert path == inception.cache_weights_path()
    assert path.read_bytes() == FAKE
    assert server.requests == ["/" + inception.FID_WEIGHTS_FILENAME]
    assert find_weights() == path and len(server.requests) == 1  # found in the cache, not fetched again
    assert weights_sha256(path) == hashlib.sha256(FAKE).hexdigest()


def test_download_hash_mismatch_leaves_nothing(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inception, "FID_WEIGHTS_SHA256", "0" * 64)
    with pytest.raises(GanforgeError, match="checksum mismatch"):
        find_weights()
    folder = inception.cache_weights_path().parent
    assert not folder.exists() or not any(folder.iterdir())


def test_offline_error_is_quick_and_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port nothing listens on: connections are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv(inception.WEIGHTS_MIRROR_ENV, f"http://127.0.0.1:{port}/")
    start = time.monotonic()
    with pytest.raises(GanforgeError) as info:
        load_fid_inception()
    assert time.monotonic() - start < 5
    msg = str(info.value)
    assert "\n" not in msg
    assert inception.WEIGHTS_ENV in msg and inception.FID_WEIGHTS_URL in msg
    assert str(inception.hub_weights_path()) in msg
    assert not inception.cache_weights_path().exists()

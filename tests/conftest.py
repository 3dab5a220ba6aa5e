"""Shared fixtures: a private cache dir, small in-memory images written by the tests, the shared data."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

# The project's shared real data sits beside the checkout (../shared/data); GANFORGE_SHARED_DATA overrides.
SHARED = Path(os.environ.get("GANFORGE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
MNIST = SHARED / "mnist"
if os.environ.get("CI") and not MNIST.is_dir():  # CI always has it: a missing folder must fail, not skip
    raise RuntimeError(f"CI run without the shared data: {MNIST} is missing")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("GANFORGE_DATA_MIRROR", raising=False)
    torch.use_deterministic_algorithms(False)


def write_images(folder: Path, n: int, size: tuple[int, int] = (20, 20), mode: str = "RGB", seed: int = 0,
                 suffix: str = ".png") -> list[Path]:
    """``n`` random images of one mode/size, deterministic from ``seed``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        w, h = size
        if mode == "L":
            img = Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8), "L")
        else:
            img = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB").convert(mode)
        p = folder / f"img_{i:03d}{suffix}"
        img.save(p)
        paths.append(p)
    return paths


def tiny_overrides(**extra: object) -> list[str]:
    """Dotted overrides for a DCGAN small enough for CPU tests."""
    base = {"model.latent_dim": 8, "model.g_width": 4, "model.d_width": 4, "data.image_size": 16,
            "train.batch_size": 8, "train.log_every": 2, "train.progress": "false", "train.tensorboard": "false"}
    base.update({k: v for k, v in extra.items()})
    return [f"{k}={v}" for k, v in base.items()]


def write_bomb_png(path: Path, side: int = 30000) -> Path:
    """A tiny PNG whose header claims ``side`` x ``side`` pixels (a decompression bomb: Pillow refuses to open
    one of more than 2 x Image.MAX_IMAGE_PIXELS pixels); made by editing a 1x1 PNG's IHDR and its CRC."""
    import io
    import struct
    import zlib

    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, format="PNG")
    raw = bytearray(buf.getvalue())
    i = raw.index(b"IHDR")
    raw[i + 4 : i + 12] = struct.pack(">II", side, side)
    raw[i + 17 : i + 21] = struct.pack(">I", zlib.crc32(bytes(raw[i : i + 17])))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(raw))
    return path


def tiny_run(root: Path, epochs: int = 1) -> Path:
    """A tiny DCGAN run of ``epochs`` epochs over 16 images written to ``root / "imgs"``: ``root / "run"``."""
    from ganforge.cli import main

    write_images(root / "imgs", 16)
    assert main(["train", "--data", str(root / "imgs"), "--out", str(root / "run"),
                 *tiny_overrides(**{"train.epochs": epochs})]) == 0
    return root / "run"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny DCGAN run (1 epoch of 16 images in ``trained.parent / "imgs"``), shared by a module's tests: copy
    it before changing it."""
    return tiny_run(tmp_path_factory.mktemp("trained"))


@pytest.fixture(scope="session")
def pizza_cls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small classifier of the 5 builtin pizza topping classes (16x16, a few seconds to train): the feature
    extractor of the evaluate tests."""
    from ganforge.config import DataConfig
    from ganforge.metrics.classifier import train_classifier

    out = tmp_path_factory.mktemp("cls") / "pizza_cls.pt"
    train_classifier(DataConfig(source="builtin:pizza", image_size=16, builtin_n=512), out, epochs=2, batch_size=32,
                     width=8, progress=False)
    return out


@pytest.fixture(scope="session")
def mnist_classifier(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """ganforge's own MNIST judge, trained once per test session: width 16, 12,000 training images, one epoch
    (about 15 s; 97% on the test split). Returns (its file, the summary train_classifier returned)."""
    if not MNIST.is_dir():
        pytest.skip("needs ../shared/data/mnist")
    from ganforge.config import DataConfig
    from ganforge.metrics.classifier import train_classifier

    out = tmp_path_factory.mktemp("judge") / "mnist_cls.pt"
    cfg = DataConfig(source=str(MNIST), image_size=28, channels=1, limit=12000)
    summary = train_classifier(cfg, out, epochs=1, batch_size=128, lr=2e-3, seed=0, width=16, progress=False)
    return out, summary


# Tiny runs of each model kind (builtin data, a few steps), for the API, export and serve tests: copy before changing.
KIND_RUNS = {
    "generator": ["--preset", "dcgan-pizza", "model.ema=0.9", "data.builtin_n=32"],
    "conditional": ["--preset", "cdcgan-cifar10", "--data", "builtin:pizza", "data.builtin_n=32"],
    "pix2pix": ["--preset", "pix2pix-colorize", "--data", "builtin:pizza", "model.generator=unet_64", "data.image_size=64",
                "data.load_size=72", "data.builtin_n=16", "optim.decay_epochs=0", "train.epochs=1", "train.batch_size=4"],
    "cyclegan": ["--preset", "cyclegan-pizza", "model.generator=resnet_6blocks", "model.d_layers=2", "data.image_size=16",
                 "data.load_size=20", "data.builtin_n=16", "optim.decay_epochs=0", "train.epochs=1", "train.batch_size=4"],
}


@pytest.fixture(scope="session")
def kind_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """kind -> the run directory of a 4-step tiny run of it (about 1 s each)."""
    from ganforge.cli import main

    root = tmp_path_factory.mktemp("kind_runs")
    small = ["model.g_width=4", "model.d_width=4", "train.steps=4", "train.progress=false", "train.tensorboard=false",
             "train.report=false"]
    gan = ["model.latent_dim=8", "data.image_size=16", "train.batch_size=8"]
    runs = {}
    for kind, args in KIND_RUNS.items():
        runs[kind] = root / kind
        extra = gan if kind in ("generator", "conditional") else []
        assert main(["train", "--out", str(runs[kind]), *args, *extra, *small]) == 0
    return runs


# Headless Chromium (Debian's chromium + chromium-driver, which .ci/run installs when missing) for the browser tests
CHROMIUM, DRIVER = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    if not CHROMIUM or not DRIVER:
        pytest.skip("headless Chromium is not installed (Debian packages chromium and chromium-driver; .ci/run "
                    "installs them when it can)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (a test dependency) is not installed")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-dev-shm-usage", "--window-size=1200,900"):
        opts.add_argument(arg)
    opts.binary_location = CHROMIUM
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)  # the system driver: nothing is downloaded
    yield driver
    driver.quit()

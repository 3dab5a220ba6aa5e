"""StackedMNIST (``stacked-mnist[:PATH]``: three MNIST digits as R, G, B, 1,000 modes) and the ``modes`` metric that
reads each channel back with an MNIST classifier (PacGAN Table 2's protocol), plus the ``conf`` metric."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.config import DataConfig
from ganforge.data.sources import STACKED_N, open_source, read_mnist
from ganforge.metrics import METRICS, Inputs, sample_count
from ganforge.metrics.extractors import open_extractor

from .conftest import MNIST, tiny_overrides

needs_mnist = pytest.mark.skipif(not MNIST.is_dir(), reason="needs ../shared/data/mnist")


def stacked(n: int, seed: int = 0, split: str = "test") -> np.ndarray:
    cfg = DataConfig(source=f"stacked-mnist:{MNIST}", split=split, image_size=28, channels=3, builtin_n=n,
                     builtin_seed=seed)
    return open_source(cfg).array


def one_hot_logits(triples: np.ndarray) -> np.ndarray:
    """(N, 3) digits -> (N, 3, 10) logits that an argmax reads back as those digits."""
    return np.eye(10)[triples] * 5.0


def test_modes_metric_closed_forms() -> None:
    modes = METRICS.get("modes")
    every = np.array([(a, b, c) for a in range(10) for b in range(10) for c in range(10)])
    out = modes.compute(Inputs(channel_logits=one_hot_logits(np.repeat(every, 3, axis=0))))
    assert out == pytest.approx({"modes": 1000.0, "modes_kl": 0.0, "modes_kl_channels": 0.0, "modes_tc": 0.0}, abs=1e-12)
    ten = np.repeat(every[:10], 7, axis=0)  # 10 modes, evenly: KL = log(1000 / 10)
    out = modes.compute(Inputs(channel_logits=one_hot_logits(ten)))
    assert out["modes"] == 10 and out["modes_kl"] == pytest.approx(math.log(100))
    # ...all of it in the channels' own histograms (the first two always 0, the third uniform): no dependence
    assert out["modes_kl_channels"] == pytest.approx(math.log(100)) and out["modes_tc"] == pytest.approx(0, abs=1e-12)
    # the same digit in all three channels: every channel uniform, the KL is all dependence between the channels
    same = np.repeat(np.stack([np.arange(10)] * 3, 1), 5, axis=0)
    out = modes.compute(Inputs(channel_logits=one_hot_logits(same)))
    assert out["modes"] == 10 and out["modes_kl"] == pytest.approx(math.log(100)) == out["modes_tc"]
    assert out["modes_kl_channels"] == pytest.approx(0, abs=1e-12)
    uneven = np.concatenate([np.repeat(every[:1], 3, 0), every[1:2]])  # q = (3/4, 1/4)
    expect = 0.75 * math.log(750) + 0.25 * math.log(250)
    assert modes.compute(Inputs(channel_logits=one_hot_logits(uneven)))["modes_kl"] == pytest.approx(expect)
    assert modes.ranks("modes_kl") and not modes.higher_is_better
    # `ganforge evaluate` draws the papers' 26,000 samples when modes is asked for and --n is not given
    assert sample_count(["modes"]) == sample_count(["fid", "modes"]) == 26_000 and sample_count(["fid"]) == 10_000


def test_conf_metric_closed_form() -> None:
    logits = np.log(np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.5, 0.25, 0.25]]))
    out = METRICS.get("conf").compute(Inputs(fake=(np.zeros((4, 2)), logits)))
    assert out["confidence"] == pytest.approx((0.7 + 0.8 + 0.6 + 0.5) / 4)
    assert out["class_share_min"] == 0.0 and out["class_share_max"] == 0.75  # class 2 never wins; class 0 three times


@needs_mnist
def test_source_stacks_three_seeded_digits() -> None:
    images = stacked(300, seed=3)
    assert images.shape == (300, 28, 28, 3) and images.dtype == np.uint8
    digits = {d.tobytes() for d in read_mnist(str(MNIST), DataConfig(split="test", channels=1)).array[..., 0]}
    assert all(images[i, :, :, c].tobytes() in digits for i in range(300) for c in range(3))  # each channel a digit
    assert not np.array_equal(images[..., 0], images[..., 1])  # the channels are drawn independently
    assert np.array_equal(images, stacked(300, seed=3)) and not np.array_equal(images, stacked(300, seed=4))
    assert STACKED_N == 128_000 and DataConfig().generated(STACKED_N) == 128_000  # the papers' size by default


@needs_mnist
def test_real_stacked_mnist_covers_the_modes_and_a_collapse_does_not(mnist_classifier: tuple) -> None:
    ex = open_extractor(f"classifier:{mnist_classifier[0]}")

    def score(images: np.ndarray) -> dict[str, float]:
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
        logits = [ex.features(b.reshape(len(b) * 3, 1, 28, 28))[1].numpy().reshape(len(b), 3, -1)
                  for b in x.split(1000)]
        return METRICS.get("modes").compute(Inputs(channel_logits=np.concatenate(logits)))

    real = score(stacked(5000, seed=1))
    # 5,000 uniform draws over 1,000 modes miss about 7 of them; the KL of so few samples is about 0.1
    assert real["modes"] >= 980 and real["modes_kl"] < 0.2, real
    grey = stacked(5000, seed=1)
    grey[..., 1] = grey[..., 2] = grey[..., 0]  # R = G = B: only the 10 triples (d, d, d)
    collapsed = score(grey)
    assert collapsed["modes"] <= 30 and collapsed["modes_kl"] > math.log(1000 / 30), collapsed


@needs_mnist
def test_train_and_evaluate_modes_from_the_command_line(tmp_path: Path, mnist_classifier: tuple) -> None:
    run = tmp_path / "run"
    assert main(["train", "--data", f"stacked-mnist:{MNIST}", "--out", str(run),
                 *tiny_overrides(**{"data.builtin_n": 64, "train.epochs": 1, "data.channels": 3})]) == 0
    assert main(["evaluate", str(run), "--metrics", "modes", "--extractor", f"classifier:{mnist_classifier[0]}",
                 "--n", "500"]) == 0
    row = json.loads((run / "eval.jsonl").read_text().splitlines()[-1])
    assert 1 <= row["modes"] <= 500 and 0 <= row["modes_kl"] <= math.log(1000) + 1e-9
    assert row["protocol"]["n_fake"] == 500

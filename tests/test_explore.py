"""Latent interpolation: lerp/slerp closed forms, the path through seeds, strips, GIF and MP4 loops, bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.explore import lerp, path_latents, slerp
from ganforge.rng import seeded
from ganforge.sampling import load_recipe

from .conftest import tiny_overrides, write_images
from .test_cli import one_line_error


def test_lerp_and_slerp_closed_forms() -> None:
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    t = torch.tensor([0.0, 0.5, 1.0])
    torch.testing.assert_close(lerp(a, b, t)[1], torch.tensor([0.5, 0.5]))
    s = slerp(a, b, t)
    torch.testing.assert_close(s[0], a)
    torch.testing.assert_close(s[2], b)
    torch.testing.assert_close(s[1], torch.tensor([1.0, 1.0]) / math.sqrt(2))  # stays on the unit circle
    assert torch.allclose(slerp(a, b, torch.linspace(0, 1, 9)).norm(dim=1), torch.ones(9))
    torch.testing.assert_close(slerp(a, 2 * a, t), lerp(a, 2 * a, t))  # parallel: the straight line


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("explore")
    write_images(root / "imgs", 16)
    out = root / "run"
    assert main(["train", "--data", str(root / "imgs"), "--out", str(out), *tiny_overrides(**{"train.epochs": 1})]) == 0
    return out


def test_path_through_seeds_starts_at_the_seed_latents(run: Path) -> None:
    recipe, _ = load_recipe(run)
    z = path_latents(recipe, [3, 17, 42], 5, "slerp")
    assert z.shape == (2 * 5, 8)
    first = recipe.sample_inputs(1, seeded(3, 4))["z"].flatten()
    torch.testing.assert_close(z[0], first)
    torch.testing.assert_close(z[4], z[5])  # leg 1 ends where leg 2 starts (seed 17)
    loop = path_latents(recipe, [3, 17], 5, "lerp", loop=True)
    assert loop.shape == (2 * 4, 8)  # there and back, the joins counted once


def test_strip_gif_and_mp4(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    strip, gif, mp4 = tmp_path / "strip.png", tmp_path / "walk.gif", tmp_path / "walk.mp4"
    assert main(["interpolate", str(run), "--seeds", "3,17,42", "--steps", "6", "--out", str(strip), "--video", str(gif),
                 "--frames", "10"]) == 0
    assert Image.open(strip).size == (6 * 18 + 2, 2 * 18 + 2)  # 6 per pair, one row per pair, 16 px + padding
    assert Image.open(gif).n_frames == 3 * 9
    # the strip's first image is what `ganforge sample --seed 3` draws first
    assert main(["sample", str(run), "--n", "1", "--seed", "3", "--out", str(tmp_path / "one.png")]) == 0
    tile = np.asarray(Image.open(strip))[2:18, 2:18].astype(int)
    one = np.asarray(Image.open(tmp_path / "one.png"))[2:18, 2:18].astype(int)
    assert np.abs(tile - one).max() <= 1
    assert main(["interpolate", str(run), "--seeds", "3,17", "--out", str(strip), "--video", str(mp4), "--frames",
                 "12", "--mode", "lerp"]) == 0
    import imageio.v2 as imageio

    reader = imageio.get_reader(mp4)
    assert reader.count_frames() == 2 * 11
    reader.close()


def test_bad_interpolation_input(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = str(tmp_path / "s.png")
    for args, message in [
        (["--seeds", "3"], "needs at least two seeds"),
        (["--seeds", "3,x"], "a comma list of integers"),
        (["--seeds", "3,4", "--steps", "1"], "--steps must be >= 2"),
        (["--seeds", "3,4", "--video", str(tmp_path / "w.avi")], "write a .gif or an .mp4"),
    ]:
        assert message in one_line_error(capsys, ["interpolate", str(run), *args, "--out", out])


def test_class_sweep_and_translation_evolution(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from .test_paired_data import write_aligned
    from .test_pix2pix import tiny_cli

    cond = tmp_path / "cond"
    assert main(["train", "--out", str(cond), *tiny_overrides(**{"recipe": "cdcgan", "data.source": "builtin:pizza",
                                                                 "data.builtin_n": 32, "train.epochs": 1})]) == 0
    assert main(["interpolate", str(cond), "--seeds", "1,2", "--vary", "class", "--out", str(tmp_path / "c.png")]) == 0
    assert Image.open(tmp_path / "c.png").size == (5 * 18 + 2, 2 * 18 + 2)  # 5 topping classes, 2 seeds
    assert "--class K" in one_line_error(capsys, ["interpolate", str(cond), "--seeds", "1,2", "--out",
                                                  str(tmp_path / "x.png")])
    write_aligned(tmp_path / "pairs", 4, size=40)
    p2p = tmp_path / "p2p"
    assert main(["train", "--data", str(tmp_path / "pairs"), "--out", str(p2p),
                 *tiny_cli(**{"train.epochs": 3, "data.val_split": "none", "train.keep_checkpoints": 0})]) == 0
    strip, gif = tmp_path / "evo.png", tmp_path / "evo.gif"
    assert main(["interpolate", str(p2p), "--input", str(tmp_path / "pairs" / "000.png"), "--out", str(strip),
                 "--video", str(gif)]) == 0
    assert Image.open(gif).n_frames == 3  # one frame per epoch checkpoint
    assert Image.open(strip).size == (4 * (80 + 2) + 2, 40 + 4)  # input + 3 epochs, each at the input's 80x40
    assert "give --input IMAGE" in one_line_error(capsys, ["interpolate", str(p2p), "--out", str(strip)])

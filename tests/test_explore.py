"""Latent interpolation: lerp/slerp closed forms, the path through seeds, strips, GIF and MP4 loops, bad input."""

from __future__ import annotations

import json
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

from .conftest import tiny_overrides
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
def run(trained: Path) -> Path:
    return trained  # conftest's tiny run (1 epoch of 16 images)


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
    # 6 per pair, one row per pair, 16 px + padding; shown 4x (nearest neighbour): cells of 64 px
    assert Image.open(strip).size == (4 * (6 * 18 + 2), 4 * (2 * 18 + 2))
    assert Image.open(gif).n_frames == 3 * 9 and Image.open(gif).size == (128, 128)  # frames 8x: 128 px
    note = json.loads((tmp_path / "strip.png.json").read_text())
    assert note["seeds"] == [3, 17, 42] and note["mode"] == "slerp" and "3 → 17 → 42" in note["caption"]
    assert json.loads((tmp_path / "walk.gif.json").read_text())["caption"].startswith("loop 3 → 17 → 42 → 3: slerp")
    # the strip's first image is what `ganforge sample --seed 3` draws first
    assert main(["sample", str(run), "--n", "1", "--seed", "3", "--out", str(tmp_path / "one.png")]) == 0
    tile = np.asarray(Image.open(strip))[8:72, 8:72].astype(int)
    one = np.asarray(Image.open(tmp_path / "one.png"))[8:72, 8:72].astype(int)
    assert np.abs(tile - one).max() <= 1 and np.array_equal(tile[::4, ::4], tile[3::4, 3::4])  # 4x4 blocks
    assert main(["interpolate", str(run), "--seeds", "3,17", "--steps", "3", "--out", str(tmp_path / "native.png"),
                 "--scale", "1", "--video", str(tmp_path / "native.gif"), "--frames", "3"]) == 0
    assert Image.open(tmp_path / "native.png").size == (3 * 18 + 2, 18 + 2)  # --scale 1: native size
    assert Image.open(tmp_path / "native.gif").size == (16, 16)
    # a range names the same seeds as their list (as `sample --seeds` reads it)
    for name, seeds in (("range.png", "3-5"), ("list.png", "3,4,5")):
        assert main(["interpolate", str(run), "--seeds", seeds, "--steps", "3", "--scale", "1",
                     "--out", str(tmp_path / name)]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "range.png")), np.asarray(Image.open(tmp_path / "list.png")))
    assert Image.open(tmp_path / "range.png").size == (3 * 18 + 2, 2 * 18 + 2)  # two pairs: two rows
    assert main(["interpolate", str(run), "--seeds", "3,17", "--out", str(strip), "--video", str(mp4), "--frames",
                 "12", "--mode", "lerp"]) == 0
    import imageio.v2 as imageio

    reader = imageio.get_reader(mp4)
    assert reader.count_frames() == 2 * 11
    frame = reader.get_data(0)
    reader.close()
    assert frame.shape == (128, 128, 3) and frame.std() > 1  # 16 px frames shown 8x, not a black box


def test_bad_interpolation_input(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = str(tmp_path / "s.png")
    for args, message in [
        (["--seeds", "3"], "needs at least two seeds"),
        (["--seeds", "3,x"], "'x' is not a seed or a range"),
        (["--seeds", "0-300"], "names 301 seeds; a strip or sweep takes at most 256"),
        (["--seeds", "3,4", "--steps", "1"], "--steps must be >= 2"),
        (["--seeds", "3,4", "--video", str(tmp_path / "w.avi")], "write a .gif or an .mp4"),
        (["--seeds", "3,4", "--scale", "0"], "--scale must be >= 1 (1: native size); got 0"),
        (["--seeds", "3,4", "--scale", "2000"], "--scale 2000 would make a 292000x40000 px picture"),
    ]:
        assert message in one_line_error(capsys, ["interpolate", str(run), *args, "--out", out])


def test_class_sweep_and_translation_evolution(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from .test_paired_data import write_aligned
    from .test_pix2pix import tiny_cli

    cond = tmp_path / "cond"
    assert main(["train", "--out", str(cond), *tiny_overrides(**{"recipe": "cdcgan", "data.source": "builtin:pizza",
                                                                 "data.builtin_n": 32, "train.epochs": 1})]) == 0
    assert main(["interpolate", str(cond), "--seeds", "1,2", "--vary", "class", "--out", str(tmp_path / "c.png")]) == 0
    assert Image.open(tmp_path / "c.png").size == (4 * (5 * 18 + 2), 4 * (2 * 18 + 2))  # 5 topping classes, 2 seeds; 4x
    assert "one column per class (pepperoni, olive" in json.loads((tmp_path / "c.png.json").read_text())["caption"]
    assert "--class K" in one_line_error(capsys, ["interpolate", str(cond), "--seeds", "1,2", "--out",
                                                  str(tmp_path / "x.png")])
    write_aligned(tmp_path / "pairs", 4, size=40)
    p2p = tmp_path / "p2p"
    assert main(["train", "--data", str(tmp_path / "pairs"), "--out", str(p2p),
                 *tiny_cli(**{"train.epochs": 3, "data.val_split": "none", "train.keep_checkpoints": 0})]) == 0
    strip, gif = tmp_path / "evo.png", tmp_path / "evo.gif"
    assert main(["interpolate", str(p2p), "--input", str(tmp_path / "pairs" / "000.png"), "--out", str(strip),
                 "--video", str(gif)]) == 0
    assert Image.open(gif).n_frames == 3 and Image.open(gif).size == (4 * 80, 4 * 40)  # one frame per epoch checkpoint
    # input + 3 epochs, each at the input's 80x40, shown 2x (the shorter side 40 -> 80 px)
    assert Image.open(strip).size == (2 * (4 * (80 + 2) + 2), 2 * (40 + 4))
    note = json.loads((tmp_path / "evo.png.json").read_text())
    assert note["caption"] == "000.png, then its translation AtoB by each of the 3 epoch checkpoints"
    assert json.loads((tmp_path / "evo.gif.json").read_text())["caption"].startswith("000.png translated AtoB by each")
    assert "give --input IMAGE" in one_line_error(capsys, ["interpolate", str(p2p), "--out", str(strip)])

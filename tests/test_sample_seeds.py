"""``ganforge sample --seeds LIST`` (one image per seed, stylegan2-ada's generate.py convention) and the truncation
trick ``--trunc PSI`` / ``Model.generate(trunc=)``: the same images from the command and the API, every bad value a
one-line error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge.cli import main
from ganforge.data.images import save_grid
from ganforge.errors import GanforgeError
from ganforge.rng import Stream, seeded
from ganforge.sampling import parse_seeds, seed_inputs

from .test_api import to_uint8
from .test_cli import one_line_error


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 2-step DCGAN and a 2-step conditional DCGAN on 32 builtin pizza images at 16 px (a few seconds)."""
    root = tmp_path_factory.mktemp("seed_runs")
    small = ["--data", "builtin:pizza", "data.builtin_n=32", "data.image_size=16", "model.latent_dim=8", "model.g_width=4",
             "model.d_width=4", "train.batch_size=8", "train.steps=2", "train.progress=false", "train.tensorboard=false",
             "train.report=false"]
    for kind, preset in (("generator", "dcgan-pizza"), ("conditional", "cdcgan-cifar10")):
        assert main(["train", "--preset", preset, "--out", str(root / kind), *small]) == 0
    return {"generator": root / "generator", "conditional": root / "conditional"}


def png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path)).astype(int)


def close(a: np.ndarray, b: np.ndarray) -> bool:
    """The same image up to one grey level (a batch of many and a batch of one may round differently)."""
    return a.shape == b.shape and int(np.abs(a - b).max()) <= 1


def test_parse_seeds_ranges_and_lists() -> None:
    assert parse_seeds("0-3,7,10-12") == [0, 1, 2, 3, 7, 10, 11, 12]
    assert parse_seeds("0-35") == list(range(36))
    assert parse_seeds(" 42 ") == [42] and parse_seeds("5,3,5") == [5, 3, 5]  # the order given, repeats kept
    for bad, says in (("", "is empty"), ("x", "'x' is not a seed or a range"), ("5-2", "runs backwards; write 2-5"),
                      ("-3", "is not a seed"), ("1,,2", "is not a seed"), ("0-99999999999", "more than 1,000,000"),
                      (str(2**63), "out of range")):
        with pytest.raises(GanforgeError, match=says):
            parse_seeds(bad)


def test_seeds_write_one_png_per_seed_as_seed_n1_draws_it(runs: dict[str, Path], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    run = runs["generator"]
    assert main(["sample", str(run), "--seeds", "0-2,42", "--out", str(tmp_path / "seeds") + "/"]) == 0
    assert "wrote 4 images" in capsys.readouterr().err
    seeds = tmp_path / "seeds"
    assert sorted(p.name for p in seeds.iterdir()) == ["seed0000.png", "seed0001.png", "seed0002.png", "seed0042.png"]
    assert main(["sample", str(run), "--seed", "1", "--n", "1", "--out", str(tmp_path / "one") + "/"]) == 0
    assert close(png(seeds / "seed0001.png"), png(tmp_path / "one" / "sample_00000.png"))
    assert not close(png(seeds / "seed0001.png"), png(seeds / "seed0042.png"))
    # a grid: one cell per seed, in the order given
    assert main(["sample", str(run), "--seeds", "42,1", "--nrow", "2", "--out", str(tmp_path / "g.png")]) == 0
    cells = [torch.from_numpy(png(seeds / f"seed{s:04d}.png")).permute(2, 0, 1) / 127.5 - 1 for s in (42, 1)]
    save_grid(torch.stack(cells), tmp_path / "want.png", nrow=2)
    assert close(png(tmp_path / "g.png"), png(tmp_path / "want.png"))


def test_trunc_scales_the_latent_in_cli_and_api(runs: dict[str, Path], tmp_path: Path) -> None:
    run = runs["generator"]
    m = ganforge.load(run)
    z = m.recipe.sample_inputs(3, seeded(2, Stream.SAMPLE))["z"]
    x = m.generate(3, seed=2, trunc=0.5)
    assert torch.allclose(x, m.generate(z=0.5 * z), atol=1e-6)  # mean latent 0: z' = psi z
    assert torch.allclose(m.generate(z=z, trunc=0.5), x, atol=1e-6)  # a given z is truncated too
    assert not torch.allclose(x, m.generate(3, seed=2), atol=1e-3)
    assert torch.equal(m.generate(3, seed=2, trunc=1.0), m.generate(3, seed=2))
    assert main(["sample", str(run), "--seeds", "2", "--trunc", "0.5", "--out", str(tmp_path / "t") + "/"]) == 0
    assert close(png(tmp_path / "t" / "seed0002.png"), to_uint8(m.generate(1, seed=2, trunc=0.5)[0]).astype(int))
    assert main(["sample", str(run), "--n", "3", "--seed", "2", "--trunc", "0.5", "--out", str(tmp_path / "n") + "/"]) == 0
    assert close(png(tmp_path / "n" / "sample_00002.png"), to_uint8(x[2]).astype(int))
    for bad in (0, -0.5, 1.5, float("nan")):
        with pytest.raises(GanforgeError, match=r"psi must be in \(0, 1\]"):
            m.generate(2, trunc=bad)


def test_seeds_and_trunc_on_a_conditional_model(runs: dict[str, Path], tmp_path: Path) -> None:
    run = runs["conditional"]
    d = tmp_path / "c"
    assert main(["sample", str(run), "--seeds", "0-2", "--class", "olive", "--trunc", "0.7", "--out", str(d) + "/"]) == 0
    assert sorted(p.name for p in d.iterdir()) == ["seed0000.png", "seed0001.png", "seed0002.png"]
    m = ganforge.load(run)
    assert close(png(d / "seed0001.png"), to_uint8(m.generate(1, seed=1, labels="olive", trunc=0.7)[0]).astype(int))
    # without --class each seed draws its own latent and class, those of `--seed S --n 1`
    got = seed_inputs(m.recipe, [3, 4])
    for i, s in enumerate((3, 4)):
        one = m.recipe.sample_inputs(1, seeded(s, Stream.SAMPLE))
        assert torch.equal(got["z"][i], one["z"][0]) and int(got["y"][i]) == int(one["y"][0])
    assert not torch.equal(got["z"][0], got["z"][1])


def test_bad_seeds_and_trunc_are_one_line_errors(runs: dict[str, Path], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    run, out = str(runs["generator"]), str(tmp_path / "g.png")
    for args, says in ((["--seeds", "1-0"], "--seeds '1-0': the range '1-0' runs backwards"),
                       (["--seeds", "a,b"], "'a' is not a seed or a range"),
                       (["--seeds", "1,2", "--n", "3"], "give either --seeds or --seed/--n"),
                       (["--seeds", "1,2", "--seed", "3"], "give either --seeds or --seed/--n"),
                       (["--seeds", "0-2000"], "names 2001 images: a grid holds at most 1024"),
                       (["--trunc", "0"], r"--trunc 0.0: the truncation psi must be in (0, 1]"),
                       (["--trunc", "1.5"], "psi must be in (0, 1]"),
                       (["--trunc", "nan"], "psi must be in (0, 1]"),
                       (["--trunc", "x"], "argument --trunc: invalid float value: 'x'")):
        assert says in one_line_error(capsys, ["sample", run, *args, "--out", out]), args
    assert not Path(out).exists()


def test_toy_points_refuse_seeds_and_trunc(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "toy"
    assert main(["train", "recipe=mlp", "--data", "toy:ring", "train.steps=2", "--out", str(run), "model.latent_dim=4",
                 "model.g_hidden=8", "model.d_hidden=8", "train.batch_size=8", "model.eval_points=64",
                 "train.progress=false", "train.tensorboard=false", "train.report=false"]) == 0
    out = str(tmp_path / "p.csv")
    assert "draws 2-D points; the truncation trick applies to image generators" in one_line_error(
        capsys, ["sample", str(run), "--trunc", "0.7", "--out", out])
    assert "--seeds: mlp draws 2-D points" in one_line_error(capsys, ["sample", str(run), "--seeds", "0-3", "--out", out])
    with pytest.raises(GanforgeError, match="2-D points"):
        ganforge.load(run).generate(4, trunc=0.7)
    assert main(["sample", str(run), "--n", "16", "--out", out]) == 0  # the plain form still works

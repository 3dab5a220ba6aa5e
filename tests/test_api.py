"""The Python API (ganforge.load -> Model): the same images as the commands, every model kind, its errors, and the
README's snippet run as written."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge.cli import main
from ganforge.errors import GanforgeError


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [-1, 1] -> the HxWxC uint8 array a PNG of it holds (the writers' rounding)."""
    arr = (x.clamp(-1, 1).add(1).div(2) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy()
    return arr[:, :, 0] if arr.shape[2] == 1 else arr


def test_facts_of_every_kind(kind_runs: dict[str, Path]) -> None:
    g, c, p, cy = (ganforge.load(kind_runs[k]) for k in ("generator", "conditional", "pix2pix", "cyclegan"))
    assert (g.kind, g.latent_dim, g.classes, g.image_size, g.channels, g.directions) == ("generator", 8, None, 16, 3, ())
    assert c.kind == "conditional" and c.classes == ("pepperoni", "olive", "basil", "mushroom", "pepper")
    assert (p.kind, p.latent_dim, p.directions, p.image_size) == ("translator", None, ("AtoB",), 64)
    assert cy.directions == ("AtoB", "BtoA") and g.step == 4 and "dcgan" in repr(g)
    with pytest.raises(GanforgeError, match="no checkpoint"):
        ganforge.load(kind_runs["generator"] / "nothing")


def test_generate_is_what_sample_writes(kind_runs: dict[str, Path], tmp_path: Path) -> None:
    run = kind_runs["generator"]
    m = ganforge.load(run)
    x = m.generate(5, seed=3)
    assert x.shape == (5, 3, 16, 16) and x.dtype == torch.float32 and float(x.abs().max()) <= 1
    assert torch.equal(x, m.generate(5, seed=3)) and not torch.equal(x, m.generate(5, seed=4))
    assert main(["sample", str(run), "--n", "5", "--seed", "3", "--out", str(tmp_path / "each") + "/"]) == 0
    for i in range(5):
        assert np.array_equal(np.asarray(Image.open(tmp_path / "each" / f"sample_{i:05d}.png")), to_uint8(x[i]))
    # explicit z: the seed's own latent gives the seed's image; images as Pillow
    z = torch.randn(2, 8)
    assert torch.allclose(m.generate(z=z), m.generate(z=z.numpy()))
    imgs = m.generate_images(2, seed=3)
    assert [im.size for im in imgs] == [(16, 16)] * 2 and np.array_equal(np.asarray(imgs[1]), to_uint8(x[1]))
    with pytest.raises(GanforgeError, match=r"z must be \(N, 8\)"):
        m.generate(z=torch.randn(2, 7))
    with pytest.raises(GanforgeError, match="unconditional"):
        m.generate(2, labels=1)
    with pytest.raises(GanforgeError, match="n must be >= 1"):
        m.generate(0)


def test_interpolate_ends_at_the_seeds_images(kind_runs: dict[str, Path]) -> None:
    m = ganforge.load(kind_runs["generator"])
    strip = m.interpolate(3, 7, steps=5)
    assert strip.shape == (5, 3, 16, 16)
    assert torch.allclose(strip[0], m.generate(1, seed=3)[0], atol=1e-5)
    assert torch.allclose(strip[-1], m.generate(1, seed=7)[0], atol=1e-5)
    assert not torch.allclose(strip[2], strip[0])
    with pytest.raises(GanforgeError, match="slerp, lerp"):
        m.interpolate(1, 2, mode="cubic")


def test_conditional_labels_by_name_or_index(kind_runs: dict[str, Path]) -> None:
    m = ganforge.load(kind_runs["conditional"])
    a = m.generate(4, seed=1, labels="basil")
    assert torch.equal(a, m.generate(4, seed=1, labels=2))
    assert torch.equal(a, m.generate(4, seed=1, labels=[2, 2, 2, 2]))
    assert not torch.equal(a, m.generate(4, seed=1, labels=0))
    assert m.interpolate(0, 1, 3, label="olive").shape == (3, 3, 16, 16)
    with pytest.raises(GanforgeError, match="out of range"):
        m.generate(2, labels=9)
    with pytest.raises(GanforgeError, match="2 given for 3"):
        m.generate(3, labels=[0, 1])
    with pytest.raises(GanforgeError, match="give --class"):
        m.interpolate(0, 1)


def test_translate_pil_and_tensor_any_size(kind_runs: dict[str, Path], tmp_path: Path) -> None:
    m = ganforge.load(kind_runs["cyclegan"])
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 45, 3), dtype=np.uint8))
    for direction in ("AtoB", "BtoA"):
        out = m.translate(img, direction)
        assert out.size == (45, 30) and out.mode == "RGB"
    x = torch.rand(3, 24, 40) * 2 - 1
    y = m.translate(x, "BtoA", fit="pad")
    assert y.shape == (3, 24, 40) and m.translate(x[None], "BtoA", fit="pad").shape == (1, 3, 24, 40)
    # the command writes what the API returns
    img.save(tmp_path / "in.png")
    assert main(["translate", str(kind_runs["cyclegan"]), "--input", str(tmp_path / "in.png"), "--out",
                 str(tmp_path / "out"), "--direction", "BtoA"]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "in.png")), np.asarray(m.translate(img, "BtoA")))
    with pytest.raises(GanforgeError, match="AtoB and BtoA only"):
        m.translate(img, "CtoD")
    with pytest.raises(GanforgeError, match=r"\(3, H, W\)"):
        m.translate(torch.zeros(2, 8, 8))
    with pytest.raises(GanforgeError, match="does not translate"):
        ganforge.load(kind_runs["generator"]).translate(img)
    with pytest.raises(GanforgeError, match="cyclegan translates images"):
        m.generate(1)


def test_pix2pix_dropout_as_configured_or_off(kind_runs: dict[str, Path]) -> None:
    m = ganforge.load(kind_runs["pix2pix"])
    x = torch.rand(2, 1, 64, 64) * 2 - 1
    assert m.recipe.cfg.model.test_dropout  # the paper's test-time dropout: outputs vary with the seed
    assert torch.equal(m.translate(x, seed=1), m.translate(x, seed=1))
    assert not torch.equal(m.translate(x, seed=1), m.translate(x, seed=2))
    off = m.translate(x, dropout=False, seed=1)
    assert torch.equal(off, m.translate(x, dropout=False, seed=2))
    assert m.recipe.cfg.model.test_dropout  # restored
    ex = m.examples(3)
    assert set(ex) == {"AtoB"} and ex["AtoB"].shape == (3, 1, 64, 64)


def test_to_device(kind_runs: dict[str, Path]) -> None:
    m = ganforge.load(kind_runs["generator"]).to("cpu")
    assert m.device == torch.device("cpu") and m.generate(1).shape == (1, 3, 16, 16)


def test_the_readme_snippet_runs_as_written(kind_runs: dict[str, Path], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("## Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code, "the README's Python API section has a python block"
    shutil.copytree(kind_runs["generator"], tmp_path / "runs" / "demo")
    monkeypatch.chdir(tmp_path)
    exec(compile(code.group(1), "README.md", "exec"), {})  # noqa: S102 - our own README
    assert (tmp_path / "runs" / "first.png").is_file()

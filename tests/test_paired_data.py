"""Paired data (pix2pix): aligned A|B files, A/ B/ folders, derived pairs, splits, the shared jitter, bad input."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.config import DataConfig
from ganforge.data.loader import Data
from ganforge.data.paired import edge_map, open_pairs, split_items
from ganforge.errors import GanforgeError

from .conftest import SHARED

CPU = torch.device("cpu")


def write_aligned(folder: Path, n: int, size: int = 40, height: int | None = None, seed: int = 0,
                  start: int = 0) -> list[Path]:
    """A|B pairs where B is the colour negative of A (so any crop/flip mismatch between them shows)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + n):
        a = rng.integers(0, 256, (height or size, size, 3), dtype=np.uint8)
        p = folder / f"{i:03d}.png"
        Image.fromarray(np.concatenate([a, 255 - a], axis=1)).save(p)
        paths.append(p)
    return paths


def cfg(source: Path | str, **kw: object) -> DataConfig:
    base = dict(source=str(source), image_size=32, load_size=40, crop="random", flip=True, resize="stretch",
                cache=False)
    base.update(kw)
    return DataConfig(**base)  # type: ignore[arg-type]


def test_same_random_crop_and_flip_for_input_and_target(tmp_path: Path) -> None:
    write_aligned(tmp_path / "train", 8)
    data = Data(cfg(tmp_path, val_split="none"), 8, seed=0, device=CPU, kind="pairs")
    assert data.input_channels == 3 and data.n == 8
    crops = set()
    for step, batch in zip(range(4), data.batches()):
        assert batch.image.shape == batch.target.shape == (8, 3, 32, 32)
        # B = 255 - A pixelwise, so after the SAME crop and flip: target == -input on the [-1, 1] scale
        torch.testing.assert_close(batch.target, -batch.image, atol=1e-6, rtol=0)
        crops.update(tuple(x) for x in batch.image[:, 0, 0, :3].tolist())
    assert len(crops) > 8  # the crops really are random (not all the top-left corner)


def test_direction_swaps_input_and_target(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 100, (32, 32, 3), dtype=np.uint8)  # dark A, bright B
    (tmp_path / "train").mkdir()
    Image.fromarray(np.concatenate([a, a + 150], axis=1)).save(tmp_path / "train" / "p.png")
    for direction, dark_input in (("AtoB", True), ("BtoA", False)):
        c = cfg(tmp_path, load_size=0, flip=False, val_split="none", direction=direction)
        b = next(Data(c, 1, 0, CPU, kind="pairs").batches())
        assert (b.image.mean() < b.target.mean()) == dark_input


def test_ab_folders_match_by_name_and_mismatch_is_listed(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    for name in ("x", "y", "z"):
        a = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        for d, img in (("A", a), ("B", 255 - a)):
            (tmp_path / d / "train").mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(tmp_path / d / "train" / f"{name}.png")
    c = cfg(tmp_path, load_size=0, val_split="none")
    batch = next(Data(c, 3, 0, CPU, kind="pairs").batches())
    torch.testing.assert_close(batch.target, -batch.image, atol=1e-6, rtol=0)
    assert "folders pairs" in open_pairs(c).description
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "A" / "train" / "extra.png")
    (tmp_path / "B" / "train" / "y.png").rename(tmp_path / "B" / "train" / "w.png")
    with pytest.raises(GanforgeError, match=r"file names do not match: only in .*A/train: extra, y \(2\); only in "
                                            r".*B/train: w \(1\)"):
        open_pairs(c)


def test_splits_and_holdout_never_train_on_validation_pairs(tmp_path: Path) -> None:
    write_aligned(tmp_path / "train", 6)
    write_aligned(tmp_path / "test", 2, start=100)
    train, _, mode = split_items(cfg(tmp_path), "train")
    val, where, _ = split_items(cfg(tmp_path), "val")
    assert mode == "aligned" and len(train) == 6 and [p.parent.name for p in val] == ["test", "test"]
    assert "[test]" in where
    flat = tmp_path / "flat"
    write_aligned(flat, 20)
    write_aligned(flat / "test", 3, start=50)  # a test folder inside a flat folder is never trained on
    train, _, _ = split_items(cfg(flat), "train")
    val, where, _ = split_items(cfg(flat), "val")
    assert len(val) == 3 and "[test]" in where and all(p.parent == flat for p in train) and len(train) == 20
    train, _, _ = split_items(cfg(flat, val_split="none"), "train")
    assert len(train) == 20
    (flat / "test" / "050.png").unlink(), (flat / "test" / "051.png").unlink(), (flat / "test" / "052.png").unlink()
    (flat / "test").rmdir()
    train, _, _ = split_items(cfg(flat), "train")
    val, where, _ = split_items(cfg(flat), "val")
    assert len(val) == 2 and "held out: last 2" in where  # 10% of 20
    assert not set(train) & set(val) and len(train) == 18
    with pytest.raises(GanforgeError, match="data.val_split 'nope' does not exist"):
        split_items(cfg(flat, val_split="nope"), "val")


def test_colorize_and_edges_derive_the_input(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    (tmp_path / "imgs").mkdir()
    img = np.zeros((40, 40, 3), np.uint8)
    img[10:30, 10:30] = rng.integers(100, 256, 3)  # a coloured square on black
    Image.fromarray(img).save(tmp_path / "imgs" / "sq.png")
    c = cfg(tmp_path / "imgs", pairs="colorize", input_channels=1, load_size=0, flip=False, val_split="none")
    b = next(Data(c, 1, 0, CPU, kind="pairs").batches())
    assert b.image.shape == (1, 1, 32, 32) and b.target.shape == (1, 3, 32, 32)
    lum = (0.299 * b.target[:, 0] + 0.587 * b.target[:, 1] + 0.114 * b.target[:, 2])
    assert (b.image[:, 0] - lum).abs().max() < 0.02
    e = cfg(tmp_path / "imgs", pairs="edges", load_size=0, flip=False, val_split="none")
    b = next(Data(e, 1, 0, CPU, kind="pairs").batches())
    assert b.image.shape == (1, 3, 32, 32)
    assert set(b.image.unique().tolist()) == {-1.0, 1.0}  # black lines on white
    edges = np.asarray(edge_map(Image.fromarray(img))) == 0
    assert edges[10, 20] and edges[20, 10] and not edges[20, 20] and not edges[2, 2]  # the square's outline only
    assert not (np.asarray(edge_map(Image.new("RGB", (20, 20), (90, 30, 200)))) == 0).any()  # flat: no edges


def test_builtin_pairs(tmp_path: Path) -> None:
    c = DataConfig(source="builtin:pizza", pairs="colorize", input_channels=1, image_size=16, builtin_n=8)
    b = next(Data(c, 4, 0, CPU, kind="pairs").batches())
    assert b.image.shape == (4, 1, 16, 16) and b.target.shape == (4, 3, 16, 16)
    val = Data(dataclasses.replace(c, limit=5), 1, 0, CPU, kind="pairs", part="val")
    assert val.n == 5 and not torch.equal(next(val.ordered(4)).target, b.target)
    with pytest.raises(GanforgeError, match="builtin data gives pairs with data.pairs=colorize or edges"):
        Data(dataclasses.replace(c, pairs="aligned"), 4, 0, CPU, kind="pairs")


def test_bad_pairs_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "odd").mkdir()
    Image.new("RGB", (41, 20)).save(tmp_path / "odd" / "o.png")
    with pytest.raises(GanforgeError, match=r"aligned A\|B image .*o.png \(41x20\) has an odd width"):
        open_pairs(cfg(tmp_path / "odd", val_split="none"))
    write_aligned(tmp_path / "small", 2, size=24)
    with pytest.raises(GanforgeError, match=r"is 24x24 per half, smaller than the crop data.image_size=32"):
        open_pairs(cfg(tmp_path / "small", resize="none", load_size=0, val_split="none"))
    with pytest.raises(GanforgeError, match="facades is not downloaded: run `ganforge data fetch facades`"):
        open_pairs(cfg("facades"))


def test_non_square_halves_warn_and_are_resized(tmp_path: Path) -> None:
    write_aligned(tmp_path / "ns", 3, size=40, height=28)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = Data(cfg(tmp_path / "ns", val_split="none"), 3, 0, CPU, kind="pairs")
    assert any("3 aligned pair(s) have non-square halves" in str(w.message) for w in caught)
    b = next(data.batches())
    assert b.image.shape == (3, 3, 32, 32)
    assert (b.target + b.image).abs().max() < 0.05  # resized the same way: still negatives (up to rounding)


@pytest.mark.skipif(not (SHARED / "people_outline_train").is_dir(), reason="shared data missing")
def test_real_pairs_people_outline_and_facades() -> None:
    c = cfg(SHARED / "people_outline_train", image_size=64, load_size=72)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its halves are 256xH, H <= 256
        data = Data(c, 4, 0, CPU, kind="pairs")
        val = Data(dataclasses.replace(c, load_size=0, flip=False, crop="center"), 1, 0, CPU, kind="pairs", part="val")
    assert data.n == 90 and val.n == 10  # 100 pairs, the last 10% held out
    b = next(data.batches())
    assert b.image.shape == b.target.shape == (4, 3, 64, 64)
    # photo | outline: the outline (target) is mostly white, the photo less so
    assert b.target.mean() > b.image.mean()
    facades = SHARED / "tiny_pix2pix_cyclegan_samples" / "paired"
    fc = cfg(facades, image_size=64, load_size=72, direction="BtoA")
    assert Data(fc, 2, 0, CPU, kind="pairs").n == 2
    v = Data(dataclasses.replace(fc, load_size=0), 1, 0, CPU, kind="pairs", part="val")
    assert v.n == 2 and "[test]" in v.description

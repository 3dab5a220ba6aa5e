"""ganforge data prepare: decoded once into memory-mapped uint8 shards, read back (in memory and streamed) with the
pixels and labels the source gives; damaged or foreign folders are one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.config import DataConfig
from ganforge.data import prepared
from ganforge.data.loader import Data

from .conftest import tiny_overrides, write_images

CPU = torch.device("cpu")


def test_prepared_pixels_and_labels_equal_the_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture) -> None:
    for c in ("cats", "dogs"):
        write_images(tmp_path / "src" / c, 7, size=(30, 22), seed=len(c))
    monkeypatch.setattr(prepared, "SHARD", 5)  # several shards
    assert main(["data", "prepare", str(tmp_path / "src"), "--out", str(tmp_path / "p"), "--size", "16"]) == 0
    assert "prepared 14 images of 16 px in 3 shard(s)" in capsys.readouterr().err
    index = json.loads((tmp_path / "p" / "index.json").read_text())
    assert index["count"] == 14 and index["class_names"] == ["cats", "dogs"] and index["preprocessing"]["resize"] == "shorter"
    want = Data(DataConfig(source=str(tmp_path / "src"), image_size=16, channels=3, in_memory="yes"), 2, 0, CPU)
    mem = Data(DataConfig(source=str(tmp_path / "p"), image_size=16, channels=3, in_memory="yes"), 2, 0, CPU)
    assert torch.equal(mem.images, want.images) and torch.equal(mem.labels, want.labels)
    assert mem.class_names == ("cats", "dogs") and "prepared" in mem.description
    stream = Data(DataConfig(source=f"prepared:{tmp_path / 'p'}", image_size=16, channels=3, in_memory="no", workers=2),
                  2, 0, CPU)
    got = torch.cat([b.image for b in stream.ordered(7, 14)])
    assert torch.allclose(got, want.images.float() / 127.5 - 1, atol=1e-6)
    # the shards are plain .npy: read without pickle, memory-mapped
    shard = np.load(tmp_path / "p" / "shard_00000.npy", mmap_mode="r", allow_pickle=False)
    assert shard.shape == (5, 16, 16, 3) and shard.dtype == np.uint8
    # a run trains from it, at the prepared size or resized to another load size
    capsys.readouterr()
    assert main(["train", "--data", str(tmp_path / "p"), "--out", str(tmp_path / "run"),
                 *tiny_overrides(**{"data.in_memory": "no"})]) == 0
    assert "streamed by 2 worker(s) (data.in_memory=no)" in capsys.readouterr().err  # the start line says so
    small = Data(DataConfig(source=str(tmp_path / "p"), image_size=8, load_size=8, channels=3, in_memory="no"), 2, 0, CPU)
    assert next(small.ordered(2, 2)).image.shape == (2, 3, 8, 8)


def test_prepare_refusals_and_damage(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_images(tmp_path / "src", 4)
    assert main(["data", "prepare", str(tmp_path / "src"), "--out", str(tmp_path / "p"), "--size", "8"]) == 0
    capsys.readouterr()
    cases = [(["data", "prepare", str(tmp_path / "src"), "--out", str(tmp_path / "p"), "--size", "8"], "is not empty"),
             (["data", "prepare", str(tmp_path / "src"), "--out", str(tmp_path / "q"), "--size", "2"], "--size 2"),
             (["data", "prepare", "toy:ring", "--out", str(tmp_path / "t"), "--size", "8"], "takes image data")]
    for argv, says in cases:
        assert main(argv) == 2 and says in capsys.readouterr().err
    (tmp_path / "p" / "shard_00000.npy").write_bytes(b"junk")
    prepared._MAPS.clear()
    assert main(["train", "--data", f"prepared:{tmp_path / 'p'}", "--out", str(tmp_path / "r"), *tiny_overrides()]) == 2
    assert "is damaged" in capsys.readouterr().err
    (tmp_path / "p" / "index.json").write_text(json.dumps({"format": "other"}))
    assert main(["train", "--data", f"prepared:{tmp_path / 'p'}", "--out", str(tmp_path / "r"), *tiny_overrides()]) == 2
    assert "is not the index of a prepared data set" in capsys.readouterr().err

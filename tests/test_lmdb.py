"""lmdb:PATH (LSUN's format): a small LMDB of webp/jpeg/png bytes written by the test, read in memory and streamed
by DataLoader workers, the same pixels as the image files; bad databases are one-line errors."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.config import DataConfig
from ganforge.data.loader import Data
from ganforge.errors import GanforgeError

from .conftest import tiny_overrides

lmdb = pytest.importorskip("lmdb")


def write_lmdb(path: Path, n: int, fmt: str = "WEBP", size: tuple[int, int] = (24, 20)) -> list[np.ndarray]:
    """n images as LSUN stores them: key = an id, value = the encoded file; returns the decoded pixels."""
    rng = np.random.default_rng(0)
    env = lmdb.open(str(path), map_size=64 * 2**20)
    pixels = []
    with env.begin(write=True) as txn:
        for i in range(n):
            arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
            buf = io.BytesIO()
            Image.fromarray(arr).save(buf, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
            txn.put(f"{i:06d}".encode(), buf.getvalue())
            pixels.append(np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")))
    env.close()
    return pixels


def test_in_memory_and_streamed_read_the_same_pixels(tmp_path: Path) -> None:
    db = tmp_path / "bedroom_train_lmdb"
    pixels = write_lmdb(db, 10)
    cfg = DataConfig(source=f"lmdb:{db}", image_size=16, channels=3, resize="stretch", flip=False, in_memory="yes")
    mem = Data(cfg, 5, 0, torch.device("cpu"))
    assert mem.n == 10 and mem.images.shape == (10, 3, 16, 16) and "lmdb" in mem.description
    want = np.asarray(Image.fromarray(pixels[3]).resize((16, 16), Image.Resampling.BICUBIC))
    assert np.abs(mem.images[3].permute(1, 2, 0).numpy().astype(int) - want.astype(int)).max() <= 1
    cfg_stream = DataConfig(source=str(db), image_size=16, channels=3, resize="stretch", flip=False, in_memory="no",
                            workers=2)  # a bare path with data.mdb is recognised
    stream = Data(cfg_stream, 5, 0, torch.device("cpu"))
    got = torch.cat([b.image for b in stream.ordered(5, 10)])
    assert torch.allclose(got, mem.images.float() / 127.5 - 1, atol=1e-6)
    limited = Data(DataConfig(source=f"lmdb:{db}/data.mdb", image_size=16, channels=3, limit=4), 2, 0, torch.device("cpu"))
    assert limited.n == 4


def test_train_from_an_lmdb_and_bad_databases(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    db = tmp_path / "db"
    write_lmdb(db, 16, fmt="JPEG")
    assert main(["train", "--data", f"lmdb:{db}", "--out", str(tmp_path / "run"), *tiny_overrides(**{"train.epochs": 1})]) == 0
    assert "training dcgan on lmdb" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    lmdb.open(str(tmp_path / "empty")).close()
    (tmp_path / "nodb").mkdir()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "data.mdb").write_bytes(b"not an lmdb" * 100)
    for spec, says in ((f"lmdb:{tmp_path / 'empty'}", "holds no entries"), (f"lmdb:{tmp_path / 'nodb'}", "no data.mdb"),
                       (f"lmdb:{tmp_path / 'missing'}", "does not exist"),
                       (f"lmdb:{tmp_path / 'junk'}", "cannot be read as an LMDB environment")):
        assert main(["train", "--data", spec, "--out", str(tmp_path / "x"), *tiny_overrides()]) == 2, spec
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1, err
    with pytest.raises(GanforgeError, match="needs a path"):
        Data(DataConfig(source="lmdb:", image_size=16), 2, 0, torch.device("cpu"))

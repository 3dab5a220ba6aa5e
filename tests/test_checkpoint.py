"""Checkpoints: one weights_only file, atomic writes, recipe checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganforge import checkpoint
from ganforge.errors import GanforgeError


def payload(**extra: object) -> dict:
    """What every checkpoint holds (checkpoint.REQUIRED), with placeholder values."""
    return {"recipe": "dcgan", "config": {}, "state": {}, "data_info": {}, "step": 1, "epoch": 1, **extra}


def test_round_trip_with_weights_only(tmp_path: Path) -> None:
    p = tmp_path / "c.pt"
    checkpoint.save(p, payload(step=3, rng=checkpoint.rng_state(), x=torch.arange(3)))
    raw = torch.load(p, weights_only=True)  # the contract: no code is pickled
    assert raw["step"] == 3 and raw["format_version"] == checkpoint.FORMAT_VERSION
    assert torch.equal(checkpoint.load(p)["x"], torch.arange(3))


def test_failure_while_writing_keeps_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "last.pt"
    checkpoint.save(p, payload(step=1))

    def broken_save(obj, f, *a, **k):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(p, payload(step=2))
    monkeypatch.undo()
    assert checkpoint.load(p)["step"] == 1
    assert [f.name for f in tmp_path.iterdir()] == ["last.pt"]  # no temp file left behind


def test_rng_state_restores_the_stream() -> None:
    state = checkpoint.rng_state()
    a = torch.rand(3)
    checkpoint.set_rng_state(state)
    assert torch.equal(torch.rand(3), a)


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(GanforgeError, match="no checkpoint at"):
        checkpoint.load(tmp_path / "missing.pt")
    with pytest.raises(GanforgeError, match="no last.pt"):
        checkpoint.load(tmp_path)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(GanforgeError, match="junk.pt is not a ganforge checkpoint or is damaged") as e:
        checkpoint.load(tmp_path / "junk.pt")
    assert "weights_only" not in str(e.value)
    torch.save({"a": 1}, tmp_path / "plain.pt")
    with pytest.raises(GanforgeError, match="not a ganforge checkpoint"):
        checkpoint.load(tmp_path / "plain.pt")
    checkpoint.save(tmp_path / "p2p.pt", payload(recipe="pix2pix"))
    with pytest.raises(GanforgeError, match="written by recipe 'pix2pix'; expected 'dcgan'"):
        checkpoint.load(tmp_path / "p2p.pt", expect_recipe="dcgan")

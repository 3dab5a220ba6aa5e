"""Data-parallel training under torchrun (gloo on CPU, 2 processes): the shards, the global-batch draws, the
equivalence of a 2-process run with per-rank batch b and a 1-process run with batch 2b, rank-0-only writing,
and resume of a 2-process checkpoint in one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ganforge import checkpoint
from ganforge.cli import main
from ganforge.config import DataConfig
from ganforge.data.loader import Data
from ganforge.distributed import World
from ganforge.errors import GanforgeError

CPU = torch.device("cpu")


def torchrun(*args: str, nproc: int = 2) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
                           "-m", "ganforge", *args], capture_output=True, text=True, timeout=300, env=env)


def rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


# --------------------------------------------------------------------------------------------------
# In one process: the pieces


@pytest.mark.parametrize("in_memory", ["yes", "no"])
def test_rank_shards_make_up_the_global_batch(tmp_path: Path, in_memory: str) -> None:
    """Rank r's batch is the r-th slice of what one process with the global batch gets: same images, same
    crops and flips, in every step of every epoch."""
    from tests.conftest import write_images

    write_images(tmp_path / "imgs", 24, size=(20, 20))
    cfg = DataConfig(source=str(tmp_path / "imgs"), image_size=16, crop="random", flip=True, in_memory=in_memory,
                     cache=False, workers=0)
    one = Data(cfg, 8, 3, CPU).batches(1)  # from step 1: resumed streams shard alike
    ranks = [Data(cfg, 8, 3, CPU, shard=(r, 2)).batches(1) for r in range(2)]
    for _ in range(5):  # crosses the epoch boundary (3 steps per epoch)
        full = next(one).image
        parts = [next(r).image for r in ranks]
        assert all(p.shape[0] == 4 for p in parts)
        assert torch.equal(torch.cat(parts), full)


def test_global_batch_must_divide() -> None:
    with pytest.raises(GanforgeError, match="batch_size=8 .* not divisible by the 3 processes"):
        Data(DataConfig(builtin_n=32), 8, 0, CPU, shard=(0, 3))


def test_noise_is_the_slice_of_the_global_draw(monkeypatch: pytest.MonkeyPatch) -> None:
    from ganforge.configure import resolve
    from ganforge.recipes.base import DataInfo
    from ganforge.recipes import RECIPES

    cfg = resolve([{"recipe": "mlp", "model": {"g_hidden": [4], "d_hidden": [4]}}])
    r = RECIPES.get("mlp")(cfg, DataInfo(1, 8), CPU)
    state = r.noise_gen.get_state()
    full = r.randn(6, 3)
    r.world = World(rank=1, size=2)
    r.noise_gen.set_state(state)
    torch.manual_seed(5)  # the default generator (dropout's, seeded per rank) plays no part
    part = r.randn(3, 3)
    assert torch.equal(part, full[3:])
    assert not torch.equal(r.noise_gen.get_state(), state)  # the draws came from the recipe's generator


# --------------------------------------------------------------------------------------------------
# torchrun, 2 processes


TINY_MLP = ["recipe=mlp", "model.g_hidden=[32]", "model.d_hidden=[32]", "model.g_batchnorm=false", "model.latent_dim=8",
            "model.n_critic=2", "data.source=builtin:pizza", "data.builtin_n=48", "data.channels=1", "data.image_size=12",
            "data.load_size=14", "data.crop=random", "data.flip=true", "train.epochs=2", "train.log_every=2",
            "train.precision=fp32", "train.progress=false", "train.tensorboard=false", "train.report=false",
            "train.n_samples=4"]


def test_two_processes_with_batch_b_match_one_process_with_batch_2b(tmp_path: Path) -> None:
    """The same data, draws and averaged gradients: after 12 steps (6 of them G steps, n_critic 2) the weights
    of a 2-process run with per-rank batch 4 equal a 1-process run's with batch 8 to 1e-5 (float32 sums in
    another order are all that differ; the MLP has no BatchNorm, whose per-rank statistics would differ)."""
    two = torchrun("train", "--out", str(tmp_path / "two"), *TINY_MLP, "train.batch_size=8")
    assert two.returncode == 0, two.stderr[-3000:]
    assert main(["train", "--out", str(tmp_path / "one"), *TINY_MLP, "train.batch_size=8"]) == 0
    a, b = checkpoint.load(tmp_path / "two" / "last.pt"), checkpoint.load(tmp_path / "one" / "last.pt")
    assert a["step"] == b["step"] == 12
    for net in ("g", "d"):
        for k, v in b["state"]["nets"][net].items():
            assert torch.allclose(a["state"]["nets"][net][k], v, atol=1e-5, rtol=1e-4), (net, k)
    # rank 0 alone wrote the logs: one row per logging step, the means over both ranks
    ra, rb = rows(tmp_path / "two"), rows(tmp_path / "one")
    assert [r["step"] for r in ra] == [r["step"] for r in rb]
    for x, y in zip(ra, rb):
        for k in ("loss_d", "loss_g", "d_real", "d_fake"):
            if k in y:
                assert x[k] == pytest.approx(y[k], rel=1e-4, abs=1e-6), (x["step"], k)
    facts = json.loads((tmp_path / "two" / "run.json").read_text())
    assert facts["world_size"] == 2 and facts["batch_per_rank"] == 4
    assert sorted(p.name for p in (tmp_path / "two" / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png"]


def test_cyclegan_pools_per_rank_and_resume_in_one_process(tmp_path: Path) -> None:
    """CycleGAN's four networks and per-rank image pools under torchrun; the checkpoint holds both ranks' pools
    and continues in a single process (another world size)."""
    run = tmp_path / "cg"
    args = ["recipe=cyclegan", "model.generator=resnet_6blocks", "model.g_width=4", "model.d_width=4",
            "model.d_layers=2", "model.pool_size=3", "data.image_size=16", "data.load_size=20", "data.builtin_n=8",
            "train.batch_size=2", "train.epochs=1", "optim.decay_epochs=0", "train.log_every=2", "train.n_samples=2",
            "train.progress=false", "train.tensorboard=false", "train.report=false"]
    r = torchrun("train", "--out", str(run), *args)
    assert r.returncode == 0, r.stderr[-3000:]
    ck = checkpoint.load(run / "last.pt")
    assert ck["step"] == 4 and len(ck["rank_states"]) == 2
    for state in ck["rank_states"]:  # 4 steps of 1 image per rank: each pool holds 3 of that rank's fakes
        assert state["pools"]["a"].shape == (3, 3, 16, 16)
    assert not torch.equal(ck["rank_states"][0]["pools"]["a"], ck["rank_states"][1]["pools"]["a"])
    # each rank's own random stream (dropout, pool choices) is saved, and they differ
    assert not torch.equal(ck["rank_states"][0]["rng"]["torch"], ck["rank_states"][1]["rng"]["torch"])
    assert main(["resume", str(run), "train.epochs=2"]) == 0
    assert checkpoint.load(run / "last.pt")["step"] == 8
    assert [row["step"] for row in rows(run)] == [2, 4, 6, 8]


def test_pix2pix_validates_on_rank_0_only(tmp_path: Path) -> None:
    """pix2pix under torchrun: held-out pairs are scored once per epoch (by rank 0) and the grid is written."""
    run = tmp_path / "p2p"
    args = ["recipe=pix2pix", "model.generator=unet_32", "model.g_width=4", "model.d_width=4", "model.d_layers=2",
            "data.source=builtin:pizza", "data.pairs=edges", "data.builtin_n=40", "data.image_size=32", "data.load_size=36",
            "train.batch_size=4", "train.epochs=1", "optim.decay_epochs=0", "train.val_images=4", "train.n_samples=2",
            "train.log_every=3", "train.progress=false", "train.tensorboard=false", "train.report=false"]
    r = torchrun("train", "--out", str(run), *args)
    assert r.returncode == 0, r.stderr[-3000:]
    logged = rows(run)
    assert [row["step"] for row in logged if "val_psnr" in row] == [10]  # 40 pairs // global batch 4: one epoch
    assert checkpoint.load(run / "last.pt")["step"] == 10 and (run / "samples" / "epoch_001.png").is_file()

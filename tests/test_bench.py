"""``ganforge bench``: the rows it writes, FLOPs against a hand count, bad input. No test asserts a duration."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest

from ganforge import bench
from ganforge.cli import main


def test_cli_writes_rows_and_environment(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """End to end through the default worker process: one row per configuration, with the asked size and batch."""
    out = tmp_path / "bench.json"
    argv = ["bench", "--recipe", "dcgan", "--configs", "small", "--size", "32", "--batch", "4", "--steps", "2",
            "--warmup", "1", "--precision", "fp32", "--json", str(out)]
    assert main(argv) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:5] == ["recipe", "config", "size", "batch", "precision"]
    assert table[1].split()[:5] == ["dcgan", "small", "32", "4", "fp32"]
    report = json.loads(out.read_text())
    env = report["environment"]
    assert env["device"] == "cpu" and env["torch_threads"] >= 1 and env["torch"] and env["cpu"]
    (row,) = report["rows"]
    assert (row["recipe"], row["config"], row["preset"], row["size"], row["batch"]) == ("dcgan", "small", "dcgan-pizza", 32, 4)
    assert (row["precision"], row["precision_resolved"], row["steps"], row["warmup"]) == ("fp32", "fp32", 2, 1)
    assert "error" not in row and len(row["ms_per_step_samples"]) == 2
    for k in ("ms_per_step", "images_per_s", "peak_mem_mib", "rss_base_mib", "gflop_per_step", "gflop_per_s",
              "data_images_per_s", "data_ms_per_batch"):
        assert isinstance(row[k], float) and math.isfinite(row[k]) and row[k] > 0, k
    assert row["images_per_s"] == pytest.approx(4 / (row["ms_per_step"] / 1e3))
    assert row["gflop_per_s"] == pytest.approx(row["gflop_per_step"] / (row["ms_per_step"] / 1e3))
    assert row["peak_mem_kind"] == "process_peak_rss" and row["peak_mem_mib"] >= row["rss_base_mib"]
    assert row["bound"] == ("data" if row["data_images_per_s"] < row["images_per_s"] else "model")


def _linear_flops(batch: int, sizes: list[int]) -> tuple[int, int]:
    """FLOPs of a forward pass through Linear layers of these widths, and of its first layer alone."""
    per_layer = [2 * batch * a * b for a, b in itertools.pairwise(sizes)]
    return sum(per_layer), per_layer[0]


@pytest.mark.parametrize("n_critic", [1, 2])
def test_flops_of_an_mlp_step_match_a_hand_count(n_critic: int) -> None:
    """One GAN step (recipes/gan.py) on dense layers, 2 FLOPs per multiply-add; a Linear's backward is a weight
    gradient (as many FLOPs as its forward) plus an input gradient (as many again, skipped where the input
    needs none: z, real images, detached fakes).
      G forward                                    FG
      D forward on real and on detached fakes      2 FD
      D backward of both                           2 (FD + FD - FD0)
      G update, every n_critic-th step: D forward on the fakes FD, D backward FD + FD (D's weight gradients
      are computed too: D is not frozen), G backward FG + FG - FG0."""
    b, latent, pixels = 4, 8, 8 * 8
    g_hidden, d_hidden = [16, 32], [32, 16]
    overrides = [f"model.latent_dim={latent}", "model.g_hidden=16,32", "model.d_hidden=32,16", "model.ema=0",
                 "model.g_batchnorm=false", f"model.n_critic={n_critic}", "data.image_size=8", "data.channels=1"]
    cases = bench.plan(["mlp"], configs=["small"], batch=b, precision="fp32", device="cpu", overrides=overrides,
                       steps=1, warmup=0)
    (row,) = bench.run(cases, in_process=True)
    fg, fg0 = _linear_flops(b, [latent, *g_hidden, pixels])
    fd, fd0 = _linear_flops(b, [pixels, *d_hidden, 1])
    d_step = fg + 2 * fd + 2 * (2 * fd - fd0)
    g_update = fd + 2 * fd + 2 * fg - fg0
    assert row["steps_per_round"] == n_critic
    assert row["flop_per_step"] == pytest.approx(d_step + g_update / n_critic, rel=1e-12)
    assert row["peak_mem_kind"] == "process_peak_rss_cumulative"


def test_a_round_of_lazy_r3gan_holds_one_regularised_step() -> None:
    """With R1 + R2 every k-th step, a round is k steps: a median of single steps would time the cheap ones only."""
    overrides = ["model.widths=16,8,8,8", "model.blocks=1,1,1,1", "model.group_width=8", "model.reg_every=2",
                 "data.channels=1"]
    cases = bench.plan(["r3gan"], configs=["small"], batch=2, precision="fp32", device="cpu", overrides=overrides,
                       steps=1, warmup=0)
    (row,) = bench.run(cases, in_process=True)
    assert row["steps_per_round"] == 2 and row["ms_per_step"] > 0


def _one_error_line(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    assert main(argv) == 2
    err = [e for e in capsys.readouterr().err.strip().splitlines() if e.startswith("ganforge: error:")]
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("args, message", [
    (["--recipe", "dcgann"], "unknown recipe 'dcgann'; choices: cdcgan, cgan, cyclegan, dcgan, mlp, pix2pix, r3gan, wgangp"),
    (["--size", "48"], "--size 48 is not allowed; choices: 32, 64, 128, 256"),
    (["--batch", "0"], "--batch must be >= 1; got 0"),
    (["--steps", "0"], "--steps must be >= 1; got 0"),
    (["--configs", "paper,huge"], "unknown configuration 'huge'; choices: paper, small"),
    (["--precision", "fp8"], "--precision 'fp8' is not allowed; choices: auto, fp32, bf16, fp16"),
    (["--preset", "dcgan-pizza", "--recipe", "dcgan"], "--preset dcgan-pizza benchmarks that preset alone"),
    (["--preset", "toy-ring", "--size", "64"], "--size 64: preset toy-ring trains on 2-D points"),
    (["--recipe", "mlp", "model.packing=3"], "mlp paper: config key model.packing=3 does not divide train.batch_size=64"),
])
def test_bad_input_is_one_line_and_exit_code_2(capsys: pytest.CaptureFixture, args: list[str], message: str) -> None:
    assert message in _one_error_line(capsys, ["bench", *args])


def test_bad_data_in_the_worker_comes_back_as_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    line = _one_error_line(capsys, ["bench", "--recipe", "dcgan", "--configs", "small", "--data", str(tmp_path / "nope"),
                                    "--steps", "1", "--warmup", "0"])
    assert line.startswith("ganforge: error: dcgan small: data path") and "does not exist" in line


def test_table_names_failed_starved_and_nearly_data_bound_rows() -> None:
    base = {"size": 32, "batch": 16, "precision": "auto", "precision_resolved": "bf16", "steps": 3, "warmup": 1,
            "device": "cpu", "peak_mem_kind": "process_peak_rss", "ms_per_step": 10.0, "images_per_s": 1600.0,
            "peak_mem_mib": 343.0, "gflop_per_step": 1.75, "gflop_per_s": 175.0, "bound": "model",
            "cpu_wait_s": 0.001, "cpu_wait_per_s": 0.01}
    rows = [{**base, "recipe": "dcgan", "config": "small", "data_images_per_s": 300000.0},
            {**base, "recipe": "mlp", "config": "small", "data_images_per_s": 3000.0},  # < 2x the step's 1600
            {**base, "recipe": "cgan", "config": "small", "data_images_per_s": 300000.0, "cpu_wait_s": 2.0,
             "cpu_wait_per_s": 0.9},
            {"recipe": "cyclegan", "config": "paper", "size": 256, "batch": 1, "precision": "auto", "steps": 3,
             "warmup": 1, "error": "OutOfMemoryError: CUDA out of memory"}]
    lines = bench.format_table(rows, {"device": "cpu", "device_name": "AMD EPYC", "torch": "2", "torch_threads": 2})
    lines = lines.splitlines()
    assert lines[1].split() == ["dcgan", "small", "32", "16", "auto:bf16", "10", "1600", "343", "1.75", "175", "300000",
                                "model"]
    assert lines[4].split() == ["cyclegan", "paper", "256", "1", "auto", "failed"]
    notes = [line for line in lines if line.startswith("note:")]
    assert len(notes) == 3
    assert notes[0].startswith("note: mlp small: the data path is less than twice as fast as the step")
    assert notes[1] == "note: cyclegan paper failed: OutOfMemoryError: CUDA out of memory"
    assert notes[2].startswith("note: cgan small: other processes held the CPUs")

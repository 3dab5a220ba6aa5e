"""Bad input through the real command: one line naming the bad value, exit code 2, no traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ganforge import presets
from ganforge.cli import main

from .conftest import tiny_overrides, write_images


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganforge", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def one_line_error(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    errors = [e for e in err if e.startswith("ganforge: error:")]
    assert len(errors) == 1, err
    return errors[0]


def test_subprocess_error_has_no_traceback(tmp_path: Path) -> None:
    p = run_cli("train", "--preset", "dcgan-mnst", "--out", str(tmp_path / "r"))
    assert p.returncode == 2
    assert p.stderr.strip() == f"ganforge: error: unknown preset 'dcgan-mnst'; choices: {', '.join(sorted(presets.PRESETS))}"
    assert not (tmp_path / "r").exists()


def test_presets_lists_one_line_each() -> None:
    p = run_cli("presets")
    lines = p.stdout.strip().splitlines()
    assert p.returncode == 0 and len(lines) == len(presets.PRESETS)
    assert lines[0].startswith("dcgan-pizza ") and "(default)" in lines[0]
    assert any(line.startswith("dcgan-cifar10 ") for line in lines)


@pytest.fixture
def images(tmp_path: Path) -> Path:
    write_images(tmp_path / "imgs", 16)
    return tmp_path / "imgs"


def test_bad_inputs(tmp_path: Path, images: Path, capsys: pytest.CaptureFixture) -> None:
    out = ["--out", str(tmp_path / "run")]
    empty = tmp_path / "empty"
    empty.mkdir()
    tiny = tiny_overrides(**{"train.epochs": 1})
    cases = [
        (["train", "--data", str(tmp_path / "missing"), *out], "data path .*missing' does not exist"),
        (["train", "--data", str(empty), *out, *tiny], "no images"),
        (["train", "--data", str(images), *out, "train.epoch=1"], r"unknown config key 'train.epoch' \(did you mean train.epochs\?\); valid keys"),
        (["train", "--data", str(images), *out, "train.epochs=two"], "train.epochs expects int, got 'two'"),
        (["train", "--preset", "dcgan-folder", *out], "preset dcgan-folder needs data"),
        (["train", "--config", str(tmp_path / "nope.yaml"), *out], "config file .* does not exist"),
        (["sample", str(tmp_path / "nothing"), "--out", str(tmp_path / "g.png")], "no checkpoint at"),
        (["resume", str(tmp_path / "nothing")], "run directory .* does not exist"),
    ]
    for argv, pattern in cases:
        line = one_line_error(capsys, argv)
        assert re.search(pattern, line), (argv, line)
    assert not (tmp_path / "run").exists()  # a failed start writes nothing


def test_existing_run_is_refused_unless_force(tmp_path: Path, images: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["train", "--data", str(images), "--out", str(tmp_path / "run"), *tiny_overrides(**{"train.epochs": 1})]
    assert main(argv) == 0
    before = (tmp_path / "run" / "last.pt").read_bytes()
    line = one_line_error(capsys, argv)
    assert "already holds a run" in line and "--force" in line and "ganforge resume" in line
    assert (tmp_path / "run" / "last.pt").read_bytes() == before  # nothing lost
    assert main([*argv, "--force"]) == 0


def test_checkpoint_of_another_recipe(tmp_path: Path, images: Path, capsys: pytest.CaptureFixture) -> None:
    import torch

    from ganforge import checkpoint

    run = tmp_path / "run"
    assert main(["train", "--data", str(images), "--out", str(run), *tiny_overrides(**{"train.epochs": 1})]) == 0
    ck = torch.load(run / "last.pt", weights_only=True)
    ck["recipe"] = "nosuchgan"
    checkpoint.save(tmp_path / "other.pt", ck)
    line = one_line_error(capsys, ["train", "--data", str(images), "--out", str(tmp_path / "b"), "--init",
                                   str(tmp_path / "other.pt")])
    assert "written by recipe 'nosuchgan'; expected 'dcgan'" in line
    line = one_line_error(capsys, ["sample", str(tmp_path / "other.pt"), "--out", str(tmp_path / "g.png")])
    assert "unknown recipe 'nosuchgan'; choices: cdcgan, cgan, cyclegan, dcgan, mlp, pix2pix, r3gan, wgangp" in line
    checkpoint.save(run / "last.pt", ck)
    line = one_line_error(capsys, ["resume", str(run)])
    assert "recipe 'nosuchgan'" in line


def test_resume_refuses_changes_that_alter_the_run(tmp_path: Path, images: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    assert main(["train", "--data", str(images), "--out", str(run), *tiny_overrides(**{"train.epochs": 1})]) == 0
    line = one_line_error(capsys, ["resume", str(run), "optim.lr=0.1"])
    assert "optim.lr cannot change on resume; allowed: train.epochs" in line


def test_print_config_and_toml_config(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('preset = "dcgan-mnist"\n[train]\nepochs = 2\n')
    assert main(["train", "--config", str(cfg), "--print-config", "optim.lr=1e-3"]) == 0
    out = capsys.readouterr().out
    assert "recipe: dcgan" in out and "epochs: 2" in out and "lr: 0.001" in out and "source: mnist" in out


def test_data_fetch_offline_fails_at_once_naming_url_and_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import socket
    import time

    with socket.socket() as s:  # a port with nothing listening: the download is refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.time()
    line = one_line_error(capsys, ["data", "fetch", "mnist", "--dest", str(tmp_path / "m"), "--mirror",
                                   f"http://127.0.0.1:{port}/mnist"])
    assert time.time() - t0 < 10
    assert f"http://127.0.0.1:{port}/mnist/train-images-idx3-ubyte.gz" in line and str(tmp_path / "m") in line


def test_train_without_arguments_is_the_offline_demo(capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "--print-config"]) == 0
    out = capsys.readouterr().out
    assert "name: dcgan-pizza" in out and "source: builtin:pizza" in out and "epochs: 28" in out


def test_corrupt_images_warn_on_one_line_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    paths = write_images(tmp_path / "imgs", 12)
    paths[0].write_bytes(b"broken")
    argv = ["train", "--data", str(tmp_path / "imgs"), "--out", str(tmp_path / "run"), *tiny_overrides(**{"train.epochs": 1})]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert err.count("ganforge: warning: skipped 1 unreadable image(s) of 12") == 1

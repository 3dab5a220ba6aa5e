"""Safety I: nothing read from a data file runs code, and every bad input through the command is one
``ganforge: error:`` line with exit code 2 (or, where skipping is right, one warning line and the run goes on)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.config import DataConfig
from ganforge.data.sources import open_source

from .conftest import tiny_overrides, write_bomb_png, write_images
from .test_cli import one_line_error

TINY = tiny_overrides(**{"train.epochs": 1})


def warnings_of(capsys: pytest.CaptureFixture) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("ganforge: warning:")]


# --------------------------------------------------------------------------------------------------
# 1. No code runs from a data file


class _Payload:
    """Unpickling this calls ``open(marker, "w")``: a file appears if the payload ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple:
        return (open, (self.marker, "w"))


class _Shell:
    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def cifar_batch(n: int = 20, seed: int = 0) -> dict:
    """A batch shaped like the official ones (bytes keys, uint8 N x 3072 data, N int labels)."""
    rng = np.random.default_rng(seed)
    return {b"batch_label": b"training batch", b"labels": [int(v) for v in rng.integers(0, 10, n)],
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"filenames": [b"x.png"] * n}


def write_cifar(folder: Path, first: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(first if i == 1 else cifar_batch(seed=i), protocol=2))
    (folder / "test_batch").write_bytes(pickle.dumps(cifar_batch(seed=9), protocol=2))
    return folder


@pytest.mark.parametrize("payload", [_Payload, _Shell])
def test_a_cifar_batch_with_a_payload_runs_nothing(tmp_path: Path, capsys: pytest.CaptureFixture, payload: type) -> None:
    marker = tmp_path / "pwned"
    data = write_cifar(tmp_path / "cifar", {b"data": payload(marker), b"labels": []})
    line = one_line_error(capsys, ["train", "--data", str(data), "--out", str(tmp_path / "run"), *TINY])
    assert f"{data / 'data_batch_1'} is not a CIFAR-10 batch (it holds a" in line
    assert ("builtins.open" in line or "io.open" in line) if payload is _Payload else "system" in line
    assert not marker.exists()
    assert not (tmp_path / "run").exists()


def test_cifar_batches_as_the_real_files_hold_them_are_read(tmp_path: Path) -> None:
    data = write_cifar(tmp_path / "cifar", cifar_batch(seed=1))
    src = open_source(DataConfig(source=f"cifar10:{data}"))
    assert src.array.shape == (100, 32, 32, 3) and src.array.dtype == np.uint8
    first = cifar_batch(seed=1)
    assert np.array_equal(src.array[0], first[b"data"][0].reshape(3, 32, 32).transpose(1, 2, 0))
    assert src.labels.tolist()[:20] == first[b"labels"]
    test = open_source(DataConfig(source=f"cifar10:{data}", split="test"))
    assert len(test) == 20


@pytest.mark.parametrize("content, says", [
    (["not", "a", "dict"], "it holds a list"),
    ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, "it holds a numpy.dtype('f4')"),
    ({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}, "not uint8 N x 3072"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 11]}, "labels are not 2 integers 0-9"),
])
def test_a_cifar_batch_of_another_shape_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture, content: object,
                                                   says: str) -> None:
    data = write_cifar(tmp_path / "cifar", content)
    line = one_line_error(capsys, ["train", "--data", f"cifar10:{data}", "--out", str(tmp_path / "run"), *TINY])
    assert "is not a CIFAR-10 batch" in line and says in line


def test_a_malicious_or_foreign_checkpoint_runs_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    marker = tmp_path / "pwned"
    torch.save({"format_version": 1, "recipe": "dcgan", "config": _Payload(marker)}, tmp_path / "evil.pt")
    line = one_line_error(capsys, ["sample", str(tmp_path / "evil.pt"), "--out", str(tmp_path / "g.png")])
    assert "evil.pt is not a ganforge checkpoint or is damaged" in line and "weights_only" not in line
    assert not marker.exists()


# --------------------------------------------------------------------------------------------------
# 2. Bad data files: skipped with one counted warning, or a one-line error when nothing is left


def test_a_decompression_bomb_in_a_data_folder_is_skipped(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_images(tmp_path / "imgs", 16)
    write_bomb_png(tmp_path / "imgs" / "bomb.png")
    assert main(["train", "--data", str(tmp_path / "imgs"), "--out", str(tmp_path / "run"), *TINY]) == 0
    warned = warnings_of(capsys)
    assert len(warned) == 1 and "skipped 1 unreadable image(s) of 17 (first: " in warned[0] and "bomb.png" in warned[0]


def test_dangling_links_and_link_loops(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    imgs = tmp_path / "imgs"
    write_images(imgs / "a", 16)
    (imgs / "a" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    (imgs / "a" / "loop").symlink_to(imgs)  # a link to a parent: the tree would repeat forever
    (imgs / "again").symlink_to(imgs / "a")  # a second way to the same files
    assert main(["train", "--data", str(imgs), "--out", str(tmp_path / "run"), *TINY]) == 0
    warned = warnings_of(capsys)
    assert len(warned) == 1 and "skipped 1 unreadable entry under" in warned[0] and "dangling link" in warned[0]
    import json

    facts = json.loads((tmp_path / "run" / "run.json").read_text())
    assert facts["images"] == 16  # each real file once


def test_unreadable_files_and_folders_are_skipped(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Permission denied, as the kernel reports it to a user without rights (simulated: tests may run as root)."""
    imgs = tmp_path / "imgs"
    paths = write_images(imgs, 16)
    write_images(imgs / "locked", 2, seed=3)
    real_open, real_scandir = Image.open, os.scandir

    def open_(fp: object, *a: object, **k: object) -> Image.Image:
        if str(fp) == str(paths[3]):
            raise PermissionError(13, "Permission denied", str(fp))
        return real_open(fp, *a, **k)

    def scandir(path: object = ".") -> object:
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(Image, "open", open_)
    monkeypatch.setattr(os, "scandir", scandir)
    assert main(["train", "--data", str(imgs), "--out", str(tmp_path / "run"), *TINY]) == 0
    warned = warnings_of(capsys)
    assert any("skipped 1 unreadable entry under" in w and "locked (Permission denied)" in w for w in warned), warned
    assert any("skipped 1 unreadable image(s) of 16" in w and paths[3].name in w for w in warned), warned


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files without permission bits")
def test_unreadable_files_for_real(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    paths = write_images(tmp_path / "imgs", 16)
    paths[0].chmod(0)
    assert main(["train", "--data", str(tmp_path / "imgs"), "--out", str(tmp_path / "run"), *TINY]) == 0
    assert any("skipped 1 unreadable image(s) of 16" in w for w in warnings_of(capsys))


def test_tiny_images_upscaled_to_the_crop_are_counted(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_images(tmp_path / "imgs", 14)
    write_images(tmp_path / "imgs" / "small", 1, size=(1, 1))
    write_images(tmp_path / "imgs" / "small8", 1, size=(8, 8), seed=2)
    assert main(["train", "--data", str(tmp_path / "imgs"), "--out", str(tmp_path / "run"), *TINY,
                 "data.image_size=32"]) == 0
    warned = warnings_of(capsys)
    assert len(warned) == 1 and "2 of the 16 images are upscaled 4x or more to 32 px" in warned[0] and "1x1" in warned[0]


def test_streamed_tiny_images_are_counted_too(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_images(tmp_path / "imgs", 16, size=(2, 2))
    assert main(["train", "--data", str(tmp_path / "imgs"), "--out", str(tmp_path / "run"), "data.in_memory=no",
                 "data.workers=0", *TINY]) == 0
    assert any("16 of the 16 images are upscaled 4x or more" in w for w in warnings_of(capsys))


def test_empty_data_spec_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    line = one_line_error(capsys, ["train", "--data", "", "--out", str(tmp_path / "run"), *TINY])
    assert "data.source is empty" in line


# --------------------------------------------------------------------------------------------------
# 2. Bad settings and files of settings


@pytest.mark.parametrize("override, says", [
    ("optim.lr=nan", "optim.lr must be a finite number; got nan"),
    ("optim.lr=inf", "optim.lr must be a finite number; got inf"),
    ("optim.beta1=-inf", "optim.beta1 must be a finite number; got -inf"),
    ("model.ema=1e999", "model.ema must be a finite number; got inf"),
    (f"train.seed={2**64}", f"train.seed is out of range: {2**64} does not fit in 64 bits"),
    ("train.seed=-1", "train.seed must be >= 0; got -1"),
    ("train.epochs=1000000000", "train.epochs=1000000000 is more than any run needs; at most 100000"),
    ("train.steps=99999999999", "train.steps=99999999999 is more than any run needs"),
])
def test_bad_numbers(tmp_path: Path, capsys: pytest.CaptureFixture, override: str, says: str) -> None:
    line = one_line_error(capsys, ["train", "--out", str(tmp_path / "run"), *TINY, override])
    assert says in line, line


def test_config_files_that_are_not_text_or_not_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_bytes(b"train:\n  epochs: 2\n  # \xff\xfe latin-1 comment\n")
    assert "is not UTF-8 text (byte" in one_line_error(capsys, ["train", "--config", str(bad), "--print-config"])
    line = one_line_error(capsys, ["train", "--config", str(tmp_path), "--print-config"])
    assert "is a folder; give a .yaml, .yml or .toml file" in line


def test_command_line_mistakes_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # one in a real process (argparse's own exit path must not print a usage block or a traceback there), the others
    # through main() in this process: the same parser and the same error path, without a torch import each (2-3 s)
    p = subprocess.run([sys.executable, "-m", "ganforge", "train", "--bogus"], capture_output=True, text=True,
                       cwd=tmp_path, timeout=60)
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip() == "ganforge: error: ganforge train: unrecognized arguments: --bogus (see `ganforge train --help`)"
    for argv, says in ((["sample", "run"], "the following arguments are required: --out"),
                       (["sample", "run", "--out", "g.png", "--seed", "abc"], "invalid seed 'abc'"),
                       (["sample", "run", "--out", "g.png", "--seed", str(2**63)], "out of range"),
                       (["nosuchcommand"], "invalid choice: 'nosuchcommand'")):
        assert main(argv) == 2, argv
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("ganforge: error: ") and says in lines[0], (argv, captured.err)
        assert not captured.out, argv
    assert not list(tmp_path.iterdir())  # nothing written


def test_overrides_after_options(tmp_path: Path) -> None:
    assert main(["train", "recipe=mlp", "--data", "toy:ring", "train.steps=2", "--out", str(tmp_path / "run"),
                 "train.progress=false", "train.tensorboard=false", "model.eval_points=64"]) == 0
    from ganforge import checkpoint

    ck = checkpoint.load(tmp_path / "run")
    assert ck["recipe"] == "mlp" and ck["step"] == 2 and ck["config"]["data"]["source"] == "toy:ring"


# --------------------------------------------------------------------------------------------------
# 2. Bad checkpoints


def _save_raw(path: Path, obj: object) -> Path:
    torch.save(obj, path)
    return path


def test_checkpoints_that_are_empty_cut_foreign_or_hand_made(tmp_path: Path, trained: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    out = ["--out", str(tmp_path / "g.png")]
    (tmp_path / "zero.pt").write_bytes(b"")
    line = one_line_error(capsys, ["sample", str(tmp_path / "zero.pt"), *out])
    assert "zero.pt is not a ganforge checkpoint or is damaged (it is empty: 0 bytes)" in line
    (tmp_path / "random.pt").write_bytes(np.random.default_rng(0).bytes(5000))
    line = one_line_error(capsys, ["sample", str(tmp_path / "random.pt"), *out])
    assert "random.pt is not a ganforge checkpoint or is damaged" in line and "weights_only" not in line
    cut = (trained / "last.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(cut[: len(cut) // 2])
    assert "cut.pt is not a ganforge checkpoint or is damaged" in one_line_error(
        capsys, ["sample", str(tmp_path / "cut.pt"), *out])
    ck = torch.load(trained / "last.pt", weights_only=True)
    no_config = _save_raw(tmp_path / "noconfig.pt", {k: v for k, v in ck.items() if k != "config"})
    assert "(missing 'config')" in one_line_error(capsys, ["sample", str(no_config), *out])
    wrong = {**ck, "state": {**ck["state"], "nets": {k: {} for k in ck["state"]["nets"]}}}
    line = one_line_error(capsys, ["sample", str(_save_raw(tmp_path / "wrong.pt", wrong)), *out])
    assert "wrong.pt is damaged: its networks do not match its config" in line
    bad_cfg = {**ck, "config": {**ck["config"], "train": {"epochs": "many"}}}
    line = one_line_error(capsys, ["sample", str(_save_raw(tmp_path / "badcfg.pt", bad_cfg)), *out])
    assert "badcfg.pt: config key train.epochs expects int, got 'many'" in line
    line = one_line_error(capsys, ["train", "--data", str(trained.parent / "imgs"), "--out", str(tmp_path / "r2"),
                                   "--init", str(tmp_path / "wrong.pt"), *TINY])
    assert "--init checkpoint does not fit this run" in line


def test_resume_of_a_damaged_last_checkpoint(tmp_path: Path, trained: Path, capsys: pytest.CaptureFixture) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    ck = torch.load(run / "last.pt", weights_only=True)
    _save_raw(run / "last.pt", {k: v for k, v in ck.items() if k != "rng"})
    assert "(missing 'rng')" in one_line_error(capsys, ["resume", str(run), "train.epochs=2"])
    (run / "last.pt").write_bytes(b"")
    assert "(it is empty: 0 bytes)" in one_line_error(capsys, ["resume", str(run), "train.epochs=2"])


# --------------------------------------------------------------------------------------------------
# 2. Outputs that cannot be written, and sampling within bounds


def test_outputs_that_cannot_be_written(tmp_path: Path, trained: Path, capsys: pytest.CaptureFixture) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    data = str(trained.parent / "imgs")
    cases = [
        (["train", "--data", data, "--out", str(afile / "run"), *TINY], "cannot write run directory"),
        (["train", "--data", data, "--out", "/proc/ganforge-test-run", *TINY], "cannot write run directory"),
        (["sample", str(trained), "--out", str(afile / "g.png")], "cannot write --out folder"),
        (["sample", str(trained), "--out", str(afile / "dir") + "/"], "cannot write --out folder"),
        (["sample", str(trained), "--out", str(afile) + "/"], "cannot write --out folder"),
        (["sample", str(trained), "--out", "/proc/ganforge-test.png"], "cannot write --out folder"),
        (["report", str(trained), "--out", str(afile / "r.html")], "cannot write --out folder"),
        (["compare", str(trained), str(trained), "--out", str(afile / "c.html")], "cannot write --out folder"),
        (["interpolate", str(trained), "--seeds", "1,2", "--out", str(afile / "s.png")], "cannot write --out folder"),
    ]
    for argv, says in cases:
        line = one_line_error(capsys, argv)
        assert says in line, (argv, line)
    assert afile.read_text() == "x"


def test_resume_of_a_read_only_run_directory(tmp_path: Path, trained: Path, capsys: pytest.CaptureFixture,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only folder as a user without rights sees it (simulated: root may write anywhere)."""
    import shutil
    import tempfile

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    before = (run / "last.pt").read_bytes()
    real = tempfile.mkstemp

    def mkstemp(*a: object, dir: object = None, **k: object) -> tuple[int, str]:
        if dir is not None and Path(str(dir)).resolve() == run.resolve():
            raise OSError(30, "Read-only file system", str(dir))
        return real(*a, dir=dir, **k)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    line = one_line_error(capsys, ["resume", str(run), "train.epochs=2"])
    assert f"cannot write run directory {str(run)!r}: Read-only file system" in line
    assert (run / "last.pt").read_bytes() == before


@pytest.mark.parametrize("env", ["GANFORGE_CACHE", "HOME"])
def test_an_unwritable_cache_does_not_stop_training(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                    monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    if env == "HOME":
        monkeypatch.delenv("GANFORGE_CACHE")
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv(env, str(afile / "sub"))
    write_images(tmp_path / "imgs", 16)
    assert main(["train", "--data", str(tmp_path / "imgs"), "--out", str(tmp_path / "run"), *TINY]) == 0
    warned = warnings_of(capsys)
    assert len(warned) == 1 and "cache not written (Not a directory" in warned[0] and "going on without it" in warned[0]


def test_sampling_stays_within_bounds(tmp_path: Path, trained: Path, capsys: pytest.CaptureFixture,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from ganforge import sampling

    line = one_line_error(capsys, ["sample", str(trained), "--n", "100000000", "--out", str(tmp_path / "g.png")])
    assert "--n 100000000: a grid holds at most 1024 images; write them one PNG each with --out DIR/" in line
    for argv, says in ((["--nrow", "0"], "--nrow must be >= 1; got 0"), (["--nrow", "-3"], "--nrow must be >= 1"),
                       (["--n", "0"], "--n must be >= 1"), (["--device", "foo"], "--device must be auto, cpu"),
                       (["--device", "cuda"], "--device=cuda but CUDA is not available here")):
        assert says in one_line_error(capsys, ["sample", str(trained), "--out", str(tmp_path / "g.png"), *argv])
    # a folder of samples is made in chunks that continue the seed's stream: memory stays bounded for any --n
    monkeypatch.setattr(sampling, "CHUNK", 5)
    assert main(["sample", str(trained), "--n", "5", "--out", str(tmp_path / "five") + "/"]) == 0
    for out in ("chunks", "again"):
        assert main(["sample", str(trained), "--n", "12", "--out", str(tmp_path / out) + "/"]) == 0
    names = sorted(p.name for p in (tmp_path / "chunks").iterdir())
    assert names == [f"sample_{i:05d}.png" for i in range(12)]

    def pixels(folder: str, name: str) -> np.ndarray:
        return np.asarray(Image.open(tmp_path / folder / name))

    assert all(np.array_equal(pixels("five", n), pixels("chunks", n)) for n in names[:5])  # the first chunk = --n 5
    assert all(np.array_equal(pixels("again", n), pixels("chunks", n)) for n in names)  # the same seed, the same images
    assert not all(np.array_equal(pixels("chunks", names[i]), pixels("chunks", names[i + 5])) for i in range(5))


# --------------------------------------------------------------------------------------------------
# 2. Damaged run files: named in a warning; the command goes on


def test_damaged_run_json_and_metrics(tmp_path: Path, trained: Path, capsys: pytest.CaptureFixture) -> None:
    import json
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "run.json").write_text('{"recipe": "dcg')  # cut short
    with open(run / "metrics.jsonl", "ab") as f:
        f.write(b'{"step": 9, "loss_d": \xff\xfe}\n{"step": 10}\n')
    assert main(["report", str(run)]) == 0
    warned = warnings_of(capsys)
    assert any(f"{run / 'run.json'} is damaged (not valid JSON" in w for w in warned), warned
    assert any(f"{run / 'metrics.jsonl'} is damaged: skipped 1 of its" in w for w in warned), warned
    assert main(["resume", str(run), "train.epochs=2"]) == 0
    assert any("run.json is damaged" in w for w in warnings_of(capsys))
    facts = json.loads((run / "run.json").read_text())
    assert facts["status"] == "done" and facts["last_step"] == 4


def test_a_damaged_sample_grid_shows_as_missing_in_the_report(tmp_path: Path, trained: Path) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "samples" / "epoch_001.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text()
    assert "epoch 1 (missing: damaged file)" in page
    assert "base64,iVBORw0KGgogYnJva2Vu" not in page  # the broken bytes are not embedded


def test_translate_skips_unreadable_inputs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from .test_paired_data import write_aligned
    from .test_pix2pix import tiny_cli

    write_aligned(tmp_path / "pairs", 4, size=40)
    run = tmp_path / "p2p"
    assert main(["train", "--data", str(tmp_path / "pairs"), "--out", str(run),
                 *tiny_cli(**{"data.val_split": "none", "train.keep_checkpoints": 0})]) == 0
    inputs = tmp_path / "in"
    write_images(inputs, 2, size=(24, 24))
    (inputs / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    write_bomb_png(inputs / "bomb.png")
    capsys.readouterr()
    assert main(["translate", str(run), "--input", str(inputs), "--out", str(tmp_path / "out")]) == 0
    warned = warnings_of(capsys)
    assert len(warned) == 1 and "skipped 2 of 4 input image(s) that cannot be read (first: " in warned[0]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["img_000.png", "img_001.png"]
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil_copy = [(inputs / n).read_bytes() for n in ("corrupt.png", "bomb.png")]
    for name, raw in zip(("corrupt.png", "bomb.png"), shutil_copy):
        (bad / name).write_bytes(raw)
    line = one_line_error(capsys, ["translate", str(run), "--input", str(bad), "--out", str(tmp_path / "o2")])
    assert "none of the 2 input image(s) under" in line and "nothing was translated" in line
    line = one_line_error(capsys, ["interpolate", str(run), "--input", str(inputs / "bomb.png"), "--out",
                                   str(tmp_path / "evo.png")])
    assert "bomb.png' cannot be read as an image (DecompressionBombError)" in line

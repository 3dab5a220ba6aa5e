"""``ganforge evaluate``: every data spec ``train --data`` takes works as ``--real`` (with ``--split``), KID is stored
and printed x 1000 as ``KIDx1000``, scores print with their usual precision, and the offline Inception error names
the classifier route."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from ganforge.cli import main
from ganforge.evaluate import format_score, format_scores
from ganforge.metrics import METRICS, Inputs
from ganforge.metrics.scores import kid

from .conftest import MNIST, write_images
from .test_cli import one_line_error

needs_mnist = pytest.mark.skipif(not MNIST.is_dir(), reason="needs ../shared/data/mnist")


def evaluate(capsys: pytest.CaptureFixture, pizza_cls: Path, *args: str) -> str:
    assert main(["evaluate", "--extractor", f"classifier:{pizza_cls}", "--n", "24", "--size", "16", *args]) == 0
    return capsys.readouterr().out


@needs_mnist
def test_mnist_specs_as_real_with_split(tmp_path: Path, pizza_cls: Path, capsys: pytest.CaptureFixture) -> None:
    fake = tmp_path / "fake"
    write_images(fake, 24, size=(28, 28), mode="L", seed=1)
    out = evaluate(capsys, pizza_cls, "--fake", str(fake), "--real", str(MNIST), "--split", "test")  # a plain MNIST folder
    assert f"real=mnist test ({MNIST})" in out and "split=test" in out and "n_real=24" in out
    out = evaluate(capsys, pizza_cls, "--fake", str(fake), "--real", f"mnist:{MNIST}")  # default: the test split
    assert f"real=mnist test ({MNIST})" in out and "split=test" in out
    out = evaluate(capsys, pizza_cls, "--fake", str(fake), "--real", f"mnist:{MNIST}", "--split", "train")
    assert f"real=mnist train ({MNIST})" in out and "split=train" in out
    line = one_line_error(capsys, ["evaluate", "--fake", str(fake), "--real", str(MNIST), "--split", "val",
                                   "--extractor", f"classifier:{pizza_cls}", "--n", "24"])
    assert "'val' does not exist for mnist; choices: test, train" in line
    write_images(tmp_path / "colour", 4, seed=2)
    line = one_line_error(capsys, ["evaluate", "--fake", str(tmp_path / "colour"), "--real", f"mnist:{MNIST}",
                                   "--extractor", f"classifier:{pizza_cls}", "--n", "4"])
    assert "colour" in line and "gray" in line and "--channels 1 or 3" in line


@needs_mnist
def test_run_against_mnist_test_split(trained: Path, pizza_cls: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", str(trained), "--real", str(MNIST), "--split", "test", "--extractor", f"classifier:{pizza_cls}",
                 "--n", "24", "--metrics", "fid,kid"]) == 0
    out = capsys.readouterr().out
    assert f"real=mnist test ({MNIST})" in out and "split=test" in out


def test_builtin_and_folder_specs_as_real(tmp_path: Path, pizza_cls: Path, capsys: pytest.CaptureFixture) -> None:
    fake = tmp_path / "fake"
    write_images(fake, 24, size=(16, 16), seed=1)
    out = evaluate(capsys, pizza_cls, "--fake", str(fake), "--real", "builtin:pizza", "--split", "train")
    assert "real=builtin:pizza (24 images, seed 0)" in out  # the images `train --data builtin:pizza` trains on
    out = evaluate(capsys, pizza_cls, "--fake", str(fake), "--real", "builtin:pizza")
    assert "split=generator seed 1" in out  # held out: the next generator seed
    real = tmp_path / "real"
    write_images(real / "train" / "a", 12, size=(16, 16), seed=2)
    write_images(real / "test" / "a", 12, size=(16, 16), seed=3)
    write_images(real / "test" / "b", 12, size=(16, 16), seed=4)
    out = evaluate(capsys, pizza_cls, "--fake", str(fake), "--real", f"classes:{real}")  # default: test/
    assert f"real=class folder {real / 'test'} (24 images)" in out and "split=test" in out
    out = evaluate(capsys, pizza_cls, "--fake", str(fake), "--real", f"folder:{real}", "--split", "train")
    assert f"folder {real / 'train'} (12 images)" in out and "split=train" in out
    line = one_line_error(capsys, ["evaluate", "--fake", str(fake), "--real", str(fake), "--split", "test",
                                   "--extractor", f"classifier:{pizza_cls}", "--n", "24"])
    assert f"--split test: the image folder {fake} has no test/ sub-folder" in line
    for real_spec, says in (("toy:ring", "2-D points are not images"), (str(tmp_path / "none"), "does not exist")):
        line = one_line_error(capsys, ["evaluate", "--fake", str(fake), "--real", real_spec, "--extractor",
                                       f"classifier:{pizza_cls}", "--n", "24"])
        assert says in line
    line = one_line_error(capsys, ["evaluate", "--fake", str(tmp_path / "none"), "--real", "builtin:pizza",
                                   "--extractor", f"classifier:{pizza_cls}"])
    assert "--fake" in line and "is not a folder of images" in line


def test_kid_is_stored_and_printed_x1000(tmp_path: Path, pizza_cls: Path, capsys: pytest.CaptureFixture) -> None:
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(40, 8)), rng.normal(0.5, 1.0, size=(40, 8))
    got = METRICS.get("kid").compute(Inputs(seed=0, real=(real, real), fake=(fake, fake), fd_label="FID"))
    mean, std = kid(real, fake, seed=0)
    assert set(got) == {"KIDx1000", "KIDx1000_std"} and got["KIDx1000"] == pytest.approx(1000 * mean)
    assert got["KIDx1000_std"] == pytest.approx(1000 * std)
    write_images(tmp_path / "a", 24, size=(16, 16), seed=1)
    write_images(tmp_path / "b", 24, size=(16, 16), seed=2)
    out = evaluate(capsys, pizza_cls, "--fake", str(tmp_path / "a"), "--real", str(tmp_path / "b"), "--metrics", "fid,kid,pr")
    line, num = out.splitlines()[0], r"-?\d+\.\d+(?:e-\d\d)?"  # e-notation only below 1e-4 (this small classifier)
    assert re.search(rf"^FD\[classifier:pizza\] {num}  KIDx1000\[classifier:pizza\] {num} \+- {num}  "
                     rf"precision \d\.\d{{3}}  recall \d\.\d{{3}}$", line), line


def test_scores_print_with_their_usual_precision() -> None:
    assert format_score("FID", 23.41234) == "FID 23.41"
    assert format_score("KIDx1000", 7738123.456, 120.5) == "KIDx1000 7738123.46 +- 120.50"  # never 7.738e+06
    assert format_score("KIDx1000[classifier:mnist]", 0.2431, 0.0123) == "KIDx1000[classifier:mnist] 0.243 +- 0.0123"
    assert format_score("IS", 3.14159, 0.05) == "IS 3.14 +- 0.0500"
    assert format_score("AtoB:FD[classifier:x]", 0.014634) == "AtoB:FD[classifier:x] 0.0146"  # 3 significant digits
    assert format_score("modes", 997.0) == "modes 997" and format_score("psnr", 21.456) == "psnr 21.46"
    assert format_score("something_new", 123456.7) == "something_new 123456.7"
    row = {"FID": 1.0, "precision": 0.71234, "recall": 0.5, "IS": 2.0, "IS_std": 0.25, "epoch": 3, "protocol": {}}
    assert format_scores(row) == "FID 1.00  precision 0.712  recall 0.500  IS 2.00 +- 0.250"


def test_offline_inception_error_names_the_classifier_route(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("GANFORGE_WEIGHTS_MIRROR", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("GANFORGE_INCEPTION_WEIGHTS", raising=False)
    write_images(tmp_path / "a", 4)
    line = one_line_error(capsys, ["evaluate", "--fake", str(tmp_path / "a"), "--real", str(tmp_path / "a")])
    assert line.startswith("ganforge: error: cannot download") and "GANFORGE_INCEPTION_WEIGHTS" in line
    assert "ganforge classifier train --data DATA --out cls.pt" in line and "--extractor classifier:cls.pt" in line

"""HTML reports from run directories alone: self-contained (every image embedded, decodable; no network
reference), a slider over every epoch's grid, evaluation rows with the best marked, and the comparison page."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from ganforge.cli import main

from .conftest import tiny_overrides, write_images
from .test_cli import one_line_error

URI = re.compile(r"data:(image/png|image/gif|video/mp4);base64,([A-Za-z0-9+/=]+)")


def embedded(page: str) -> list[tuple[str, bytes]]:
    return [(m.group(1), base64.b64decode(m.group(2))) for m in URI.finditer(page)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("report")
    write_images(root / "imgs", 16)
    a, b = root / "a", root / "b"
    for run, lr in ((a, "2e-4"), (b, "1e-3")):
        assert main(["train", "--data", str(root / "imgs"), "--out", str(run),
                     *tiny_overrides(**{"train.epochs": 3, "optim.lr": lr})]) == 0
    return a, b


def test_training_writes_a_self_contained_report(runs: tuple[Path, Path], tmp_path: Path) -> None:
    run = runs[0]
    page = (run / "report.html").read_text()  # refreshed by the trainer at every epoch end
    assert "http://" not in page and "https://" not in page and "<link" not in page
    images = embedded(page)
    assert len(images) == 1 + 3 + 1  # the loss plot, the 3 grids of the slider and the one shown
    for mime, data in images:
        assert Image.open(io.BytesIO(data)).size[0] > 0, mime
    grids = json.loads(re.search(r"const GRIDS=(\[.*?\]);", page).group(1))
    labels = json.loads(re.search(r"const LABELS=(\[.*?\]);", page).group(1))
    assert len(grids) == 3 and labels == ["epoch 1", "epoch 2", "epoch 3"] and 'max=2' in page
    assert "optim:" in page and "lr: 0.0002" in page  # the resolved config
    # rebuilt from the directory alone, elsewhere: a copy of the run gives the same report
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    assert main(["report", str(copy), "--out", str(tmp_path / "r.html")]) == 0
    assert len(embedded((tmp_path / "r.html").read_text())) == len(images)


def test_report_shows_evaluation_and_exploration(runs: tuple[Path, Path], tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(runs[0], run)
    rows = [{"checkpoint": f"x{e}", "step": 2 * e, "epoch": e, "FD[classifier:x]": v, "protocol": {"n_real": 9}}
            for e, v in ((1, 30.0), (2, 12.5), (3, 20.0))]
    (run / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run / "explore").mkdir()
    Image.new("RGB", (20, 10), "red").save(run / "explore" / "strip.png")
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text()
    best = re.search(r"<tr class=best>(.*?)</tr>", page).group(1)
    assert "<td>2</td>" in best and "12.5" in best  # epoch 2 is the best FD
    assert "strip.png" in page and "n_real" in page


def test_compare_lists_differing_keys_and_grids(runs: tuple[Path, Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "cmp.html"
    assert main(["compare", str(runs[0]), str(runs[1]), "--out", str(out)]) == 0
    page = out.read_text()
    header = re.search(r"<table><tr>(.*?)</tr>", page).group(1)
    cols = re.findall(r"<th>(.*?)</th>", header)
    assert cols == ["run", "optim.lr", "final loss_d", "final loss_g"]  # exactly the one key that differs
    assert len(embedded(page)) == 1 + 2  # the curves and two last grids
    assert "at least two run directories" in one_line_error(capsys, ["compare", str(runs[0]), "--out", str(out)])
    assert "not a run directory" in one_line_error(capsys, ["report", str(tmp_path)])


def test_report_needs_no_torch_and_says_what_is_missing(runs: tuple[Path, Path], tmp_path: Path) -> None:
    import subprocess
    import sys

    run = tmp_path / "partial"
    run.mkdir()
    shutil.copy(runs[0] / "config.yaml", run / "config.yaml")
    (run / "metrics.jsonl").write_text('{"step": 2, "loss_d": 1.0, "loss_g": 2.0}\n{"step": 4, "loss_d"')  # mid-write
    code = ("import sys; from ganforge.report import build_report; build_report(sys.argv[1]); "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    p = subprocess.run([sys.executable, "-c", code, str(run)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    page = (run / "report.html").read_text()
    assert "Not in this run directory yet: sample grids (samples/), checkpoints (last.pt), evaluations" in page

"""HTML reports from run directories alone: self-contained (every image embedded, decodable; no network
reference), the run's state and wall time, every logged curve on its own scale, a slider over every epoch's grid
shown with cells of at least 64 px, evaluation rows with the best marked, captioned exploration files, and the
comparison page (default path, cosmetic keys left out of the differing ones)."""

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
    # 16 px samples, 8 per row: shown at least 4x (cells of 64 px), by the file itself or by the page's width
    widths = json.loads(re.search(r"const WIDTHS=(\[.*?\]);", page).group(1))
    natural = [Image.open(io.BytesIO(base64.b64decode(g.split(",")[1]))).size[0] for g in grids]
    assert all((w or n) >= 8 * 64 for w, n in zip(widths, natural)), (widths, natural)
    assert re.search(r'<img id=grid [^>]*alt="sample grid"', page)
    # refreshed by the trainer at its last epoch end: finished, with this session's wall time so far
    assert re.search(r'id=status>finished: step 6 of 6 \(epoch 3 of 3\); \d+ s so far in this session</p>', page)
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
    Image.new("RGB", (16, 16), "blue").save(run / "explore" / "walk.gif")
    (run / "explore" / "walk.gif.json").write_text(json.dumps({"caption": "loop 3 → 17 → 3: slerp", "seeds": [3, 17]}))
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text()
    best = re.search(r"<tr class=best>(.*?)</tr>", page).group(1)
    assert "<td class=num>2</td>" in best and "12.5" in best  # epoch 2 is the best FD
    assert "strip.png" in page and "n_real" in page
    # captioned from the note `ganforge interpolate` writes beside each file; a 16 px GIF is shown 8x (128 px)
    assert re.search(r'alt="loop 3 → 17 → 3: slerp" width=128><figcaption>loop 3 → 17 → 3: slerp <code>walk.gif</code>',
                     page)
    assert "<figcaption><code>strip.png</code>" in page  # no note: the file name alone


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


def test_report_status_follows_the_run(runs: tuple[Path, Path], tmp_path: Path) -> None:
    from ganforge.runlock import RunLock

    run = tmp_path / "run"
    shutil.copytree(runs[0], run)
    facts = json.loads((run / "run.json").read_text())
    assert facts["status"] == "done"

    def status(facts: dict) -> tuple[str, str]:
        (run / "run.json").write_text(json.dumps(facts))
        assert main(["report", str(run), "--out", str(tmp_path / "r.html")]) == 0
        return re.search(r'<p class="status status-(\w+)" id=status>(.*?)</p>', (tmp_path / "r.html").read_text()).groups()

    assert status(facts) == ("finished", f"finished: step 6 of 6 (epoch 3 of 3); wall time {facts['wall_seconds']:.0f} s")
    longer = {**facts, "total_steps": 12}
    with RunLock(run):  # a training process holds the run (here this one, as a trainer refreshing its report does)
        state, line = status(longer)
    assert state == "running" and line.startswith("running: step 6 of 12 (epoch 3 of 6); ") and "so far in this session" in line
    state, line = status({**longer, "status": "SIGINT"})
    assert state == "stopped" and line.startswith("stopped by SIGINT at step 6 of 12 (epoch 3 of 6); wall time ")
    assert line.endswith(f"continue with: ganforge resume {run}")
    state, line = status({k: v for k, v in longer.items() if k != "status"})  # killed: no final word in run.json
    assert state == "stopped" and "ended at step 6 of 12 (epoch 3 of 6) without a final word (killed or crashed)" in line


def test_curves_show_every_logged_series_on_its_own_scale(runs: tuple[Path, Path], tmp_path: Path) -> None:
    from ganforge.plots import loss_figure, panels, series

    run = tmp_path / "p2p"
    run.mkdir()
    shutil.copy(runs[0] / "config.yaml", run / "config.yaml")
    rows = []
    for step in range(1, 9):  # pix2pix's rows (the L1 term x 100 beside the GAN terms) and its per-epoch validation
        rows.append({"step": step, "loss_d": 0.69, "loss_g_gan": 0.7 + step / 100, "loss_g": 50.0 - step, "loss_g_l1":
                     49.3 - step, "d_real": 0.52, "d_fake": 0.5, "lr_g": 2e-4, "gp": 0.01 * step, "augment_p": 0.1,
                     "epoch": step / 4, "images_per_s": 100.0 + step})
        if step % 4 == 0:
            rows.append({"step": step, "val_l1": 0.23, "val_psnr": 11.7 + step, "val_ssim": 0.16})
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    layout = dict((tuple(keys), title) for title, keys in panels(series(rows)))
    assert set(layout) == {("loss_d", "loss_g_gan"), ("loss_g", "loss_g_l1"), ("d_fake", "d_real")[::-1], ("gp",),
                           ("val_l1", "val_ssim"), ("val_psnr",), ("augment_p",), ("lr_g",), ("images_per_s",)}
    assert layout[("val_psnr",)] == "validation (around 20)" and layout[("loss_g", "loss_g_l1")] == "losses (around 45)"
    fig = loss_figure(run)
    fig.canvas.draw()
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == len(layout)
    for ax in axes:  # each legend lies right of its axes: it covers no curve
        assert ax.get_legend().get_window_extent().x0 >= ax.get_window_extent().x1
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text()
    alt = re.search(r'alt="curves: (.*?)"', page).group(1)
    assert "validation (around 20)" in alt and "validation (around 0.16)" in alt and "penalties" in alt


def test_compare_by_default_writes_beside_the_first_run_and_ignores_cosmetic_keys(
        runs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import yaml

    a, b = tmp_path / "x" / "a", tmp_path / "y" / "b"
    shutil.copytree(runs[0], a)
    shutil.copytree(runs[1], b)
    cfg = yaml.safe_load((b / "config.yaml").read_text())
    cfg["train"].update(progress=True, log_every=5, tensorboard=True, report=False)
    (b / "config.yaml").write_text(yaml.safe_dump(cfg))
    capsys.readouterr()
    assert main(["compare", str(a), str(b)]) == 0
    out = tmp_path / "x" / "compare.html"
    assert capsys.readouterr().err.strip() == f"ganforge: wrote {out}"
    page = out.read_text()
    cols = re.findall(r"<th>(.*?)</th>", re.search(r"<table><tr>(.*?)</tr>", page).group(1))
    assert cols == ["run", "optim.lr", "final loss_d", "final loss_g"]  # log_every, progress... change nothing learned
    assert ("Also differ, without changing what is learned (not listed): train.log_every, train.progress, "
            "train.report, train.tensorboard.") in page
    assert "<div class=scroll><table>" in page and "td { overflow-wrap: anywhere;" in page


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

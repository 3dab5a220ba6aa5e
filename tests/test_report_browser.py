"""The run report in a real browser: headless Chromium (Debian's chromium + chromium-driver, which .ci/run
installs when missing) loads report.html from disk with the network off; no console errors, every image
decodes, the slider changes the shown grid, 16 px samples are shown with cells of at least 64 px, the MP4 of
`ganforge interpolate` plays at 128 px or more and is not a black box, and a screenshot is taken. The comparison
page fits a phone-wide window (its table wraps instead of widening the page)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import yaml
from PIL import Image

from ganforge.cli import main

from .conftest import tiny_run


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_run(tmp_path_factory.mktemp("browser_report"), epochs=3)


def test_report_renders_in_chromium(browser, run: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (run / "explore").mkdir(exist_ok=True)
    assert main(["interpolate", str(run), "--seeds", "3,17", "--steps", "4", "--out", str(run / "explore" / "strip.png"),
                 "--video", str(run / "explore" / "walk.mp4"), "--frames", "6"]) == 0
    assert main(["report", str(run)]) == 0
    browser.set_window_size(1200, 900)
    browser.get((run / "report.html").as_uri())
    assert browser.title == "ganforge: run"
    assert browser.find_element("id", "status").text.startswith("finished: step 6 of 6 (epoch 3 of 3); wall time ")
    widths = browser.execute_script("return Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)")
    assert len(widths) >= 3 and all(w > 0 for w in widths)  # every embedded image decoded
    # 16 px samples, 8 per row: every cell shown at least 64 px wide (the file enlarged, or the page enlarges it)
    assert browser.execute_script("return document.getElementById('grid').clientWidth") >= 8 * 64
    last = browser.execute_script("return document.getElementById('grid').src")
    browser.execute_script("const s = document.getElementById('epoch'); s.value = 0;"
                           "s.dispatchEvent(new Event('input'));")
    first = browser.execute_script("return document.getElementById('grid').src")
    assert first != last and first == browser.execute_script("return GRIDS[0]")
    assert browser.find_element("id", "label").text == "epoch 1"
    assert browser.execute_script("return document.getElementById('grid').naturalWidth") > 0
    assert browser.execute_script("return document.getElementById('grid').clientWidth") >= 8 * 64
    # the latent walk: captioned with its seeds, the MP4 decodes at 128 px or more and shows the samples' colours
    captions = [e.text for e in browser.find_elements("css selector", "figcaption")]
    assert any(c.startswith("seeds 3 → 17: slerp, 4 images per pair") for c in captions), captions
    assert any(c.startswith("loop 3 → 17 → 3: slerp, 6 frames per pair") for c in captions), captions
    probe = ("const v = document.querySelector('video'); if (v.readyState < 2) return null;"
             "const c = document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;"
             "const x = c.getContext('2d'); x.drawImage(v, 0, 0); const d = x.getImageData(0, 0, c.width, c.height).data;"
             "let top = 0; for (let i = 0; i < d.length; i += 4) top = Math.max(top, d[i], d[i + 1], d[i + 2]);"
             "return [v.videoWidth, v.videoHeight, v.clientWidth, top];")
    deadline, seen = time.time() + 10, None
    while seen is None and time.time() < deadline:
        seen = browser.execute_script(probe)
        time.sleep(0.1)
    assert seen is not None, "the MP4 did not load"
    assert min(seen[:3]) >= 128 and seen[3] > 40, seen  # 16 px frames enlarged 8x; not black
    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot)) and Image.open(shot).size[0] > 0
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def test_compare_fits_a_narrow_window(browser, run: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = tmp_path / "runs" / "a-run-with-a-rather-long-name-for-a-narrow-screen"
    shutil.copytree(run, other)
    cfg = yaml.safe_load((other / "config.yaml").read_text())
    cfg["data"]["source"] = "/data/" + "_".join(["a_long_folder_name_without_any_break"] * 6)  # one unbreakable word
    cfg["optim"]["lr"] = 1e-3
    (other / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["compare", str(other), str(run)]) == 0
    page = tmp_path / "runs" / "compare.html"  # the default: beside the first run
    browser.set_window_size(420, 900)
    try:
        browser.get(page.as_uri())
        assert browser.find_element("css selector", "table").text.count("a_long_folder_name_without_any_break") == 6
        sizes = browser.execute_script("const t = document.querySelector('.scroll');"
                                       "return [document.documentElement.scrollWidth, window.innerWidth,"
                                       "t.scrollWidth, t.clientWidth]")
        assert sizes[0] <= sizes[1] and sizes[2] <= sizes[3] + 1, sizes  # the page and the table fit: cells wrap
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
    finally:
        browser.set_window_size(1200, 900)

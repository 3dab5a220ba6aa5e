"""The run report in a real browser: headless Chromium (Debian's chromium + chromium-driver, which .ci/run
installs when missing) loads report.html from disk with the network off; no console errors, every image
decodes, the slider changes the shown grid, and a screenshot is taken."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from ganforge.cli import main

from .conftest import tiny_overrides, write_images


def test_report_renders_in_chromium(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_images(tmp_path / "imgs", 16)
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "imgs"), "--out", str(run), *tiny_overrides(**{"train.epochs": 3})]) == 0
    browser.get((run / "report.html").as_uri())
    assert browser.title == "ganforge: run"
    widths = browser.execute_script("return Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)")
    assert len(widths) >= 2 and all(w > 0 for w in widths)  # every embedded image decoded
    last = browser.execute_script("return document.getElementById('grid').src")
    browser.execute_script("const s = document.getElementById('epoch'); s.value = 0;"
                           "s.dispatchEvent(new Event('input'));")
    first = browser.execute_script("return document.getElementById('grid').src")
    assert first != last and first == browser.execute_script("return GRIDS[0]")
    assert browser.find_element("id", "label").text == "epoch 1"
    assert browser.execute_script("return document.getElementById('grid').naturalWidth") > 0
    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot)) and Image.open(shot).size[0] > 0
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors

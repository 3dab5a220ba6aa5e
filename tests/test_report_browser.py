"""The run report in a real browser: headless Chromium (Debian's chromium + chromium-driver, which .ci/run
installs when missing) loads report.html from disk with the network off; no console errors, every image
decodes, the slider changes the shown grid, and a screenshot is taken."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from ganforge.cli import main

from .conftest import tiny_overrides, write_images

CHROMIUM, DRIVER = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    if not CHROMIUM or not DRIVER:
        pytest.skip("headless Chromium is not installed (Debian packages chromium and chromium-driver; .ci/run "
                    "installs them when it can)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (a test dependency) is not installed")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-dev-shm-usage", "--window-size=1200,900"):
        opts.add_argument(arg)
    opts.binary_location = CHROMIUM
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)  # the system driver: nothing is downloaded
    yield driver
    driver.quit()


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

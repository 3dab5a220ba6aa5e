"""The page of ganforge serve in headless Chromium: it loads with no console errors, "generate" shows a decoded
image, the class selector and the walk's slider work, an upload is translated, the token is asked once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from .test_serve import Server


@pytest.fixture(scope="module")
def server(kind_runs: dict[str, Path]) -> Iterator[Server]:
    s = Server([str(kind_runs[k]) for k in ("generator", "conditional", "cyclegan")])
    yield s
    s.stop()


def wait(cond: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def decoded(browser: Any, element_id: str) -> int:
    return browser.execute_script(f"const i = document.getElementById('{element_id}'); "
                                  "return i && i.complete && i.dataset.loaded ? i.naturalWidth : 0")


def errors(browser: Any) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def test_generator_and_conditional_pages(browser: Any, server: Server) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(server.base + "/")
    wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#models li"), "the model list")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#models li")) == 3
    browser.get(server.base + "/model/generator")
    first = wait(lambda: decoded(browser, "grid"), "the first grid")
    assert first == 2 + 8 * 18  # 16 images of 16 px, 8 a row
    before = browser.execute_script("return document.getElementById('grid').src")
    browser.find_element(By.ID, "new-seed").click()
    wait(lambda: browser.execute_script("return document.getElementById('grid').src") != before, "a new grid")
    wait(lambda: decoded(browser, "grid"), "the new grid decoded")
    # the walk: a strip, and the slider picks a frame of it
    browser.find_element(By.ID, "steps").clear()
    browser.find_element(By.ID, "steps").send_keys("5")
    browser.find_element(By.ID, "interpolate").click()
    assert wait(lambda: decoded(browser, "strip"), "the strip") == 2 + 5 * 18
    wait(lambda: browser.execute_script("return document.getElementById('frame').dataset.frame") == "0", "frame 0")
    browser.execute_script("const s = document.getElementById('walk'); s.value = 3; s.dispatchEvent(new Event('input'))")
    assert browser.execute_script("return document.getElementById('frame').dataset.frame") == "3"
    assert browser.execute_script("return document.getElementById('frame').width") >= 256
    assert errors(browser) == []

    browser.get(server.base + "/model/conditional")
    wait(lambda: decoded(browser, "grid"), "the conditional grid")
    options = [o.text for o in Select(browser.find_element(By.ID, "class")).options]
    assert options == ["0: pepperoni", "1: olive", "2: basil", "3: mushroom", "4: pepper"]
    Select(browser.find_element(By.ID, "class")).select_by_index(2)
    before = browser.execute_script("return document.getElementById('grid').src")
    browser.find_element(By.ID, "generate").click()
    wait(lambda: browser.execute_script("return document.getElementById('grid').src") != before, "the class's grid")
    browser.find_element(By.ID, "class-grid").click()
    wait(lambda: decoded(browser, "grid") and browser.execute_script(
        "return document.getElementById('grid').naturalHeight") == 2 + 5 * 18, "one row per class")
    assert errors(browser) == []


def test_translator_page_upload_and_example(browser: Any, server: Server, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(server.base + "/model/cyclegan")
    wait(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#examples img")) == 8, "the examples")
    Image.new("RGB", (40, 28), (200, 40, 40)).save(tmp_path / "up.png")
    Select(browser.find_element(By.ID, "direction")).select_by_value("BtoA")
    browser.find_element(By.ID, "file").send_keys(str(tmp_path / "up.png"))
    wait(lambda: decoded(browser, "result") == 40, "the translation of the upload (its own size)")
    assert browser.find_element(By.ID, "download").get_attribute("href").startswith("blob:")
    before = browser.execute_script("return document.getElementById('result').src")
    browser.find_elements(By.CSS_SELECTOR, "#examples img")[1].click()
    wait(lambda: browser.execute_script("return document.getElementById('result').src") != before, "an example's")
    wait(lambda: decoded(browser, "result") == 20, "the example translated")
    assert errors(browser) == []


def test_the_page_asks_for_the_token_once(browser: Any, kind_runs: dict[str, Path]) -> None:
    s = Server([str(kind_runs["generator"])], token="s3cret")
    try:
        browser.get(s.base + "/model/generator")
        wait(lambda: _alert(browser), "the token prompt")
        alert = browser.switch_to.alert
        alert.send_keys("s3cret")
        alert.accept()
        wait(lambda: decoded(browser, "grid"), "the grid after the token")
        browser.refresh()  # kept for the session: no second prompt
        wait(lambda: decoded(browser, "grid"), "the grid without asking again")
        browser.execute_script("sessionStorage.clear()")
    finally:
        s.stop()


def _alert(browser: Any) -> bool:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        browser.switch_to.alert  # noqa: B018 - raises when there is none
        return True
    except NoAlertPresentException:
        return False

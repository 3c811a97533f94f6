"""The search page, tried as a user would: headless Chromium on a service at 127.0.0.1 chooses
a file and sees k results drawn, then draws on the canvas, searches, and adds the query to
the gallery. Skipped, with the reason, only where Chromium is not installed."""

import shutil

import numpy as np
import pytest
from conftest import png_bytes, start_service

from aesearch_utils.search import PixelEncoder, SearchPipeline
from aesearch_utils.service.server import free_port
from aesearch_utils.store import Gallery

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)",
)


def stroke_images(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """28x28 images with one bright bar, horizontal (label 0) or vertical (label 1)."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 28, 28, 1), np.uint8)
    labels = np.arange(count) % 2
    for image, label in zip(images, labels, strict=True):
        at, start = rng.integers(6, 22), rng.integers(2, 8)
        if label:
            image[start : start + 18, at - 2 : at + 2] = 255
        else:
            image[at - 2 : at + 2, start : start + 18] = 255
    return images, labels


@pytest.fixture
def service_url(tmp_path):
    images, labels = stroke_images(200)
    pipeline = SearchPipeline(PixelEncoder((28, 28, 1)), whiten_dims=32, expansion_k=3)
    Gallery.build(tmp_path / "galleries" / "strokes", pipeline, images, labels,
                  class_names=("horizontal", "vertical")).close()  # fmt: skip
    (tmp_path / "query.png").write_bytes(png_bytes(images[1]))
    port = free_port()
    server = start_service(tmp_path / "galleries", port)
    try:
        yield f"http://127.0.0.1:{port}/", tmp_path / "query.png"
    finally:
        server.kill()
        server.wait(10)


def test_upload_draw_search_and_add(service_url, tmp_path):
    from playwright.sync_api import sync_playwright

    url, query = service_url
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(url)
            page.locator("#gallery option").first.wait_for(state="attached", timeout=30_000)
            page.fill("#k", "6")
            page.set_input_files("#file", str(query))
            page.locator(".result").nth(5).wait_for(timeout=30_000)
            labels = page.locator(".result .label").all_inner_texts()
            assert len(labels) == 6 and labels[0] == "vertical"

            canvas = page.locator("#canvas").bounding_box()
            page.mouse.move(canvas["x"] + 30, canvas["y"] + 112)
            page.mouse.down()
            page.mouse.move(canvas["x"] + 194, canvas["y"] + 112, steps=12)
            page.mouse.up()
            page.click("#search-drawing")
            page.wait_for_function(
                "document.querySelector('.result .label').textContent === 'horizontal'",
                timeout=30_000,
            )
            page.screenshot(path=str(tmp_path / "page.png"))

            page.select_option("#label", "0")
            page.click("#add")
            page.get_by_text("added as id 200").wait_for(timeout=30_000)
            assert "201 images" in page.locator("#gallery").inner_text()
        finally:
            browser.close()

"""The search page, tried as a user would: headless Chromium on a service at 127.0.0.1 chooses
a file and sees k results drawn, then draws on the canvas, searches, and adds the query to
the gallery. Skipped, with the reason, only where Chromium is not installed."""

import shutil
import time
from contextlib import contextmanager

import numpy as np
import pytest
from conftest import png_bytes, start_service
from PIL import Image
from playwright.sync_api import expect

from aesearch_utils import config
from aesearch_utils.course import screenshot
from aesearch_utils.search import PixelEncoder, SearchPipeline
from aesearch_utils.service.server import free_port
from aesearch_utils.store import Gallery
from aesearch_utils.store.tenants import TenantRegistry

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


SCRIPT_NAME = "<img src=x onerror=alert(1)>"
"""A class folder's name, as a hostile user would choose it."""


@pytest.fixture
def service_url(tmp_path):
    images, labels = stroke_images(200)
    pipeline = SearchPipeline(PixelEncoder((28, 28, 1)), whiten_dims=32, expansion_k=3)
    galleries = tmp_path / "galleries"
    Gallery.build(galleries / "strokes", pipeline, images, labels,
                  class_names=("horizontal", "vertical")).close()  # fmt: skip
    Gallery.build(galleries / "acme-strokes", pipeline, images, labels, owner="acme",
                  visibility="private", class_names=(SCRIPT_NAME, "vertical")).close()  # fmt: skip
    registry = TenantRegistry.in_folder(galleries)
    registry.add_tenant("acme")
    tokens = {tenant: registry.add_token(tenant) for tenant in ("acme", "admin")}
    registry.close()
    (tmp_path / "query.png").write_bytes(png_bytes(images[1]))
    (tmp_path / "horizontal.png").write_bytes(png_bytes(images[0]))
    port = free_port()
    server = start_service(galleries, port)
    try:
        yield f"http://127.0.0.1:{port}/", tmp_path / "query.png", tokens
    finally:
        server.kill()
        server.wait(10)


# The page's Content-Security-Policy forbids evaluating strings, which wait_for_function does:
# the tests wait with Playwright's expect() and evaluate functions on elements instead.
@contextmanager
def page_at(url: str):
    """Chromium's page at ``url`` once its galleries are listed; the script errors and dialogs
    it met are in ``page.problems``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.problems = []
            page.on("dialog", lambda dialog: (page.problems.append(dialog.message),
                                              dialog.dismiss()))  # fmt: skip
            page.on("pageerror", lambda error: page.problems.append(str(error)))
            page.goto(url)
            page.locator("#gallery option").first.wait_for(state="attached", timeout=30_000)
            yield page
        finally:
            browser.close()


def test_upload_draw_search_and_add(service_url, tmp_path):
    url, query, tokens = service_url
    with page_at(url) as page:
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
        expect(page.locator(".result .label").first).to_have_text("horizontal", timeout=30_000)
        page.screenshot(path=str(tmp_path / "page.png"))

        page.select_option("#label", "0")
        page.click("#add")  # the gallery is public: anyone searches it, its owner adds to it
        page.get_by_text("changing a gallery needs its owner's token").wait_for(timeout=30_000)
        page.fill("#token", tokens["admin"])
        page.click("#use-token")
        page.get_by_text("signed in as admin").wait_for(timeout=30_000)
        page.click("#search-drawing")
        expect(page.locator(".result .label").first).to_have_text("horizontal", timeout=30_000)
        page.select_option("#label", "0")
        page.click("#add")
        page.get_by_text("added as id 200").wait_for(timeout=30_000)
        expect(page.locator("#gallery")).to_contain_text("201 images")  # its list reloads after
        assert page.problems == []


def test_the_readme_s_screenshot_is_taken_by_code(service_url, tmp_path):
    url, query, _ = service_url
    path = screenshot.page_screenshot(url, query, tmp_path / "page.png", k=4)
    with Image.open(path) as picture:
        assert picture.format == "PNG" and picture.width == screenshot.VIEWPORT["width"]
        # the page with its results is taller than the empty form, and not one flat colour
        darkest, brightest = picture.convert("L").getextrema()
        assert picture.height > 600 and darkest < brightest
    assert (config.project_root() / "figures" / screenshot.SCREENSHOT).is_file()


def test_a_tenant_sees_its_private_gallery_and_names_stay_text(service_url, tmp_path):
    url, _, tokens = service_url
    with page_at(url) as page:
        assert page.locator("#gallery option").all_inner_texts() == ["strokes (200 images)"]

        page.fill("#token", tokens["acme"])
        page.click("#use-token")
        page.get_by_text("signed in as acme").wait_for(timeout=30_000)
        page.select_option("#gallery", "acme-strokes")
        page.set_input_files("#file", str(tmp_path / "horizontal.png"))
        page.locator(".result").nth(9).wait_for(timeout=30_000)
        assert page.locator(".result .label").first.inner_text() == SCRIPT_NAME
        assert page.locator("#label option").nth(1).inner_text() == SCRIPT_NAME
        thumbnails = page.locator(".result img")
        deadline = time.monotonic() + 30  # the private thumbnails come with the token
        while not thumbnails.evaluate_all("(images) => images.every((i) => i.naturalWidth > 0)"):
            assert time.monotonic() < deadline, "the private gallery's thumbnails did not load"
            time.sleep(0.1)
        assert page.locator(".result img[src=x]").count() == 0
        assert page.locator(".result div").nth(1).inner_text().startswith("#1 · ")

        page.screenshot(path=str(tmp_path / "tenant.png"))
        page.select_option("#gallery", "strokes")  # another gallery: no stale results
        assert page.locator(".result").count() == 0
        assert page.problems == []


def test_failures_clear_results_the_canvas_hints_and_the_docs_work_offline(service_url, tmp_path):
    url, query, _ = service_url
    (tmp_path / "notes.png").write_bytes(b"not a picture at all")
    with page_at(url) as page:
        assert page.locator("#canvas-hint").is_visible()
        page.set_input_files("#file", str(query))
        page.locator(".result").nth(9).wait_for(timeout=30_000)
        page.set_input_files("#file", str(tmp_path / "notes.png"))
        expect(page.locator("#message")).to_contain_text("not an image", timeout=30_000)
        assert page.locator(".result").count() == 0 and page.locator("#query-panel").is_hidden()
        box = page.locator("#canvas").bounding_box()
        page.mouse.move(box["x"] + 100, box["y"] + 40)
        page.mouse.down()
        page.mouse.move(box["x"] + 100, box["y"] + 180, steps=8)
        page.mouse.up()
        assert page.locator("#canvas-hint").is_hidden()
        page.click("#clear")
        assert page.locator("#canvas-hint").is_visible()
        assert page.locator("link[rel=icon]").get_attribute("href") == "/static/favicon.svg"

        page.set_viewport_size({"width": 390, "height": 844})  # a phone
        page.set_input_files("#file", str(query))
        page.locator(".result").nth(9).wait_for(timeout=30_000)
        page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
        wide = page.evaluate(
            "() => [...document.querySelectorAll('body *')].filter((e) =>"
            " e.getBoundingClientRect().right > 390).map((e) => e.tagName + '#' + e.id)"
        )
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390, wide

        page.goto(url + "docs")  # Swagger UI from the service itself: no internet here
        page.locator(".opblock-summary-path").first.wait_for(timeout=30_000)
        assert "/api/galleries/{name}/search" in page.locator(".swagger-ui").inner_text()
        assert page.problems == []

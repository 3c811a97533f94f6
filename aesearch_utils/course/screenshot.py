"""The README's picture of the search page, taken by code rather than by hand.

``python -m aesearch_utils.course.screenshot`` (``make screenshot``) serves the full profile's
gallery (notebook 13 builds it into the service's galleries folder) on a free port of
127.0.0.1, opens the page in headless Chromium, uploads a test image of the gallery's dataset,
waits for its results and their thumbnails, and saves ``figures/13_page.png``. So the picture
shows what the page does today, with the registered pipeline's real answers. Playwright
drives Debian's Chromium, because it cannot download a browser of its own here.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from aesearch_utils import config
from aesearch_utils.errors import InvalidInputError
from aesearch_utils.io import atomic_path

SCREENSHOT = "13_page.png"
VIEWPORT = {"width": 1100, "height": 760}


def chromium_executable() -> str:
    """Debian's Chromium, or an error that says how to install it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise InvalidInputError(
            "the page's screenshot needs Chromium: install it with sudo apt-get install chromium"
        )
    return found


def page_screenshot(url: str, query: Path, path: Path, k: int = 6) -> Path:
    """Open the page at ``url``, search with the image file ``query`` for ``k`` results, and
    save the page, once every thumbnail has loaded, to ``path`` (PNG, written atomically)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_executable(), args=["--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(url)
            page.locator("#gallery option").first.wait_for(state="attached", timeout=30_000)
            page.fill("#k", str(k))
            page.set_input_files("#file", str(query))
            page.locator(".result").nth(k - 1).wait_for(timeout=30_000)
            page.wait_for_load_state("networkidle")
            with atomic_path(path) as temporary:
                page.screenshot(path=str(temporary), type="png", full_page=True)
        finally:
            browser.close()
    return path


def main(argv: list[str] | None = None) -> Path:
    from aesearch_utils.data import load_dataset
    from aesearch_utils.search import pipeline_recipe
    from aesearch_utils.service.app import create_app
    from aesearch_utils.service.server import serving_in_background
    from aesearch_utils.service.uploads import png_bytes
    from aesearch_utils.store import Gallery

    settings = config.settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--gallery",
        default=settings.default_gallery,
        help="a registered pipeline's gallery in the service's galleries folder",
    )
    parser.add_argument("--query", type=int, default=0, help="which test image to search with")
    figure = config.project_root() / "figures" / SCREENSHOT
    parser.add_argument("--output", type=Path, default=figure, help="the PNG file to write")
    arguments = parser.parse_args(argv)
    folder = settings.galleries_dir / arguments.gallery
    if not (folder / "gallery.json").is_file():
        raise InvalidInputError(
            f"no gallery at {folder}: build it with `make run NOTEBOOKS=13` (or `aesearch build "
            f"{arguments.gallery}`) first"
        )
    dataset = load_dataset(pipeline_recipe(arguments.gallery).dataset)
    gallery = Gallery.open(folder)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            query = Path(scratch) / "query.png"
            query.write_bytes(png_bytes(dataset.x_test[arguments.query]))
            with serving_in_background(create_app(galleries={arguments.gallery: gallery})) as url:
                path = page_screenshot(f"{url}/", query, arguments.output)
    finally:
        gallery.close()
    print(f"saved {path}")
    return path


if __name__ == "__main__":
    main()

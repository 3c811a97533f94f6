"""Notebook 07's widgets, tried as a user would: JupyterLab in headless Chromium.

Starts JupyterLab on a copy of notebook 07 (with the smoke profile's
parameters), opens it in Debian's Chromium driven by Playwright, runs every
cell, moves the interpolation slider, and checks that the decoded image is
redrawn. Skipped, with the reason, only where Chromium is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

import nbformat
import papermill
import pytest

from aesearch_utils import config
from aesearch_utils.course import profiles
from aesearch_utils.service.server import free_port

NOTEBOOK = "07_variational_autoencoder"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TOKEN = "aesearch-browser-test"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)",
)


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on a smoke-parameterised copy of notebook 07: its URL."""
    (run,) = profiles.notebook_runs(NOTEBOOK, "smoke", tmp_path / "outputs")
    source = papermill.iorw.load_notebook_node(str(config.notebooks_dir() / f"{NOTEBOOK}.ipynb"))
    notebook = papermill.parameterize.parameterize_notebook(source, run.parameters)
    nbformat.write(notebook, tmp_path / f"{NOTEBOOK}.ipynb")
    # draw every cell (JupyterLab skips those out of sight) and ask nothing about news
    settings = tmp_path / "settings" / "@jupyterlab"
    for extension, values in (
        ("notebook-extension/tracker", {"windowingMode": "none"}),
        ("apputils-extension/notification", {"fetchNews": "false"}),
    ):
        path = settings / f"{extension}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    port = free_port()
    environment = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    environment.pop("AESEARCH_HEADLESS", None)  # a person at a browser: widgets are shown
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
         f"--ServerApp.root_dir={tmp_path}", f"--IdentityProvider.token={TOKEN}",
         f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
         f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
         *(["--allow-root"] if os.geteuid() == 0 else [])],  # CI containers run as root
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("JupyterLab did not start within 60 s") from None
                time.sleep(0.5)
        yield f"{url}/lab/tree/{NOTEBOOK}.ipynb?token={TOKEN}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_interpolation_slider_redraws_the_decoded_image(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(lab)
            page.locator(".jp-Notebook").wait_for(timeout=60_000)
            # "Run All" before the kernel is up is silently dropped
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_text("Run All Cells", exact=True).click()

            view = page.locator(".aesearch-interpolation")
            view.wait_for(timeout=240_000)  # the notebook trains its small models first
            view.scroll_into_view_if_needed()
            decoded = view.locator("img.aesearch-decoded").first
            before = decoded.get_attribute("src")
            position = view.locator(".widget-slider").nth(2).locator(".noUi-handle")
            position.focus()
            for _ in range(4):
                position.press("ArrowRight")
            # every move is a round trip to the kernel: wait for the last one to be drawn
            deadline = time.monotonic() + 60
            while "70% of the way" not in view.inner_text() and time.monotonic() < deadline:
                time.sleep(0.25)
            assert "70% of the way" in view.inner_text(), "the slider moves did not arrive"
            assert decoded.get_attribute("src") != before, "moving the slider redrew nothing"
        finally:
            browser.close()

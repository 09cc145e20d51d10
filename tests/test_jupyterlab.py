"""The app notebook in JupyterLab 4, in headless Chromium: the widgets render.

JupyterLab runs on a copy of ``notebooks/`` (running cells makes a notebook
dirty, and autosave must not write outputs into the repository) with its
settings, workspaces and runtime files in a temporary folder.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from photolab_widgets import processes
from photolab_widgets.config import Settings
from photolab_widgets.demo import seed_demo
from photolab_widgets.studio import Studio
from tests.browser import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@dataclass
class Lab:
    url: str
    token: str
    log: Path


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("lab")
    home = root / "photolab-home"
    studio = Studio(Settings.from_env({"PHOTOLAB_HOME": str(home)}))
    seed_demo(studio)
    studio.close()
    shutil.copytree(processes.NOTEBOOKS_DIR, root / "notebooks")

    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTOLAB_")}
    env.update(
        PHOTOLAB_HOME=str(home),
        JUPYTER_CONFIG_DIR=str(root / "config"),
        JUPYTER_RUNTIME_DIR=str(root / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(root / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(root / "workspaces"),
    )
    # No "get notified about Jupyter news?" prompt over the page.
    notification = root / "settings/@jupyterlab/apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}'
    )
    # Start the notebook's kernel without asking which one.
    tracker = root / "settings/@jupyterlab/notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(
        '{"autoStartDefaultKernel": true}'
    )
    port = processes.free_port()
    token = secrets.token_hex(16)
    argv = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root / 'notebooks'}",
        "--ServerApp.port_retries=0",
        "--allow-root",  # CI runs as root
        "--LabApp.extension_manager=readonly",  # no PyPI look-ups
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    log = root / "lab.log"
    proc = processes.start(argv, env=env, log_path=log)
    url = f"http://127.0.0.1:{port}/"
    try:
        processes.wait_for_http(f"{url}api/status?token={token}", 120, watch=[proc])
        yield Lab(url, token, log)
    finally:
        processes.stop(proc)


def _run_all_until(page, selector: str, attempts: int = 6) -> None:  # noqa: ANN001
    """Run > Run All Cells until ``selector`` shows in an output.

    Right after the notebook opens the Run menu's items can still be disabled
    (the kernel is connecting) and a click does nothing, so try again.
    """
    for _ in range(attempts):
        dialog = page.locator(".jp-Dialog .jp-mod-accept")
        if dialog.count():  # JupyterLab may ask for a kernel: take its proposal
            dialog.first.click()
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_selector(selector, timeout=20_000)
            return
        except Exception:  # noqa: BLE001 - the next attempt or the screenshot
            page.keyboard.press("Escape")
    screenshot(page, "jupyterlab-failed.png")
    raise AssertionError(f"{selector} never appeared; see jupyterlab-failed.png")


def test_app_notebook_renders_its_widgets_in_jupyterlab(lab: Lab, page):
    page.goto(f"{lab.url}lab/tree/app.ipynb?token={lab.token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
    page.wait_for_selector(
        ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000
    )
    _run_all_until(page, ".jp-OutputArea .photolab-app")
    page.wait_for_selector(
        ".jp-OutputArea .widget-tab, .jp-OutputArea .jupyter-widget-tab"
    )
    page.wait_for_timeout(1000)

    output = page.locator(".jp-OutputArea").first
    assert output.locator(".jupyter-widgets").count() > 0
    assert "Error displaying widget" not in page.content()
    assert page.locator(".jp-OutputArea-output[data-mime-type*='stderr']").count() == 0
    assert page.locator(".photolab-app-error").count() == 0
    tabs = output.locator(".lm-TabBar-tab").all_inner_texts()
    assert tabs == ["Tasks", "Generate", "Scenes"]
    assert output.locator(".plg-card, .plg-gallery").count() > 0  # the gallery

    # ipytree's front end: the params editor of a scene card is a jstree.
    output.get_by_role("tab", name="Scenes").click()
    card = output.locator(".plw-scene-card").first
    card.wait_for(timeout=30_000)
    card.get_by_role("button", name="Edit params").click()
    card.locator(".jstree .jstree-anchor").first.wait_for(timeout=30_000)
    assert "Error displaying widget" not in page.content()
    # At notebook width the card wraps: the tasks go under the facts, so the
    # params editor keeps room for its tree and its form side by side.
    main = card.locator(".plw-card-main").bounding_box()
    tasks = card.locator(".plw-card-tasks").bounding_box()
    assert main and tasks and main["width"] >= 360, main
    assert tasks["y"] >= main["y"] + main["height"] - 1, (main, tasks)
    tree = card.locator(".jstree").bounding_box()
    assert tree and tree["width"] >= 180, tree
    # No deep links here: a relative one would open the lab, not the app.
    assert output.locator(".photolab-deep-link").count() == 0
    screenshot(page, "jupyterlab-app.png")

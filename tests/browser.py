"""A real Voila server on the demo data, and headless Chromium driving it.

Chromium is Debian's ``/usr/bin/chromium`` (``scripts/test`` installs it);
Playwright only drives it, it downloads no browser of its own.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from photolab_widgets import processes
from tests import services

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "artifacts"
DOCS = REPO / "docs"
#: Set to 1 to copy the screenshots the README shows into docs/.
UPDATE_SCREENSHOTS = "PHOTOLAB_UPDATE_SCREENSHOTS"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class VoilaServer:
    url: str
    home: Path
    env: dict[str, str]
    log: Path


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        services.missing("Chromium", "install Debian's chromium (scripts/test does)")
    assert path is not None
    return path


def start_voila(
    home: Path,
    notebook: Path = processes.APP_NOTEBOOK,
    extra_env: dict[str, str] | None = None,
) -> tuple[VoilaServer, object]:
    port = processes.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTOLAB_")}
    env["PHOTOLAB_HOME"] = str(home)
    env.update(extra_env or {})
    env = processes.voila_env(env)
    home.mkdir(parents=True, exist_ok=True)
    log = home / "voila.log"
    proc = processes.start(
        processes.voila_argv(notebook, port=port), env=env, log_path=log
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        processes.wait_for_http(processes.voila_probe_url(url), timeout=90)
    except TimeoutError:
        processes.stop(proc)
        raise
    return VoilaServer(url, home, env, log), proc


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VoilaServer]:
    """Voila on the app over a freshly seeded demo database, one per test module.

    Module scope: starting Voila and seeding take seconds, and the tests that
    use it only read, so each module shares one server; a module never sees
    another module's clicks.
    """
    from photolab_widgets.config import Settings
    from photolab_widgets.demo import seed_demo
    from photolab_widgets.studio import Studio

    home = tmp_path_factory.mktemp("demo-home")
    studio = Studio(Settings.from_env({"PHOTOLAB_HOME": str(home)}))
    seed_demo(studio)
    studio.close()
    server, proc = start_voila(home)
    yield server
    processes.stop(proc)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield b
        b.close()


@pytest.fixture
def page(browser) -> Iterator[object]:  # noqa: ANN001
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    yield pg
    context.close()


def wait_for_widgets(page, timeout_ms: int = 90_000) -> None:  # noqa: ANN001
    """Wait until Voila has rendered the app and no widget failed to render."""
    page.wait_for_selector(".photolab-app", timeout=timeout_ms)
    errors = page.locator(
        ".jupyter-widgets-error, "
        ".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']"
    )
    assert errors.count() == 0, errors.all_inner_texts()
    assert "Error displaying widget" not in page.content()


def screenshot(page, name: str, *, docs: str | None = None) -> Path:  # noqa: ANN001
    """Save the page as ``artifacts/<name>``; return the path.

    ``docs`` names the copy in ``docs/`` that the README shows. It is written
    only when ``PHOTOLAB_UPDATE_SCREENSHOTS=1``: a test run must not change
    tracked files (every run draws slightly different pixels: times, ids), so
    the pictures in git change only when someone means to retake them.
    """
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    if docs is not None and os.environ.get(UPDATE_SCREENSHOTS) == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copy(path, DOCS / docs)
    return path

"""The Generate tab in the Voila app, with a real worker, in headless Chromium."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from photolab_widgets import processes
from photolab_widgets.config import Settings
from photolab_widgets.demo import seed_demo
from photolab_widgets.models import Batch
from photolab_widgets.studio import Studio
from tests.browser import screenshot, start_voila, wait_for_widgets
from tests.workers import running_worker

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_double_click_generate_runs_one_batch_to_the_end(tmp_path, page):
    home = tmp_path / "home"
    settings = Settings.from_env({"PHOTOLAB_HOME": str(home)})
    studio = Studio(settings)
    seed_demo(studio, scenes_per_collection=3)
    server, voila = start_voila(home)
    try:
        with running_worker(settings, delay=0.3):
            page.goto(server.url)
            wait_for_widgets(page)
            page.get_by_role("tab", name="Generate").click()
            panel = page.locator(".photolab-generate")
            panel.get_by_text("Generate will create 3 tasks").wait_for()

            panel.get_by_role("button", name="Generate").dblclick()

            # The bars move on their own while the kernel stays responsive.
            panel.get_by_text("finished: 3 rendered").wait_for(timeout=90_000)
            assert panel.get_by_text("3 / 3").count() == 2  # set up, rendered
            screenshot(page, "generate.png", docs="screenshot-generate.png")
    finally:
        processes.stop(voila)
    with studio.session() as s:
        assert s.scalar(select(func.count()).select_from(Batch)) == 1
    studio.close()

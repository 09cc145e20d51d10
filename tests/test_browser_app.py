"""The app page in headless Chromium: deep links through Voila, the error page.

Voila hands the page's query string to the kernel as ``QUERY_STRING``; these
tests prove it on a real server by opening links and reading what the page
says it opened.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy.engine import make_url

from photolab_widgets import processes
from tests import services
from tests.browser import screenshot, start_voila, wait_for_widgets

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _current_tab(page) -> str:  # noqa: ANN001
    return page.locator(".photolab-app .lm-TabBar-tab.lm-mod-current").inner_text()


def test_collection_link_opens_the_scenes_tab(demo_server, page):
    name = "cats & dogs 🐾"
    page.goto(f"{demo_server.url}?collection={quote(name)}")
    wait_for_widgets(page)
    notice = page.locator(".photolab-link").inner_text()
    assert f"Opened collection '{name}' from the link." in notice
    assert _current_tab(page) == "Scenes"
    screenshot(page, "app-deep-link.png")


def test_link_to_a_missing_task_says_so(demo_server, page):
    page.goto(f"{demo_server.url}?task=999999")
    wait_for_widgets(page)
    assert "Task 999999 does not exist." in page.locator(".photolab-link").inner_text()
    assert _current_tab(page) == "Tasks"


def test_page_says_what_it_loads_then_shows_title_and_tabs(demo_server, page):
    page.goto(demo_server.url, wait_until="commit")
    loading = page.wait_for_selector("#loading_text", timeout=30_000)
    assert "studio" in loading.inner_text()  # the app's words, not Voila's
    wait_for_widgets(page)
    assert page.locator("#loading").count() == 0
    assert page.title() == "Photolab studio"
    assert page.locator(".photolab-title").inner_text() == "Photolab studio"
    tabs = page.locator(".photolab-app .lm-TabBar-tab").all_inner_texts()
    assert tabs == ["Tasks", "Generate", "Scenes"]
    assert page.locator(".photolab-link").inner_text().strip() == ""


@pytest.mark.mariadb
def test_wrong_database_password_shows_a_sentence_not_the_password(tmp_path, page):
    secret = "Wr0ng-in-the-page"
    base = make_url(services.mysql_base_url())
    url = base.set(username="root", password=secret, database="photolab")
    server, proc = start_voila(
        tmp_path / "home",
        extra_env={"PHOTOLAB_DATABASE_URL": url.render_as_string(False)},
    )
    try:
        page.goto(server.url)
        wait_for_widgets(page)
        text = page.locator(".photolab-app-error").inner_text()
        assert "Cannot use the database" in text and "root:***@" in text
        assert secret not in page.content()
        screenshot(page, "app-database-error.png")
    finally:
        processes.stop(proc)
    assert secret not in server.log.read_text()

"""The Scenes tab in headless Chromium: one edit, one save, one rate click.

Only a browser shows what the front end does with the data: jstree renders
node labels as markup, so this is where escaping is proven, and where a typed
value has to travel from a textarea to the database.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from photolab_widgets import processes
from photolab_widgets.config import Settings
from photolab_widgets.demo import seed_demo
from photolab_widgets.studio import Studio
from photolab_widgets.widgets.links import DeepLink, parse_deep_link
from tests.browser import screenshot, start_voila, wait_for_widgets
from tests.factories import add_scene

pytestmark = [pytest.mark.browser, pytest.mark.slow]

COLLECTION = "<b>browser</b> 试验"
MARKUP_KEY = "<b>key</b>"
MARKUP_VALUE = "<i>value</i> 🎞️"


@pytest.fixture(scope="module")
def scenes_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("scenes-home")
    studio = Studio(Settings.from_env({"PHOTOLAB_HOME": str(home)}))
    seed_demo(studio)
    scene_id = add_scene(
        studio,
        collection_name=COLLECTION,
        prompt="<script>window.hacked = 1</script> a prompt with markup",
        base_img_key="demo/base/scene 001.jpg",
        hint_img_list=["demo/pose/scene-001.png"],
        rate=8.5,
        params={"steps": 30, MARKUP_KEY: MARKUP_VALUE, "size": {"width": 768}},
    )
    server, proc = start_voila(home)
    yield server, studio, scene_id
    processes.stop(proc)
    studio.close()


def test_edit_save_and_rate_on_the_voila_page(scenes_server, page):
    server, studio, scene_id = scenes_server
    page.goto(server.url)
    wait_for_widgets(page)
    page.get_by_role("tab", name="Scenes").click()
    board = page.locator(".plw-scene-board")
    board.locator(".plw-scene-card").nth(2).wait_for()
    page.wait_for_timeout(500)
    screenshot(page, "scenes-board.png", docs="screenshot-scenes-board.png")
    board.locator("select").select_option(label=COLLECTION)
    card = board.locator(".plw-scene-card").first
    card.get_by_text(f"Scene #{scene_id}").wait_for()
    assert page.evaluate("window.hacked") is None
    # The board's link to the collection: markup as text, the name URL-encoded.
    link = board.locator(".photolab-deep-link", has_text="collection")
    href = link.evaluate("a => a.href")  # as the browser resolves it
    assert href.startswith(server.url + "?collection=%3Cb%3E")
    assert parse_deep_link(urlsplit(href).query) == DeepLink(collection=COLLECTION)
    assert page.locator("b", has_text=re.compile("^browser$")).count() == 0

    card.get_by_role("button", name="Edit params").click()
    # A wide page keeps the card on one row: the tasks beside the facts.
    main = card.locator(".plw-card-main").bounding_box()
    tasks = card.locator(".plw-card-tasks").bounding_box()
    assert main and tasks and tasks["y"] < main["y"] + 10, (main, tasks)
    assert tasks["x"] >= main["x"] + main["width"] - 1
    tree = card.locator(".jstree")
    tree.get_by_text("steps: 30").wait_for()
    labels = tree.locator(".jstree-anchor").all_inner_texts()
    assert any(f"{MARKUP_KEY}: " in text for text in labels), labels
    # The markup is text, not elements (jstree's own icons are <i> elements).
    markup = tree.locator(".jstree-anchor b, .jstree-anchor i:not(.jstree-icon)")
    assert markup.count() == 0

    tree.get_by_text("steps: 30").click()
    value = (
        card.locator(".widget-textarea").filter(has_text="Value").locator("textarea")
    )
    expect(value).to_have_value("30")  # the kernel has filled the form
    value.fill("42")
    value.press("Tab")
    tree.get_by_text("steps: 42").wait_for()
    card.get_by_role("button", name="Save").click()
    card.get_by_text("Saved.").wait_for()
    saved = studio.scene(scene_id)
    assert saved is not None
    assert saved.scene.params == {
        "steps": 42,
        MARKUP_KEY: MARKUP_VALUE,
        "size": {"width": 768},
    }

    card.get_by_role("button", name="+").click()
    card.locator(".plw-rate").get_by_text("9.5").wait_for()
    rated = studio.scene(scene_id)
    assert rated is not None and rated.scene.rate == 9.5

    screenshot(page, "scenes.png", docs="screenshot-scenes.png")

"""The researcher's whole morning on the demo's Voila page, in headless Chromium.

Pick a collection and a person, Generate, watch the bars reach the end, find
the new pictures in the Tasks gallery and on the scene cards, edit a params
value and save it, raise a rate, and follow a card's link. The Voila page,
the demo worker and this test share one ``PHOTOLAB_HOME``; after every step
the test reads the database through its own Studio, as another process would.
Each step leaves a screenshot in ``artifacts/`` (the README shows them; see
``tests/browser.py`` for when they are copied to ``docs/``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from photolab_widgets import processes
from photolab_widgets.config import Settings
from photolab_widgets.demo import seed_demo
from photolab_widgets.images import key_path
from photolab_widgets.models import Batch, Scene, Task, User
from photolab_widgets.studio import Studio
from photolab_widgets.widgets.links import DeepLink, parse_deep_link
from tests.browser import VoilaServer, screenshot, start_voila, wait_for_widgets
from tests.workers import running_worker

pytestmark = [pytest.mark.browser, pytest.mark.slow]

COLLECTION = "summer-portraits 夏日写真"
PERSON = "Anna Schmidt"
SCENES = 3  # per collection: a small demo keeps the journey fast
LOADED = "els => els.map(e => e.complete ? e.naturalWidth : -1)"


@dataclass
class Demo:
    server: VoilaServer
    studio: Studio
    home: Path


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    """A fresh demo: seeded database, Voila on the app, the demo worker."""
    home = tmp_path / "home"
    settings = Settings.from_env({"PHOTOLAB_HOME": str(home)})
    studio = Studio(settings)
    seed_demo(studio, scenes_per_collection=SCENES)
    server, voila = start_voila(home)
    try:
        with running_worker(settings, delay=0.0):
            yield Demo(server, studio, home)
    finally:
        processes.stop(voila)
        studio.close()


def _images_loaded(page, scope) -> list[int]:  # noqa: ANN001
    """Wait for the images under ``scope`` and return their natural widths."""
    images = scope.locator("img")
    page.wait_for_function(
        "els => els.every(e => e.complete)", arg=images.element_handles()
    )
    return images.evaluate_all(LOADED)


def _scene_card(board, scene_id: int):  # noqa: ANN001, ANN202
    title = board.page.locator("h4", has_text=re.compile(rf"^Scene #{scene_id}\b"))
    return board.locator(".plw-scene-card").filter(has=title)


def _link_target(anchor) -> DeepLink:  # noqa: ANN001
    """What the app reads from a link's address, as the browser resolves it."""
    expect(anchor).to_have_count(1)
    return parse_deep_link(urlsplit(anchor.evaluate("a => a.href")).query)


def test_generate_follow_edit_and_rate_on_the_voila_page(demo: Demo, page):
    studio = demo.studio
    with studio.session() as s:
        person_id = s.scalar(select(User.id).where(User.name == PERSON))
        scene_ids = list(
            s.scalars(
                select(Scene.scene_id)
                .where(Scene.collection_name == COLLECTION)
                .order_by(Scene.scene_id)
            )
        )
        seeded = set(s.scalars(select(Task.id)))
    assert person_id is not None and len(scene_ids) == SCENES
    page.goto(demo.server.url)
    wait_for_widgets(page)

    # 1. Generate: a collection and a person picked in the page, then one click;
    # the bars reach the end while the worker renders.
    page.get_by_role("tab", name="Generate").click()
    panel = page.locator(".photolab-generate")
    dropdown = panel.locator(".widget-dropdown")
    dropdown.filter(has_text="Collection").locator("select").select_option(
        label=COLLECTION
    )
    dropdown.filter(has_text="Person").locator("select").select_option(
        label=f"{PERSON} (#{person_id})"
    )
    panel.get_by_text(f"for {PERSON} (#{person_id})").wait_for()
    assert f"Generate will create {SCENES} tasks" in panel.inner_text()
    link = panel.locator(".photolab-deep-link")
    assert _link_target(link) == DeepLink(collection=COLLECTION)
    panel.get_by_role("button", name="Generate").click()
    panel.get_by_text(f"finished: {SCENES} rendered").wait_for(timeout=60_000)
    assert panel.get_by_text(f"{SCENES} / {SCENES}").count() == 2  # set up, done
    screenshot(page, "journey-1-generate.png", docs="journey-1-generate.png")

    with studio.session() as s:
        batch = s.scalars(select(Batch)).one()
        new = s.scalars(select(Task).where(Task.id.not_in(seeded))).all()
        assert (batch.collection_name, batch.person_id) == (COLLECTION, person_id)
        assert sorted(t.scene_id for t in new) == scene_ids
        assert {(t.status, t.person_id, t.batch_id) for t in new} == {
            ("done", person_id, batch.id)
        }
        task_of = {t.scene_id: t.id for t in new}
        keys = {t.id: t.result_img_key for t in new}
        set_up = s.scalars(
            select(Scene.setup_status).where(Scene.scene_id.in_(scene_ids))
        ).all()
    assert set(set_up) == {"ready"}
    images = studio.settings.images_dir
    assert images is not None
    assert all(key and key_path(key, images).is_file() for key in keys.values())
    newest = sorted(keys, reverse=True)

    # 2. The Tasks gallery: Refresh brings the new tasks to the top, rendered;
    # the detail panel shows the picture and links to the task.
    page.get_by_role("tab", name="Tasks").click()
    gallery = page.locator(".plg-gallery")
    gallery.get_by_role("button", name="Refresh").first.click()
    cards = gallery.locator(".plg-card")
    for card, task_id in zip(cards.all(), newest, strict=False):
        expect(card.locator(".plg-data dd").first).to_have_text(f"#{task_id}")
        expect(card.locator(".plg-badge")).to_have_text("done")
        assert _images_loaded(page, card)[0] > 0
    cards.first.get_by_role("button", name="Details").click()
    detail = gallery.locator(".plg-detail")
    detail.get_by_text(keys[newest[0]], exact=True).wait_for()
    assert _images_loaded(page, detail)[0] > 0
    link = detail.locator(".photolab-deep-link")
    assert _link_target(link) == DeepLink(task_id=newest[0])
    screenshot(page, "journey-2-tasks.png", docs="journey-2-tasks.png")

    # 3. The Scenes tab: each card of the collection shows its new task, done.
    page.get_by_role("tab", name="Scenes").click()
    board = page.locator(".plw-scene-board")
    board.locator("select").first.select_option(label=COLLECTION)
    expect(board.locator(".plw-scene-card")).to_have_count(SCENES)
    link = board.locator(".widget-html .photolab-deep-link", has_text="collection")
    assert _link_target(link) == DeepLink(collection=COLLECTION)
    for scene_id in scene_ids:
        card = _scene_card(board, scene_id)
        strip = card.locator(".plw-tasks")
        expect(strip).to_contain_text(f"#{task_of[scene_id]} done")
        assert all(w > 0 for w in _images_loaded(page, card))
        link = card.locator(".plw-facts .photolab-deep-link")
        assert _link_target(link) == DeepLink(scene_id=scene_id)
    screenshot(page, "journey-3-scenes.png", docs="journey-3-scenes.png")

    # 4. Edit one params value in the tree, Save, then + on the rate.
    scene_id = scene_ids[0]
    card = _scene_card(board, scene_id)
    before = studio.scene(scene_id)
    assert before is not None and isinstance(before.scene.params, dict)
    params, rate = dict(before.scene.params), before.scene.rate or 0.0
    steps = params["steps"] + 5
    card.get_by_role("button", name="Edit params").click()
    tree = card.locator(".jstree")
    tree.get_by_text(re.compile(r"^steps: \d+$")).click()
    value = card.locator(".widget-textarea").filter(has_text="Value")
    value = value.locator("textarea")
    # The kernel fills the form for the picked node; type once it has, or its
    # update lands on top of the typing.
    expect(value).to_have_value(str(params["steps"]))
    value.fill(str(steps))
    value.press("Tab")
    tree.get_by_text(f"steps: {steps}").wait_for()
    card.get_by_role("button", name="Save").click()
    card.get_by_text("Saved.").wait_for()
    saved = studio.scene(scene_id)
    assert saved is not None and saved.scene.params == {**params, "steps": steps}

    card.get_by_role("button", name="+").click()
    card.locator(".plw-rate").get_by_text(f"{rate + 1:g}").wait_for()
    rated = studio.scene(scene_id)
    assert rated is not None and rated.scene.rate == rate + 1
    screenshot(page, "journey-4-edit.png", docs="journey-4-edit.png")

    # 5. The card's link opens a new tab on that scene, as saved.
    with page.context.expect_page() as opened:
        card.locator(".plw-facts .photolab-deep-link").click()
    shared = opened.value
    wait_for_widgets(shared)
    notice = shared.locator(".photolab-link")
    expect(notice).to_contain_text(f"Opened scene {scene_id} from the link.")
    card = _scene_card(shared.locator(".plw-scene-board"), scene_id)
    expect(card.locator(".plw-rate")).to_contain_text(f"{rate + 1:g} / 10")
    expect(card.locator(".plw-params")).to_contain_text(f'"steps": {steps},')
    screenshot(shared, "journey-5-link.png")

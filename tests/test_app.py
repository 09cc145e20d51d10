"""The app page without a browser: tabs, deep links, the error page, the look."""

from __future__ import annotations

import io
import logging

import ipywidgets as w
import pytest
from ipywidgets.widgets.widget import _instances

from photolab_widgets.demo import seed_demo
from photolab_widgets.widgets import app as app_module
from photolab_widgets.widgets.app import AppPage, build_app, error_page, open_app
from photolab_widgets.widgets.gallery import TaskGallery
from photolab_widgets.widgets.links import APP_URL_ENV, DeepLink, parse_deep_link
from photolab_widgets.widgets.style import folded_text, status_badge
from tests.factories import add_scene, add_task, add_user
from tests.test_links import AWKWARD_NAMES, href_of


def _texts(widget: w.Widget) -> str:
    """Every HTML value under ``widget``, joined."""
    out = []
    stack = [widget]
    while stack:
        node = stack.pop()
        if isinstance(node, w.HTML):
            out.append(node.value)
        stack.extend(getattr(node, "children", ()))
    return "\n".join(out)


@pytest.fixture
def demo(studio):
    seed_demo(studio)
    return studio


def test_app_has_a_title_and_three_tabs(demo):
    page = build_app(demo)
    assert isinstance(page, AppPage)
    assert page.tabs.titles == ("Tasks", "Generate", "Scenes")
    assert "Photolab studio" in _texts(page)
    assert page.link_notice.value == ""
    page.show("Scenes")
    assert page.tabs.selected_index == 2
    page.close()


def test_links_select_the_tab_of_their_target(demo):
    collection = demo.collections()[0]
    scene_id = demo.scenes(collection, limit=1)[0][0].scene.scene_id
    task_id = demo.tasks(limit=1).rows[0].id

    page = build_app(demo, DeepLink(collection=collection))
    assert page.tabs.selected_index == 2
    assert "Opened collection" in page.link_notice.value
    page.close()
    page = build_app(demo, DeepLink(scene_id=scene_id))
    assert page.tabs.selected_index == 2
    assert f"Opened scene {scene_id}" in page.link_notice.value
    page.close()
    page = build_app(demo, DeepLink(scene_id=scene_id, task_id=task_id))
    assert page.tabs.selected_index == 0
    assert f"Opened task {task_id}" in page.link_notice.value
    page.close()


@pytest.mark.parametrize(
    "query, sentence",
    [
        ("task=999999", "Task 999999 does not exist."),
        ("scene=999999", "Scene 999999 does not exist."),
        ("collection=%3Cb%3Enope%3C%2Fb%3E", "No scene belongs to a collection"),
        ("scene=abc", "is not a scene number"),
    ],
)
def test_links_to_nothing_say_so_and_stay_on_the_first_tab(demo, query, sentence):
    page = build_app(demo, parse_deep_link(query))
    assert page.tabs.selected_index == 0
    assert sentence in page.link_notice.value.replace("&#x27;", "'")
    assert "photolab-warning" in page.link_notice.value
    assert "<b>" not in page.link_notice.value  # markup in the link is text
    page.close()


def test_links_reach_the_views(demo):
    collection = demo.collections()[1]
    scenes, _total = demo.scenes(collection, limit=50)
    scene_id = scenes[-1].scene.scene_id
    task_id = demo.tasks(limit=1).rows[0].id

    page = build_app(demo, DeepLink(scene_id=scene_id))
    board = page.views["Scenes"]
    assert board.collection_name == collection
    assert scene_id in [card.scene_id for card in board.cards]
    page.close()

    page = build_app(demo, DeepLink(collection=collection))
    assert page.views["Scenes"].collection_name == collection
    page.close()

    page = build_app(demo, DeepLink(task_id=task_id))
    assert [row.id for row in page.views["Tasks"].selected] == [task_id]
    page.close()


def test_open_app_reads_voilas_query_string(demo, monkeypatch):
    monkeypatch.setenv("QUERY_STRING", "scene=999999&token=x")
    page = open_app()
    assert "Scene 999999 does not exist." in page.link_notice.value
    page.close()


def test_open_app_shows_a_plain_sentence_when_the_database_fails(home, monkeypatch):
    secret = "S3cret-in-url"
    monkeypatch.setenv(
        "PHOTOLAB_DATABASE_URL", f"mysql+pymysql://root:{secret}@127.0.0.1:1/x"
    )
    page = open_app()
    text = _texts(page)
    assert "photolab-app-error" in page._dom_classes
    assert "Cannot use the database" in text and "root:***@" in text
    assert secret not in text and "Traceback" not in text


def test_server_log_masks_the_password(home, monkeypatch):
    secret = "S3cret-in-log"
    monkeypatch.setenv(
        "PHOTOLAB_DATABASE_URL", f"mysql+pymysql://root:{secret}@127.0.0.1:1/x"
    )
    package = logging.getLogger("photolab_widgets")
    monkeypatch.setattr(package, "handlers", [])
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    stderr = io.StringIO()
    monkeypatch.setattr("sys.__stderr__", stderr)
    app_module.log_to_server()
    try:
        logging.getLogger("photolab_widgets.anything").error("url was %s", secret)
    finally:
        package.handlers.clear()
    assert "url was ***" in stderr.getvalue()


def test_error_page_escapes_its_message():
    page = error_page("<script>x</script>")
    assert "<script>x" not in _texts(page)


def test_closing_pages_leaks_no_widgets(demo):
    build_app(demo).close()  # the first build imports and caches what it needs
    before = len(_instances)
    for _ in range(5):
        build_app(demo, DeepLink(collection=demo.collections()[0])).close()
    assert len(_instances) == before


@pytest.mark.parametrize(
    "status, word",
    [
        ("done", "Done"),
        ("failed", "Failed"),
        ("running", "Rendering"),
        ("undispatched", "Not sent"),
        ("weird<b>", "weird&lt;b&gt;"),
        (None, "unknown"),
    ],
)
def test_status_badges_have_words_and_colours(status, word):
    badge = status_badge(status)
    assert word in badge and "background:#" in badge


def test_long_prompts_fold_and_short_ones_do_not():
    assert "<details" not in folded_text("short")
    long = "海边的夏日写真 <i>" * 30
    folded = folded_text(long)
    assert folded.startswith("<details") and "more" in folded
    assert "<i>" not in folded and "&lt;i&gt;" in folded
    assert folded_text(None) == folded_text("") != ""


@pytest.mark.parametrize("name", AWKWARD_NAMES)
def test_every_view_offers_a_link_to_what_it_shows(studio, name):
    person = add_user(studio, "Ada")
    scene_id = add_scene(studio, collection_name=name)
    task_id = add_task(studio, scene_id, person, status="done")
    page = build_app(studio, link_base="")
    gallery, panel, board = (page.views[t] for t in ("Tasks", "Generate", "Scenes"))

    gallery.select(task_id)
    assert href_of(gallery.detail_html.value) == f"?task={task_id}"
    card_links = [href_of(card.facts.value) for card in board.cards]
    assert card_links == [f"?scene={scene_id}"]
    board.show_collection(name)
    assert parse_deep_link(href_of(board.position.value)).collection == name
    panel.collection.value = name
    assert parse_deep_link(href_of(panel.summary.value)).collection == name
    assert "<b>bold" not in _texts(page)  # the names show as text
    page.close()


def _one_task(studio) -> int:
    scene_id = add_scene(studio, collection_name="c")
    return add_task(studio, scene_id, add_user(studio, "Ada"), status="done")


def test_views_offer_no_link_where_a_relative_one_would_be_wrong(studio, monkeypatch):
    monkeypatch.delenv(APP_URL_ENV, raising=False)
    task_id = _one_task(studio)
    page = build_app(studio)  # as in JupyterLab without PHOTOLAB_APP_URL
    page.views["Tasks"].select(task_id)
    assert "class='photolab-deep-link'" not in _texts(page)
    page.close()


def test_views_outside_the_app_link_to_the_app_url(studio, monkeypatch):
    monkeypatch.setenv(APP_URL_ENV, "https://studio.internal/photolab/")
    task_id = _one_task(studio)
    gallery = TaskGallery(studio, auto_refresh=False)  # in a researcher's notebook
    gallery.select(task_id)
    assert href_of(gallery.detail_html.value) == (
        f"https://studio.internal/photolab/?task={task_id}"
    )
    gallery.close()

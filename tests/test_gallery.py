"""TaskGallery without a browser: built, clicked and refreshed as a person would."""

from __future__ import annotations

import base64
import re
import time
import warnings
from pathlib import Path

import ipywidgets as w
import pytest
from PIL import Image
from sqlalchemy import text

from photolab_widgets.config import OSS_TEST_BUCKET
from photolab_widgets.images import browser_src, image_url
from photolab_widgets.models import Task
from photolab_widgets.queries import TaskRow
from photolab_widgets.task_pages import TaskDetail
from photolab_widgets.widgets.app import build_app
from photolab_widgets.widgets.gallery import (
    DETAIL_ERROR_CHARS,
    TaskGallery,
    TaskNotFound,
    render_card,
    render_detail,
)
from tests.factories import add_scene, add_task, add_user

MARKUP = "<img src=x onerror=alert(1)><script>alert(2)</script>"


def live_widgets() -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return len(w.Widget.widgets)


@pytest.fixture
def gallery_of():
    """``gallery_of(studio, **options)``: a gallery closed after the test."""
    made: list[TaskGallery] = []

    def make(studio, **options) -> TaskGallery:
        options.setdefault("auto_refresh", False)
        g = TaskGallery(studio, **options)
        made.append(g)
        return g

    yield make
    for g in made:
        g.close()


def _cards(g: TaskGallery) -> list[w.VBox]:
    return list(g.grid.children)


def _card_html(g: TaskGallery, i: int) -> str:
    return _cards(g)[i].children[0].value


def _finish(studio, task_id: int, **fields) -> None:
    """What a worker does when it is done: update the row."""
    fields.setdefault("status", "done")
    with studio.session() as s:
        task = s.get(Task, task_id)
        for name, value in fields.items():
            setattr(task, name, value)


def _people_and_tasks(studio, n: int, **fields) -> list[int]:
    ada = add_user(studio, "Ada")
    sid = add_scene(studio, collection_name="c")
    return [add_task(studio, sid, ada, **fields) for _ in range(n)]


# -- pages ----------------------------------------------------------------


def test_first_page_is_the_newest_in_two_columns_in_three_queries(
    studio, count_queries, gallery_of
):
    ids = _people_and_tasks(studio, 25, status="done")
    with count_queries(studio) as q:
        g = gallery_of(studio, page_size=10)
    assert q.count <= 3
    assert [r.id for r in g.rows] == sorted(ids, reverse=True)[:10]
    assert len(_cards(g)) == 10
    assert g.grid.layout.grid_template_columns == "repeat(2, minmax(0, 1fr))"
    assert g.total == 25 and g.position == (1, 10)
    assert "Tasks 1–10 of 25" in g.position_label.value
    assert g.newer_button.disabled and not g.older_button.disabled


def test_older_and_newer_pages_cost_two_queries_and_no_widgets(
    studio, count_queries, gallery_of
):
    ids = sorted(_people_and_tasks(studio, 25, status="done"), reverse=True)
    g = gallery_of(studio, page_size=10)
    widgets = live_widgets()

    with count_queries(studio) as q:
        g.show_older()
    assert q.count == 2
    assert [r.id for r in g.rows] == ids[10:20] and g.position == (11, 20)
    g.show_older()
    assert [r.id for r in g.rows] == ids[20:] and len(_cards(g)) == 5
    assert "Tasks 21–25 of 25" in g.position_label.value
    assert g.older_button.disabled
    g.show_older()  # on the last page: stays, and says so
    assert g.position == (21, 25) and "last page" in g.status_area.value
    g.show_newer()
    assert [r.id for r in g.rows] == ids[10:20]
    g.newest_button.click()
    assert [r.id for r in g.rows] == ids[:10]
    assert live_widgets() == widgets


def test_filters_reload_the_first_page(studio, count_queries, gallery_of):
    ada, bob = add_user(studio, "Ada"), add_user(studio, "Bob")
    s1 = add_scene(studio, collection_name="c1")
    s2 = add_scene(studio, collection_name="c2")
    for i in range(12):
        add_task(studio, s1 if i % 2 else s2, ada if i % 3 else bob, status="done")
    failed = add_task(studio, s1, bob, status="failed", error="boom")
    g = gallery_of(studio, page_size=4)
    g.show_older()

    with count_queries(studio) as q:
        g.status_filter.value = "failed"
    assert q.count == 2
    assert [r.id for r in g.rows] == [failed] and g.total == 1
    assert g.page_number == 1

    g.status_filter.value = ""  # "(any)"
    g.collection_filter.value = "c1"
    assert g.total == 7 and {r.collection_name for r in g.rows} == {"c1"}
    g.person_filter.value = bob
    assert {r.person_id for r in g.rows} == {bob}
    assert g.total == 3

    g.set_filters(collection_name="c2", status="pending")
    assert g.rows == () and g.total == 0
    assert "No tasks match" in g.status_area.value
    assert g.filter.collection_name == "c2" and g.filter.person_id is None
    assert g.person_filter.label == "(any)"  # shown, not a blank box


def test_a_page_stays_within_the_widget_budget(studio, gallery_of):
    _people_and_tasks(studio, 120)
    before = live_widgets()
    g = gallery_of(studio, page_size=100)
    assert len(g.rows) == 100
    assert live_widgets() - before <= 400
    with pytest.raises(ValueError):
        gallery_of(studio, page_size=101)


def test_closing_releases_every_widget(studio):
    _people_and_tasks(studio, 6, status="pending")
    before = live_widgets()
    g = TaskGallery(studio, page_size=4, refresh_interval=0.05)
    g.show_older()
    g.select(g.rows[0].id)
    g.export_button.click()
    g.close()
    assert live_widgets() == before
    assert not g.auto_refreshing


# -- cards ----------------------------------------------------------------


def _row(**fields) -> TaskRow:
    from datetime import datetime

    values = dict(
        id=7,
        status="done",
        person_id=3,
        person_name="Ada",
        scene_id=5,
        collection_name="c",
        result_img_key="r/7.jpg",
        error=None,
        batch_id=None,
        created_at=datetime(2024, 5, 1, 12, 0),
        updated_at=datetime(2024, 5, 1, 12, 5),
    )
    values.update(fields)
    return TaskRow(**values)


def test_placeholders_say_why_there_is_no_picture(studio, gallery_of):
    ada = add_user(studio, "Ada")
    sid = add_scene(studio, collection_name="c")
    folder = Path(studio.settings.images_dir)
    (folder / "r").mkdir(parents=True)
    Image.new("RGB", (40, 60), "red").save(folder / "r" / "图 1.png")
    cases = {
        "pending": dict(status="pending"),
        "running": dict(status="running"),
        "failed": dict(status="failed", error="CUDA out of memory"),
        "no key": dict(status="done", result_img_key=None),
        "empty key": dict(status="done", result_img_key="  "),
        "missing file": dict(status="done", result_img_key="r/gone.jpg"),
        "picture": dict(status="done", result_img_key="r/图 1.png"),
    }
    ids = {name: add_task(studio, sid, ada, **f) for name, f in cases.items()}
    g = gallery_of(studio)
    html = {
        name: _card_html(g, g.rows.index(next(r for r in g.rows if r.id == i)))
        for name, i in ids.items()
    }

    assert "pending…" in html["pending"] and "<img" not in html["pending"]
    assert "running…" in html["running"]
    assert "Render failed" in html["failed"] and "CUDA out of memory" in html["failed"]
    assert "No image key" in html["no key"] and "No image key" in html["empty key"]
    assert (
        "Image not found" in html["missing file"]
        and "r/gone.jpg" in html["missing file"]
    )
    assert "<img src='data:image/jpeg;base64," in html["picture"]


def test_remote_keys_go_to_the_browser_as_resized_urls():
    src = browser_src(image_url("results/海边 1.jpg", OSS_TEST_BUCKET), 360)
    card = render_card(_row(result_img_key="results/海边 1.jpg"), src)
    assert (
        "src='https://photolab-test.oss-cn-shenzhen.aliyuncs.com/results/"
        "%E6%B5%B7%E8%BE%B9%201.jpg?x-oss-process=image/resize,w_360'"
    ) in card
    absolute = "https://cdn.example.com/a.png?sig=1&x='y'"
    card = render_card(_row(result_img_key=absolute), browser_src(absolute, 360))
    assert "src='https://cdn.example.com/a.png?sig=1&amp;x=&#x27;y&#x27;'" in card


def test_markup_in_every_field_is_shown_as_text(studio, gallery_of):
    ada = add_user(studio, MARKUP)
    sid = add_scene(studio, collection_name=MARKUP, name=MARKUP, prompt=MARKUP)
    tid = add_task(
        studio, sid, ada, status="failed", error=MARKUP, result_img_key=MARKUP
    )
    g = gallery_of(studio)
    g.select(tid)
    for html in (_card_html(g, 0), g.detail_html.value):
        assert "<script" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in _card_html(g, 0)
    assert "&lt;img src=x onerror=alert(1)&gt;" in g.detail_html.value


def test_long_errors_are_folded(studio, gallery_of):
    huge = "Traceback (most recent call last):\n" + "x" * 200_000
    (tid,) = _people_and_tasks(studio, 1, status="failed", error=huge)
    g = gallery_of(studio)
    card = _card_html(g, 0)
    assert "<details class='plg-error'><summary>Traceback" in card
    assert len(card) < 6_000
    g.select(tid)
    assert DETAIL_ERROR_CHARS < len(g.detail_html.value) < DETAIL_ERROR_CHARS + 5_000
    assert "more characters (the CSV has all)" in g.detail_html.value


def test_tasks_whose_person_and_scene_are_gone(studio, gallery_of):
    ghost = add_user(studio, "Ghost")
    sid = add_scene(studio, collection_name="c")
    tid = add_task(studio, sid, ghost)
    with studio.session() as s:
        s.execute(text("DELETE FROM users WHERE id = :i"), {"i": ghost})
        s.execute(text("DELETE FROM scenes WHERE scene_id = :i"), {"i": sid})
    g = gallery_of(studio)
    assert f"unknown person</span> (#{ghost})" in _card_html(g, 0)
    g.select(tid)
    assert f"#{sid} <span class='plg-muted'>(scene deleted)</span>" in (
        g.detail_html.value
    )


# -- selection and export -------------------------------------------------


def test_a_card_click_opens_the_detail_panel(studio, gallery_of, count_queries):
    ids = sorted(_people_and_tasks(studio, 3, status="done"), reverse=True)
    g = gallery_of(studio)
    seen = []
    g.on_select(seen.append)
    assert g.selected == () and g.detail_panel.layout.display == "none"

    button = _cards(g)[1].children[1]
    with count_queries(studio) as q:
        button.click()
    assert q.count == 1
    assert [r.id for r in g.selected] == [ids[1]] and seen == list(g.selected)
    assert g.detail_panel.layout.display == "flex"
    assert f"<h3>Task #{ids[1]}</h3>" in g.detail_html.value
    assert "plg-selected" in _cards(g)[1]._dom_classes
    assert "plg-with-detail" in g.main._dom_classes  # narrow: cards in one column

    g.select(ids[0])
    assert "plg-selected" not in _cards(g)[1]._dom_classes
    assert "plg-selected" in _cards(g)[0]._dom_classes
    g.close_detail_button.click()
    assert g.selected == () and g.detail_panel.layout.display == "none"
    assert seen[-1] is None
    assert "plg-with-detail" not in g.main._dom_classes

    with pytest.raises(TaskNotFound):
        g.select(999_999)


def test_the_detail_links_only_urls_a_page_can_open():
    row = _row(result_img_key="r/1.jpg")
    detail = TaskDetail(row, None, True, "s", "p")
    remote = render_detail(detail, None, OSS_TEST_BUCKET + "r/1.jpg")
    assert f"<a href='{OSS_TEST_BUCKET}r/1.jpg'" in remote
    # A browser refuses file:// from an http page: the path is shown as text.
    local = render_detail(detail, None, "file:///tmp/images/r/1.jpg")
    assert "<a href='file:" not in local and "file:///tmp/images/r/1.jpg" in local


def test_clicking_a_card_whose_task_was_deleted_says_so(studio, gallery_of):
    (tid,) = _people_and_tasks(studio, 1)
    g = gallery_of(studio)
    with studio.session() as s:
        s.execute(text("DELETE FROM tasks WHERE id = :i"), {"i": tid})
    _cards(g)[0].children[1].click()
    assert f"task #{tid} does not exist" in g.status_area.value
    assert g.selected == ()


def test_export_is_the_filtered_view_with_image_urls(studio, gallery_of, tmp_path):
    ada = add_user(studio, "李伟")
    sid = add_scene(studio, collection_name="夏日")
    other = add_scene(studio, collection_name="other")
    for i in range(30):
        add_task(studio, sid, ada, status="done", result_img_key=f"r/{i} 图.jpg")
    add_task(studio, other, ada)
    g = gallery_of(studio, page_size=5)
    g.collection_filter.value = "夏日"

    csv_text = g.export_csv(tmp_path / "tasks.csv")
    lines = csv_text.strip().splitlines()
    assert len(lines) == 31  # header and every page, not just the one shown
    assert "/r/29%20%E5%9B%BE.jpg" in lines[1]
    assert (tmp_path / "tasks.csv").read_bytes().decode("utf-8") == csv_text

    g.export_button.click()
    link = g.download_link.value
    assert re.search(r"\(30 tasks, \d KB\)", link)  # not "0.0 MB"
    data = link.split("base64,", 1)[1].split("'", 1)[0]
    assert base64.b64decode(data).decode("utf-8") == "\ufeff" + csv_text


# -- refresh --------------------------------------------------------------


def test_refresh_rewrites_only_the_changed_card(studio, count_queries, gallery_of):
    ids = sorted(_people_and_tasks(studio, 8, status="running"), reverse=True)
    g = gallery_of(studio, page_size=3)
    g.status_filter.value = "running"
    g.show_older()
    cards = _cards(g)
    before = [c.children[0].value for c in cards]
    assert [r.id for r in g.rows] == ids[3:6]

    _finish(studio, ids[4], result_img_key="r/4.jpg")
    with count_queries(studio) as q:
        changed = g.refresh()
    assert changed == 1 and q.count == 2
    after = [c.children[0].value for c in _cards(g)]
    assert _cards(g) == cards  # the same widgets, not rebuilt
    assert after[0] == before[0] and after[2] == before[2]
    assert after[1] != before[1] and "plg-badge-done" in after[1]
    assert g.page_number == 2 and g.filter.status == "running"
    assert g.total == 7  # the count follows the filter


def test_refresh_on_the_newest_page_shows_tasks_created_since(studio, gallery_of):
    ids = _people_and_tasks(studio, 3)
    g = gallery_of(studio, page_size=4)
    cards = _cards(g)
    with studio.session() as s:
        scene_id, person_id = (
            s.get(Task, ids[0]).scene_id,
            s.get(Task, ids[0]).person_id,
        )
    new = [add_task(studio, scene_id, person_id) for _ in range(2)]  # a Generate

    assert g.refresh() == 4  # every card shows another task now
    assert [r.id for r in g.rows] == [new[1], new[0], ids[2], ids[1]]
    assert _cards(g)[:3] == cards  # the cards are reused, one is added
    assert "Tasks 1–4 of 5" in g.position_label.value
    assert not g.older_button.disabled
    assert g.refresh() == 0  # nothing new: nothing moves


def test_refresh_shows_new_tasks_when_as_many_left_the_filter(studio, gallery_of):
    # Two running tasks finish while a Generate adds two: the total stays 2.
    ids = _people_and_tasks(studio, 2, status="running")
    g = gallery_of(studio)
    g.status_filter.value = "running"
    with studio.session() as s:
        scene_id, person_id = (
            s.get(Task, ids[0]).scene_id,
            s.get(Task, ids[0]).person_id,
        )
    for task_id in ids:
        _finish(studio, task_id)
    new = [add_task(studio, scene_id, person_id, status="running") for _ in range(2)]

    g.refresh()
    assert [r.id for r in g.rows] == sorted(new, reverse=True)


def test_refresh_marks_a_deleted_task(studio, gallery_of):
    ids = _people_and_tasks(studio, 2)
    g = gallery_of(studio)
    with studio.session() as s:
        s.execute(text("DELETE FROM tasks WHERE id = :i"), {"i": ids[0]})
    assert g.refresh() == 1
    assert f"Task #{ids[0]} no longer exists" in _card_html(g, 1)
    assert g.total == 1


def test_twenty_refreshes_leave_the_widget_count_alone(studio, gallery_of):
    ids = _people_and_tasks(studio, 6, status="running")
    g = gallery_of(studio, page_size=4)
    g.select(ids[-1])
    g.refresh()
    widgets = live_widgets()
    for i in range(20):
        if i % 5 == 0:
            _finish(studio, ids[-1 - i // 5], status="failed", error=f"e{i}")
        g.refresh()
    assert live_widgets() == widgets
    g.refresh_button.click()
    assert live_widgets() == widgets


def _wait_for(condition, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_auto_refresh_runs_while_unfinished_and_stops(studio, gallery_of):
    ids = _people_and_tasks(studio, 2, status="done")
    pending = _people_and_tasks(studio, 1, status="queued")[0]
    g = gallery_of(studio, auto_refresh=True, refresh_interval=0.05)
    assert g.auto_refreshing

    _finish(studio, pending, status="failed", error="no GPU")
    assert _wait_for(lambda: "no GPU" in _card_html(g, 0))
    assert _wait_for(lambda: not g.auto_refreshing)
    assert [r.id for r in g.rows][1:] == sorted(ids, reverse=True)


def test_a_new_page_brings_the_quick_refresh_back(studio, gallery_of):
    # Nothing changed for a while, so the refresher waits long; the researcher
    # turns to another page of unfinished tasks: it is watched closely again.
    ids = _people_and_tasks(studio, 4, status="running")
    g = gallery_of(
        studio,
        auto_refresh=True,
        page_size=2,
        refresh_interval=0.05,
        max_refresh_interval=30.0,
    )
    time.sleep(1.7)  # pauses 0.05, 0.1, ... 0.8 end at 1.55 s; then 1.6 s
    g.show_older()
    _finish(studio, ids[0], status="failed", error="no GPU")
    assert _wait_for(lambda: "no GPU" in _card_html(g, 1), timeout=1.0)


def test_auto_refresh_stops_when_the_gallery_closes(studio):
    _people_and_tasks(studio, 1, status="pending")
    g = TaskGallery(studio, refresh_interval=0.05)
    assert g.auto_refreshing
    g.close()
    assert not g.auto_refreshing


def test_a_failing_refresh_is_one_sentence(studio, gallery_of, caplog):
    _people_and_tasks(studio, 2)
    g = gallery_of(studio)
    with studio.session() as s:
        s.execute(text("DROP TABLE tasks"))
    g.refresh_button.click()
    assert "Could not refresh the tasks." in g.status_area.value
    assert any(r.exc_info for r in caplog.records)  # the traceback is logged


def test_the_app_shows_the_gallery_in_its_tasks_tab(studio):
    app = build_app(studio)
    index = app.tabs.titles.index("Tasks")
    gallery = app.tabs.children[index]
    assert isinstance(gallery, TaskGallery)
    app.close()


def test_the_bench_prints_both_builds_and_the_goals(capsys):
    from photolab_widgets.cli import main

    code = main(["bench", "gallery", "--tasks", "45", "--naive-cap", "10"])
    out = capsys.readouterr().out
    assert code == 0
    for line in (
        "45 tasks on sqlite",
        "TaskGallery, first page",
        "TaskGallery, next page",
        "naive: SELECT *, a card per task",
        "ratio naive / gallery",
        "extrapolated",
        "goals: first page < 0.3 s",
    ):
        assert line in out


def test_a_database_without_tables_still_builds_the_gallery(home, caplog):
    from photolab_widgets.config import Settings
    from photolab_widgets.studio import Studio

    studio = Studio(Settings.from_env(home=home))  # no init_db: no tables
    before = live_widgets()
    g = TaskGallery(studio, auto_refresh=False)
    assert "Could not load the tasks." in g.status_area.value
    assert g.rows == () and g.collection_filter.options == (("(any)", ""),)
    assert any(r.exc_info for r in caplog.records)
    g.close()
    studio.close()
    assert live_widgets() == before

"""The gallery's reads: keyset pages, filter choices, detail and CSV."""

from __future__ import annotations

import csv
import io

from sqlalchemy import text

from photolab_widgets.queries import TaskFilter
from photolab_widgets.task_pages import CSV_COLUMNS
from tests.factories import add_scene, add_task, add_user


def _tasks(studio, n: int, **fields) -> list[int]:
    ada = add_user(studio, "Ada")
    sid = add_scene(studio, collection_name="c")
    return [add_task(studio, sid, ada, **fields) for _ in range(n)]


def test_keyset_pages_walk_every_task_once_newest_first(studio, count_queries):
    ids = _tasks(studio, 7)
    seen: list[int] = []
    before = None
    with count_queries(studio) as q:
        while True:
            page = studio.task_slice(before_id=before, limit=3)
            seen += [r.id for r in page.rows]
            assert page.total == 7
            if not page.has_more:
                break
            before = page.rows[-1].id
    assert seen == sorted(ids, reverse=True)
    assert q.count == 3 * 2  # three pages, each one row query and one count


def test_an_exactly_full_last_page_has_no_more(studio):
    _tasks(studio, 4)
    first = studio.task_slice(limit=2)
    second = studio.task_slice(before_id=first.rows[-1].id, limit=2)
    assert first.has_more and not second.has_more
    assert len(second.rows) == 2


def test_filters_combine_and_count(studio):
    ada, bob = add_user(studio, "Ada"), add_user(studio, "Bob")
    s1 = add_scene(studio, collection_name="c1")
    s2 = add_scene(studio, collection_name="c2")
    add_task(studio, s1, ada, status="done")
    add_task(studio, s1, bob, status="pending")
    add_task(studio, s2, bob, status="done")
    add_task(studio, s2, bob, status="done")

    def ids(**kw):
        page = studio.task_slice(TaskFilter(**kw), limit=10)
        assert page.total == len(page.rows)
        return len(page.rows)

    assert ids() == 4
    assert ids(collection_name="c2") == 2
    assert ids(person_id=bob) == 3
    assert ids(status="done") == 3
    assert ids(collection_name="c1", person_id=bob, status="done") == 0
    assert studio.count_tasks(TaskFilter(status="pending")) == 1


def test_filter_options_in_one_query(studio, count_queries):
    add_user(studio, "王芳 🌸")
    add_user(studio, "<b>Bob</b>")
    for name in ["b", "a", "b", None, "", "猫 🐱"]:
        add_scene(studio, collection_name=name)
    with count_queries(studio) as q:
        options = studio.task_filter_options()
    assert q.count == 1
    assert options.collections == ("a", "b", "猫 🐱")
    assert [p.name for p in options.persons] == ["王芳 🌸", "<b>Bob</b>"]


def test_detail_of_a_task_whose_scene_and_person_are_gone(studio):
    ada = add_user(studio, "Ada")
    sid = add_scene(studio, collection_name="c", name="Beach", prompt="sun <i>")
    kept = add_task(studio, sid, ada)
    detail = studio.task_detail(kept)
    assert detail is not None and detail.scene_exists
    assert (detail.scene_name, detail.prompt) == ("Beach", "sun <i>")

    with studio.session() as s:
        s.execute(text("DELETE FROM scenes WHERE scene_id = :i"), {"i": sid})
        s.execute(text("DELETE FROM users WHERE id = :i"), {"i": ada})
    orphan = studio.task_detail(kept)
    assert orphan is not None and not orphan.scene_exists
    assert orphan.task.scene_id == sid and orphan.task.person_name is None
    assert studio.task_detail(999_999) is None


def test_csv_has_every_filtered_task_with_image_urls(studio):
    ada = add_user(studio, '李伟, "Li"')
    sid = add_scene(studio, collection_name="夏日 c")
    other = add_scene(studio, collection_name="other")
    add_task(studio, sid, ada, status="done", result_img_key="r/a b 图.jpg")
    add_task(studio, sid, ada, status="failed", error="line 1\nline 2, with comma")
    add_task(studio, other, ada, result_img_key="https://cdn.example/x.png")

    out = io.StringIO()
    n = studio.export_tasks_csv(out, TaskFilter(collection_name="夏日 c"))
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert n == 2 and len(rows) == 2
    assert tuple(rows[0]) == CSV_COLUMNS
    failed, done = rows
    assert failed["error"] == "line 1\nline 2, with comma"
    assert failed["image_url"] == "" and failed["person_name"] == '李伟, "Li"'
    base = studio.settings.image_base_url.rstrip("/")
    assert done["image_url"] == base + "/r/a%20b%20%E5%9B%BE.jpg"

    out = io.StringIO()
    studio.export_tasks_csv(out, TaskFilter(collection_name="other"))
    (absolute,) = csv.DictReader(io.StringIO(out.getvalue()))
    assert absolute["image_url"] == "https://cdn.example/x.png"


def test_csv_cells_cannot_start_a_spreadsheet_formula(sqlite_studio):
    studio = sqlite_studio
    evil = add_user(studio, '=HYPERLINK("http://evil.example","x")')
    sid = add_scene(studio, collection_name="+cmd|' /C calc'!A0")
    add_task(studio, sid, evil, status="failed", error="@SUM(1+1)")
    out = io.StringIO()
    studio.export_tasks_csv(out)
    (row,) = csv.DictReader(io.StringIO(out.getvalue()))
    assert row["person_name"] == "'" + '=HYPERLINK("http://evil.example","x")'
    assert row["collection_name"] == "'+cmd|' /C calc'!A0"
    assert row["error"] == "'@SUM(1+1)"

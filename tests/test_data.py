"""Models and read functions, on SQLite and on a real MariaDB."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from photolab_widgets.dispatch.batches import GenerateError
from photolab_widgets.edits import SceneNotFound
from photolab_widgets.models import Scene, Task
from photolab_widgets.queries import TaskFilter
from tests.factories import add_scene, add_task, add_user

EMOJI_PROMPT = "海边写真 🌅 with <b>markup</b> & 'quotes' 👩‍👩‍👧"


def test_scene_round_trips_utf8mb4_and_json(studio):
    params = {
        "风格": "胶片 🎞️",
        "steps": 30,
        "cfg": 7.5,
        "seed": 2**60 + 1,
        "nested": {"empty": {}, "list": []},
    }
    sid = add_scene(
        studio,
        prompt=EMOJI_PROMPT,
        collection_name="夏日 🐾",
        params=params,
        hint_img_list=["pose/1.png", "depth/1.png"],
        rate=7.5,
    )
    with studio.session() as s:
        scene = s.get(Scene, sid)
        assert scene.prompt == EMOJI_PROMPT
        assert scene.collection_name == "夏日 🐾"
        assert scene.params == params
        assert scene.rate == 7.5
        assert scene.pose_img_key == "pose/1.png"
        raw = s.execute(
            text("SELECT params FROM scenes WHERE scene_id = :i"), {"i": sid}
        ).scalar_one()
    assert "胶片" in raw  # stored as characters, not \u escapes


def test_none_is_sql_null_not_json_null(studio):
    sid = add_scene(studio, params=None, hint_img_list=None)
    with studio.session() as s:
        is_null = s.execute(
            text("SELECT params IS NULL FROM scenes WHERE scene_id = :i"), {"i": sid}
        ).scalar_one()
    assert is_null == 1


def test_pose_image_is_optional(studio):
    a = add_scene(studio, hint_img_list=None)
    b = add_scene(studio, hint_img_list=[])
    with studio.session() as s:
        assert s.get(Scene, a).pose_img_key is None
        assert s.get(Scene, b).pose_img_key is None


def test_collections_are_distinct_sorted_and_non_null(studio):
    for name in ["b", "a", "b", None, "", "   ", "\t", "猫 🐱"]:
        add_scene(studio, collection_name=name)
    # Only names Generate takes: white space alone names nothing to pick.
    assert studio.collections() == ["a", "b", "猫 🐱"]
    assert list(studio.task_filter_options().collections) == ["a", "b", "猫 🐱"]


def test_persons_and_tasks_page_with_filters(studio):
    ada = add_user(studio, "Ada 🧪")
    bob = add_user(studio, "Bob")
    s1 = add_scene(studio, collection_name="c1")
    s2 = add_scene(studio, collection_name="c2")
    ids = [add_task(studio, s1, ada) for _ in range(3)]
    ids += [add_task(studio, s2, bob, status="done") for _ in range(2)]
    assert [(p.id, p.name) for p in studio.persons()] == [(ada, "Ada 🧪"), (bob, "Bob")]

    page = studio.tasks(limit=2)
    assert page.total == 5
    assert [r.id for r in page.rows] == sorted(ids, reverse=True)[:2]
    page2 = studio.tasks(limit=2, offset=2)
    assert [r.id for r in page2.rows] == sorted(ids, reverse=True)[2:4]

    by_c1 = studio.tasks(collection_name="c1")
    assert by_c1.total == 3 and {r.person_name for r in by_c1.rows} == {"Ada 🧪"}
    assert studio.tasks(person_id=bob).total == 2
    assert studio.tasks(status="done").total == 2
    assert studio.tasks(status="done", person_id=ada).total == 0


def test_task_of_a_deleted_person_keeps_its_id(studio):
    ghost = add_user(studio, "Ghost")
    sid = add_scene(studio, collection_name="c")
    tid = add_task(studio, sid, ghost)
    with studio.session() as s:
        s.execute(text("DELETE FROM users WHERE id = :i"), {"i": ghost})
    row = studio.tasks_by_id([tid])[tid]
    assert row.person_id == ghost and row.person_name is None


def test_scene_with_tasks_and_scenes_page(studio, count_queries):
    ada = add_user(studio)
    scenes = [add_scene(studio, collection_name="c") for _ in range(5)]
    add_scene(studio, collection_name="other")
    for sid in scenes:
        add_task(studio, sid, ada)
        add_task(studio, sid, ada)
    one = studio.scene(scenes[0])
    assert one is not None and one.scene.scene_id == scenes[0]
    assert [t.scene_id for t in one.tasks] == [scenes[0]] * 2
    assert studio.scene(999_999) is None

    with count_queries(studio) as q:
        page, total = studio.scenes("c", limit=3)
    assert total == 5
    assert [p.scene.scene_id for p in page] == scenes[:3]
    assert all(len(p.tasks) == 2 for p in page)
    assert q.count <= 3  # scenes, their tasks, the count: never one per scene


def test_task_defaults(studio):
    ada = add_user(studio)
    sid = add_scene(studio)
    tid = add_task(studio, sid, ada)
    with studio.session() as s:
        task = s.scalars(select(Task).where(Task.id == tid)).one()
        assert task.status == "pending"
        assert task.created_at is not None and task.updated_at is not None


def test_paging_arguments_are_checked(sqlite_studio):
    import pytest

    for bad in ({"limit": -1}, {"offset": -5}, {"limit": "5"}, {"limit": 0}):
        with pytest.raises(ValueError, match="page"):
            sqlite_studio.tasks(**bad)
        with pytest.raises(ValueError, match="page"):
            sqlite_studio.scenes(**bad)


# Names MySQL's usual collations (utf8mb4_unicode_ci, _general_ci, 0900_ai_ci)
# take for one: case, a trailing space, two emoji of one weight.
NEAR_NAMES = ["Summer", "summer", "summer ", "夏日 🌸", "夏日 🎉"]


def test_collection_names_are_matched_exactly(studio):
    person = add_user(studio)
    scenes = {name: add_scene(studio, collection_name=name) for name in NEAR_NAMES}
    for scene in scenes.values():
        add_task(studio, scene, person, status="done")

    assert studio.collections() == sorted(NEAR_NAMES)
    assert list(studio.task_filter_options().collections) == sorted(NEAR_NAMES)
    for name, scene in scenes.items():
        assert studio.count_scenes(name) == 1, name
        page, total = studio.scenes(name)
        assert ([s.scene.scene_id for s in page], total) == ([scene], 1), name
        assert studio.scene_offset(scene, name) == 0, name
        tasks = studio.tasks(collection_name=name)
        assert [t.scene_id for t in tasks.rows] == [scene], name
        assert studio.count_tasks(TaskFilter(collection_name=name)) == 1, name

    result = studio.generate("Summer", person)
    with studio.session() as s:
        made = s.execute(
            select(Task.scene_id, Task.collection_name).where(
                Task.batch_id == result.batch_id
            )
        ).all()
    assert [tuple(row) for row in made] == [(scenes["Summer"], "Summer")]


# Ids typed into a text box or read from a CSV arrive as text; ids no row can
# have overflow the drivers (SQLite takes 64 bits, MySQL's int 32).
WRONG_TYPES = ["1", 1.0, True, None]
NO_SUCH_ROW = [0, -1, 2**31, 10**30]


@pytest.mark.parametrize("bad", WRONG_TYPES, ids=repr)
def test_ids_of_another_type_are_refused_with_a_sentence(studio, bad):
    add_scene(studio)
    calls = {
        "scene": lambda: studio.scene(bad),
        "bump_rate": lambda: studio.bump_rate(bad, 1),
        "save_params": lambda: studio.save_params(bad, {}),
        "batch_progress": lambda: studio.batch_progress(bad),
        "cancel_batch": lambda: studio.cancel_batch(bad),
        "retry_batch": lambda: studio.retry_batch(bad),
        "task_detail": lambda: studio.task_detail(bad),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match="is a whole number") as caught:
            call()
        assert repr(bad) in str(caught.value), name


@pytest.mark.parametrize("big", NO_SUCH_ROW)
def test_ids_no_row_can_have_are_simply_not_found(studio, big):
    scene = add_scene(studio)
    add_task(studio, scene, add_user(studio))
    assert studio.scene(big) is None
    assert studio.task_detail(big) is None
    assert studio.tasks_by_id([big]) == {}
    assert studio.tasks(person_id=big).rows == ()
    with pytest.raises(SceneNotFound):
        studio.bump_rate(big, 1)
    with pytest.raises(SceneNotFound):
        studio.save_params(big, {})
    for call in (studio.batch_progress, studio.cancel_batch, studio.retry_batch):
        with pytest.raises(GenerateError, match=f"no batch {big}"):
            call(big)

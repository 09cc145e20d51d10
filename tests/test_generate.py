"""Generate without a worker: the rows written and the messages published.

The canvas is checked on what the broker really holds (the message files of
the embedded broker, or the Redis list), decoded from the stored bytes.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import delete, event, func, select, update

from photolab_widgets import Studio
from photolab_widgets.config import Settings
from photolab_widgets.db import make_engine
from photolab_widgets.dispatch import batches
from photolab_widgets.dispatch.batches import BrokerUnavailable, GenerateError
from photolab_widgets.dispatch.canvas import Design
from photolab_widgets.dispatch.tasks import WorkerContext, claim
from photolab_widgets.dispatch.wire import WireMessage, queued_messages
from photolab_widgets.models import Batch, Scene, Task, TaskStatus
from photolab_widgets.processes import free_port
from tests.factories import add_scene, add_user
from tests.workers import redis_settings, use_queue


def add_collection(studio: Studio, name: str, n: int) -> list[int]:
    return [add_scene(studio, collection_name=name, prompt=f"p{i}") for i in range(n)]


def task_rows(studio: Studio) -> list[Task]:
    with studio.session() as s:
        return list(s.scalars(select(Task).order_by(Task.id)))


def row_counts(studio: Studio) -> tuple[int, int]:
    with studio.session() as s:
        tasks = s.scalar(select(func.count()).select_from(Task))
        batches_ = s.scalar(select(func.count()).select_from(Batch))
    return tasks or 0, batches_ or 0


def render_sigs(message: WireMessage) -> list[dict]:
    """The render signatures a set-up message carries (chain or chord)."""
    if message.embed.get("chain"):
        return list(message.embed["chain"])
    chord = message.embed["chord"]
    assert chord["task"] == "celery.group"
    return list(chord["kwargs"]["tasks"])


def assert_render_sig(sig: dict, task: Task) -> None:
    assert sig["task"] == "render_scene"
    assert sig["args"] == [task.id]
    assert sig["kwargs"] == {}
    assert sig["immutable"] is True
    assert sig["options"]["task_id"] == task.celery_id


# -- the canvas, as published ------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 5])
def test_spec_canvas_as_published(studio, n):
    scene_ids = add_collection(studio, "c", n)
    person = add_user(studio)

    result = studio.generate("c", person)

    tasks = task_rows(studio)
    assert result.design is Design.CHAIN_OF_GROUPS
    assert list(result.task_ids) == [t.id for t in tasks]
    assert list(result.celery_ids) == [t.celery_id for t in tasks]
    assert sorted(t.scene_id for t in tasks) == scene_ids
    assert {t.status for t in tasks} == {TaskStatus.QUEUED}
    assert {(t.person_id, t.collection_name, t.batch_id) for t in tasks} == {
        (person, "c", result.batch_id)
    }
    by_id = {t.id: t for t in tasks}

    messages = queued_messages(studio.settings)
    set_ups = [m for m in messages if m.task == "set_up_scene"]
    assert sorted(m.args[0] for m in set_ups) == scene_ids
    assert all(len(m.args) == 1 and m.kwargs == {} for m in set_ups)
    for message in set_ups:
        sigs = render_sigs(message)
        # every set-up carries the whole render group: all tasks, immutable
        assert sorted(sig["args"][0] for sig in sigs) == sorted(by_id)
        for sig in sigs:
            assert_render_sig(sig, by_id[sig["args"][0]])
    others = {m.task for m in messages} - {"set_up_scene"}
    if n == 1:
        # Celery unrolls one-task groups: the chain set_up -> render.
        assert set_ups[0].embed["chain"] and not set_ups[0].embed["chord"]
        assert others == set()
    else:
        assert all(m.embed["chord"] and not m.embed["chain"] for m in set_ups)
        # the SQLite result backend counts the header with Celery's poller
        assert others == {"celery.chord_unlock"}


@pytest.mark.redis
def test_spec_canvas_on_redis_is_a_native_chord(sqlite_studio, redis_url, home):
    studio = Studio(redis_settings(home, redis_url))
    studio.init_db()
    queue = use_queue(studio)
    try:
        add_collection(studio, "c", 2)
        result = studio.generate("c", add_user(studio))
        messages = queued_messages(studio.settings, queue)
        assert [m.task for m in messages] == ["set_up_scene", "set_up_scene"]
        tasks = {t.id: t for t in task_rows(studio)}
        for message in messages:
            assert message.headers["group"]
            for sig in render_sigs(message):
                assert_render_sig(sig, tasks[sig["args"][0]])
        assert set(result.task_ids) == set(tasks)
    finally:
        from photolab_widgets.dispatch.wire import purge

        purge(studio.settings, queue)
        studio.close()


def test_large_batch_sends_one_chain_per_scene(sqlite_studio):
    studio = sqlite_studio
    n = 60
    add_collection(studio, "big", n)

    result = studio.generate("big", add_user(studio))

    assert result.design is Design.SCENE_CHAINS
    tasks = {t.id: t for t in task_rows(studio)}
    messages = queued_messages(studio.settings)
    assert len(messages) == n
    for message in messages:
        assert message.task == "set_up_scene"
        assert message.headers["ignore_result"] is True
        (sig,) = render_sigs(message)
        task = tasks[sig["args"][0]]
        assert message.args == [task.scene_id]  # its own scene's render only
        assert_render_sig(sig, task)
        assert not message.embed["chord"]
    per_scene = sum(m.size for m in messages) / n
    assert per_scene < 2048, per_scene  # plus ~1 KB when the worker sends the render


# -- bad input ---------------------------------------------------------------


def test_generate_refuses_bad_input_and_writes_nothing(studio):
    person = add_user(studio)
    add_collection(studio, "c", 2)
    gone = add_collection(studio, "gone", 2)
    with studio.session() as s:
        s.execute(delete(Scene).where(Scene.scene_id.in_(gone)))

    cases = [
        ("", person, "Choose a collection"),
        ("   ", person, "Choose a collection"),
        (None, person, "Choose a collection"),
        ("no such collection", person, "has no scenes"),
        ("gone", person, "has no scenes"),
        ("c", 9999, "no person with id 9999"),
        ("c", None, "Choose a person"),
        ("c", "1", "whole number"),
        ("c", 2**70, "no person with id"),
        ("c", -1, "no person with id -1"),
    ]
    for collection, person_id, words in cases:
        with pytest.raises(GenerateError, match=words):
            studio.generate(collection, person_id)
    assert row_counts(studio) == (0, 0)
    assert queued_messages(studio.settings) == []


# -- broker down -------------------------------------------------------------


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    for conn in accepted:
        conn.close()
    server.close()


@pytest.mark.parametrize("kind", ["refused", "silent"])
@pytest.mark.parametrize("n", [2, 60])
def test_broker_down_keeps_tasks_then_retry_sends_them(
    sqlite_studio, home, kind, n, request
):
    port = free_port() if kind == "refused" else request.getfixturevalue("silent_port")
    url = f"redis://127.0.0.1:{port}/0"
    down = Studio(Settings.from_env(home=home, broker_url=url, result_backend=url))
    add_collection(down, "c", n)
    person = add_user(down)

    started = time.monotonic()
    with pytest.raises(BrokerUnavailable) as info:
        down.generate("c", person)
    assert time.monotonic() - started < 5

    message = str(info.value)
    assert "Could not reach the task queue at redis://127.0.0.1" in message
    assert f"{n} of {n} tasks were kept as not sent" in message
    tasks = task_rows(down)
    assert len(tasks) == n
    assert {t.status for t in tasks} == {TaskStatus.UNDISPATCHED}
    assert all(t.error and t.error.startswith("not sent:") for t in tasks)
    assert set(info.value.task_ids) == {t.id for t in tasks}
    progress = down.batch_progress(info.value.batch_id)
    assert progress.status == "undispatched" and progress.finished
    down.close()

    # The broker is back (here: the embedded one): Retry sends the same rows.
    up = sqlite_studio
    result = up.retry_batch(info.value.batch_id)
    again = task_rows(up)
    assert [t.id for t in again] == [t.id for t in tasks]  # no duplicates
    assert {t.status for t in again} == {TaskStatus.QUEUED}
    assert {t.error for t in again} == {None}
    assert set(result.task_ids) == {t.id for t in tasks}
    published = queued_messages(up.settings)
    assert {m.task for m in published} >= {"set_up_scene"}
    assert row_counts(up) == (n, 1)


# -- cancel and retry ----------------------------------------------------------


def test_cancel_then_retry_reuses_rows_with_new_celery_ids(studio):
    add_collection(studio, "c", 3)
    first = studio.generate("c", add_user(studio))

    cancelled = studio.cancel_batch(first.batch_id)

    assert cancelled.cancelled == 3 and cancelled.revoked
    assert {t.status for t in task_rows(studio)} == {TaskStatus.CANCELLED}
    progress = studio.batch_progress(first.batch_id)
    assert (progress.cancelled, progress.finished, progress.retryable) == (3, True, 3)
    assert studio.cancel_batch(first.batch_id).cancelled == 0

    again = studio.retry_batch(first.batch_id)

    tasks = task_rows(studio)
    assert [t.id for t in tasks] == list(first.task_ids)
    assert {t.status for t in tasks} == {TaskStatus.QUEUED}
    # workers remember revoked ids, so a retried task needs a new one
    assert set(again.celery_ids).isdisjoint(first.celery_ids)
    assert {t.celery_id for t in tasks} == set(again.celery_ids)
    with pytest.raises(GenerateError, match="no failed, cancelled or unsent"):
        studio.retry_batch(first.batch_id)


def test_cancelling_a_finished_batch_changes_nothing(studio):
    add_collection(studio, "c", 2)
    result = studio.generate("c", add_user(studio))
    with studio.session() as s:
        s.execute(update(Task).values(status=TaskStatus.DONE.value))

    cancel = studio.cancel_batch(result.batch_id)

    assert cancel.cancelled == 0
    assert studio.batch_progress(result.batch_id).status == "sent"
    assert {t.status for t in task_rows(studio)} == {TaskStatus.DONE}


def test_retry_leaves_tasks_of_deleted_scenes_failed(sqlite_studio):
    studio = sqlite_studio
    keep, drop = add_collection(studio, "c", 2)
    first = studio.generate("c", add_user(studio))
    studio.cancel_batch(first.batch_id)
    with studio.session() as s:
        s.execute(delete(Scene).where(Scene.scene_id == drop))

    again = studio.retry_batch(first.batch_id)

    by_scene = {t.scene_id: t for t in task_rows(studio)}
    assert by_scene[drop].status == TaskStatus.FAILED
    assert "scene no longer exists" in (by_scene[drop].error or "")
    assert by_scene[keep].status == TaskStatus.QUEUED
    assert again.task_ids == (by_scene[keep].id,)


# -- the worker's claim --------------------------------------------------------


def test_render_claims_its_task_once(studio):
    add_collection(studio, "c", 2)
    result = studio.generate("c", add_user(studio))
    first, second = result.task_ids
    ctx = WorkerContext(studio.settings)

    assert claim(ctx, first)[0] is True
    assert claim(ctx, first) == (False, task_rows(studio)[0].scene_id, "running")
    studio.cancel_batch(result.batch_id)
    assert claim(ctx, second)[0] is False  # cancelled: never rendered
    assert claim(ctx, 123456) == (False, None, None)
    ctx.engine().dispose()


def test_spec_max_scenes_switches_design(sqlite_studio):
    studio = sqlite_studio
    add_collection(studio, "c", 3)
    person = add_user(studio)
    small = batches.generate(studio, "c", person, spec_max_scenes=3)
    large = batches.generate(studio, "c", person, spec_max_scenes=2)
    assert small.design is Design.CHAIN_OF_GROUPS
    assert large.design is Design.SCENE_CHAINS


@pytest.mark.mariadb
def test_retry_never_undoes_a_render_that_finished_meanwhile(mariadb_studio):
    # A late worker finishes a stale task between Retry's read and its write.
    studio = mariadb_studio
    (scene,) = add_collection(studio, "late", 1)
    first = studio.generate("late", add_user(studio))
    (task_id,) = first.task_ids
    with studio.session() as s:
        s.execute(update(Task).values(status=TaskStatus.STALE.value))
        s.execute(delete(Scene).where(Scene.scene_id == scene))
    worker = make_engine(studio.settings.database_url)

    def finish_first(conn, cursor, statement, parameters, *args) -> None:  # noqa: ANN001
        if statement.startswith("UPDATE tasks") and not finished:
            finished.append(statement)
            with worker.begin() as w:  # the worker's own finishing UPDATE
                w.execute(
                    update(Task)
                    .where(Task.id == task_id, Task.status == TaskStatus.STALE.value)
                    .values(status=TaskStatus.DONE.value, result_img_key="r/late.jpg")
                )

    finished: list[str] = []
    event.listen(studio.engine, "before_cursor_execute", finish_first)
    try:
        with pytest.raises(GenerateError, match="scenes no longer exist"):
            studio.retry_batch(first.batch_id)
    finally:
        event.remove(studio.engine, "before_cursor_execute", finish_first)
        worker.dispose()

    assert finished
    (task,) = task_rows(studio)
    assert (task.status, task.result_img_key) == (TaskStatus.DONE, "r/late.jpg")

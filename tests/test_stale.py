"""Lost tasks go stale, a retry of the lost attempt reclaims its task, no more.

The rules behind the fault tests (tests/test_faults_dispatch.py), checked on
the rows directly, on SQLite and MariaDB, without a worker or a broker.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from photolab_widgets import Studio
from photolab_widgets.dispatch import batches
from photolab_widgets.dispatch.tasks import WorkerContext, claim
from photolab_widgets.models import Batch, Task, TaskStatus, utcnow
from tests.factories import add_scene, add_user


def batch_of(studio: Studio, *statuses: TaskStatus) -> list[int]:
    """A sent batch whose tasks have ``statuses``; their ids."""
    person = add_user(studio)
    scene = add_scene(studio, collection_name="c")
    with studio.session() as s:
        batch = Batch(collection_name="c", person_id=person, status="sent")
        s.add(batch)
        s.flush()
        tasks = [
            Task(
                person_id=person,
                scene_id=scene,
                batch_id=batch.id,
                status=status.value,
                celery_id=f"message-{i}",
            )
            for i, status in enumerate(statuses)
        ]
        s.add_all(tasks)
        s.flush()
        return [t.id for t in tasks]


def age(studio: Studio, task_ids: list[int], seconds: float) -> None:
    with studio.session() as s:
        s.execute(
            update(Task)
            .where(Task.id.in_(task_ids))
            .values(updated_at=utcnow() - timedelta(seconds=seconds))
        )


def status_of(studio: Studio, task_id: int) -> str:
    with studio.session() as s:
        task = s.get(Task, task_id)
        assert task is not None
        return task.status


def batch_id_of(studio: Studio, task_id: int) -> int:
    with studio.session() as s:
        task = s.get(Task, task_id)
        assert task is not None and task.batch_id is not None
        return task.batch_id


def test_a_running_task_nobody_touches_goes_stale(studio):
    lost, busy, waiting = batch_of(
        studio, TaskStatus.RUNNING, TaskStatus.RUNNING, TaskStatus.QUEUED
    )
    age(studio, [lost], 120)
    batch_id = batch_id_of(studio, lost)

    progress = studio.batch_progress(batch_id, stale_after=60)

    assert status_of(studio, lost) == TaskStatus.STALE
    assert status_of(studio, busy) == TaskStatus.RUNNING  # touched just now
    assert status_of(studio, waiting) == TaskStatus.QUEUED  # the batch moves
    assert (progress.stale, progress.failed, progress.in_flight) == (1, 1, 2)
    assert not progress.finished


def test_a_batch_nobody_touches_goes_stale_whole(studio):
    ids = batch_of(
        studio,
        TaskStatus.RUNNING,
        TaskStatus.SET_UP,
        TaskStatus.QUEUED,
        TaskStatus.DONE,
    )
    age(studio, ids, 120)
    batch_id = batch_id_of(studio, ids[0])

    assert studio.batch_progress(batch_id, stale_after=300).stale == 0
    progress = studio.batch_progress(batch_id, stale_after=60)

    assert [status_of(studio, i) for i in ids] == ["stale"] * 3 + ["done"]
    assert progress.finished and progress.retryable == 3
    with studio.session() as s:
        task = s.get(Task, ids[1])
        assert task is not None and "no worker touched this batch" in (task.error or "")


def test_only_a_retry_of_the_claiming_message_reclaims_a_running_task(studio):
    running, stale = batch_of(studio, TaskStatus.RUNNING, TaskStatus.STALE)
    ctx = WorkerContext(studio.settings)

    # A duplicate delivery, or another message: the task is someone else's.
    assert claim(ctx, running)[0] is False
    assert claim(ctx, running, retry_of="some-other-message")[0] is False
    # A retry of the message that claimed it: that attempt has ended.
    assert claim(ctx, running, retry_of="message-0")[0] is True
    assert claim(ctx, stale, retry_of="message-1")[0] is True
    assert status_of(studio, stale) == TaskStatus.RUNNING


def test_retry_sends_stale_tasks_again_in_the_same_rows(studio):
    ids = batch_of(studio, TaskStatus.STALE, TaskStatus.DONE)
    batch_id = batch_id_of(studio, ids[0])

    result = batches.retry_batch(studio, batch_id)

    assert result.task_ids == (ids[0],)
    assert status_of(studio, ids[0]) in (TaskStatus.QUEUED, TaskStatus.PENDING)
    with studio.session() as s:
        task = s.get(Task, ids[0])
        assert task is not None and task.celery_id != "message-0"

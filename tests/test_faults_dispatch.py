"""Dispatch faults with a real worker: a render killed, Redis down mid-batch.

The broker and result backend are a PRIVATE Redis (``own_redis``, with an
append-only file like a production Redis) that the tests stop and start; the
database is a fresh MariaDB database on the shared server, which is never
restarted here. The Generate panel is driven through its buttons and judged
by its status sentence and by the task rows.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from photolab_widgets import GeneratePanel, Studio
from photolab_widgets.config import Settings
from photolab_widgets.models import Task, TaskStatus
from photolab_widgets.processes import stop
from tests.factories import add_scenes, add_user
from tests.services import PrivateRedis
from tests.workers import WorkerLog, running_worker, use_queue, wait_for

pytestmark = [
    pytest.mark.redis,
    pytest.mark.mariadb,
    pytest.mark.slow,
    pytest.mark.timeout(240),
]

#: A healthy render takes DELAY seconds; a task untouched for STALE_AFTER is
#: presumed lost.
DELAY = 1.5
STALE_AFTER = 8.0


@pytest.fixture
def studio(home: Path, mysql_url: str, own_redis: PrivateRedis) -> Iterator[Studio]:
    own_redis.start()  # a failed test may have left it stopped
    settings = Settings.from_env(
        home=home,
        database_url=mysql_url,
        broker_url=f"{own_redis.url}/0",
        result_backend=f"{own_redis.url}/1",
        image_base_url=(home / "images").resolve().as_uri() + "/",
    )
    s = Studio(settings)
    s.init_db()
    use_queue(s)
    yield s
    s.close()


@pytest.fixture
def panel_of() -> Iterator:
    made: list[GeneratePanel] = []

    def make(
        studio: Studio, collection: str, person: int, stale_after: float = STALE_AFTER
    ) -> GeneratePanel:
        panel = GeneratePanel(studio, poll_interval=0.2, stale_after=stale_after)
        panel.collection.value = collection
        panel.person.value = person
        made.append(panel)
        return panel

    yield make
    for panel in made:
        panel.close()


def statuses(studio: Studio, batch_id: int) -> dict[int, str]:
    with studio.session() as s:
        rows = s.execute(
            select(Task.id, Task.status).where(Task.batch_id == batch_id)
        ).all()
    return dict(rows)  # type: ignore[arg-type]


def task_count(studio: Studio) -> int:
    with studio.session() as s:
        return s.scalar(select(func.count()).select_from(Task)) or 0


def settle(panel: GeneratePanel) -> None:
    wait_for(lambda: not panel.busy, timeout=30, what="the panel to finish")


def finished(panel: GeneratePanel) -> bool:
    return panel.progress is not None and panel.progress.finished and not panel.busy


def first_render(log: WorkerLog) -> int:
    wait_for(lambda: "render_scene start" in log.text(), 60, "a render to start")
    found = re.search(r"render_scene start task=(\d+)", log.text())
    assert found
    return int(found[1])


def pool_children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (a prefork worker's pool)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def test_a_killed_render_is_delivered_again_and_rendered_once(studio, panel_of):
    person = add_user(studio)
    add_scenes(studio, "kill", 2)
    panel = panel_of(studio, "kill", person)
    queue = studio.celery.conf.task_default_queue

    with running_worker(
        studio.settings, queue=queue, delay=DELAY, concurrency=1
    ) as log:
        panel.generate_button.click()
        settle(panel)
        batch_id = panel.batch_id
        victim = first_render(log)
        assert log.proc is not None
        (child,) = pool_children(log.proc.pid)
        os.kill(child, signal.SIGKILL)  # the render dies; its worker lives on
        killed_at = time.monotonic()

        wait_for(lambda: finished(panel), 60, "the batch to finish")
        recovered = time.monotonic() - killed_at

    assert set(statuses(studio, batch_id).values()) == {TaskStatus.DONE}
    assert "finished: 2 rendered" in panel.status.value
    assert task_count(studio) == 2  # the same rows, no duplicates
    starts = re.findall(rf"render_scene start task={victim} ", log.text())
    assert len(starts) == 2  # killed once, rendered once
    print(f"\nkilled render: batch finished {recovered:.1f} s after the kill")


def test_a_worker_killed_outright_leaves_nothing_running_forever(studio, panel_of):
    person = add_user(studio)
    add_scenes(studio, "dead", 3)
    panel = panel_of(studio, "dead", person)
    queue = studio.celery.conf.task_default_queue

    with running_worker(
        studio.settings, queue=queue, delay=DELAY, concurrency=1
    ) as log:
        panel.generate_button.click()
        settle(panel)
        batch_id = panel.batch_id
        first_render(log)
        assert log.proc is not None
        os.killpg(log.proc.pid, signal.SIGKILL)  # main process and pool at once
        stop(log.proc)
        killed_at = time.monotonic()

    # No worker is left: the message of the render in progress is never
    # acknowledged and Redis keeps it for an hour. The batch goes stale.
    wait_for(lambda: finished(panel), 60, "every unfinished task to go stale")
    noticed = time.monotonic() - killed_at
    left = statuses(studio, batch_id)
    assert set(left.values()) == {TaskStatus.STALE}
    assert "3 stale" in panel.status.value and not panel.retry_button.disabled

    with running_worker(studio.settings, queue=queue, delay=0.2) as log:
        panel.retry_button.click()
        panel.retry_button.click()  # a double click sends once
        settle(panel)
        wait_for(lambda: finished(panel), 60, "the retried tasks to render")
    assert set(statuses(studio, batch_id).values()) == {TaskStatus.DONE}
    assert task_count(studio) == 3  # the same rows, no duplicates
    for task_id in left:
        assert len(re.findall(rf"render_scene start task={task_id} ", log.text())) == 1
    print(f"\nworker killed: its batch went stale {noticed:.1f} s after the kill")


def test_redis_down_mid_batch_is_said_and_the_batch_resumes(
    studio, panel_of, own_redis: PrivateRedis
):
    person = add_user(studio)
    add_scenes(studio, "outage", 4)
    # Not the stale rule's test: the worker needs a few seconds to reconnect.
    panel = panel_of(studio, "outage", person, stale_after=120)
    queue = studio.celery.conf.task_default_queue

    with running_worker(studio.settings, queue=queue, delay=DELAY, concurrency=2):
        panel.generate_button.click()
        settle(panel)
        batch_id = panel.batch_id
        wait_for(
            lambda: panel.progress is not None and panel.progress.set_up >= 1,
            60,
            "the batch to be under way",
        )
        own_redis.stop()
        stopped = time.monotonic()
        wait_for(
            lambda: "does not answer" in panel.status.value, 20, "the panel to say so"
        )
        said = time.monotonic() - stopped
        assert not finished(panel)
        time.sleep(2)

        own_redis.start()
        back = time.monotonic()
        wait_for(
            lambda: "does not answer" not in panel.status.value,
            20,
            "the panel to see the queue back",
        )
        cleared = time.monotonic() - back
        wait_for(lambda: finished(panel), 90, "the batch to finish")
        assert "finished: 4 rendered" in panel.status.value

        # The kernel's Celery app outlived the outage: the next batch goes out.
        panel.generate_button.click()
        settle(panel)
        assert "Sent batch" in panel.status.value, panel.status.value
        wait_for(lambda: finished(panel), 90, "the next batch to finish")
        next_batch = panel.batch_id

    assert set(statuses(studio, batch_id).values()) == {TaskStatus.DONE}
    assert set(statuses(studio, next_batch).values()) == {TaskStatus.DONE}
    assert task_count(studio) == 8
    print(f"\nRedis down: said after {said:.1f} s; back: cleared after {cleared:.1f} s")


def test_the_kernel_subscribes_to_no_result(studio, own_redis: PrivateRedis):
    # The kernel follows batches in the database and never waits on a Celery
    # result. A result subscription it kept would be dropped at garbage
    # collection, which during a Redis outage raises "The Celery application
    # must be restarted" out of AsyncResult.__del__.
    person = add_user(studio)
    add_scenes(studio, "quiet", 3)
    studio.generate("quiet", person)

    consumer = studio.celery.backend.result_consumer
    assert not getattr(consumer, "subscribed_to", set())

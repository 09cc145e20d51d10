"""A real ``photolab-widgets worker`` runs batches to the end.

On the embedded broker (kombu's filesystem queue, SQLite results) and on
Redis (with MariaDB, so that the forked pool processes talk to a real server).
The worker's log proves each render ran after the set-up of its scene.
"""

from __future__ import annotations

import re

import pytest
from PIL import Image
from sqlalchemy import select

from photolab_widgets import Studio
from photolab_widgets.dispatch import batches
from photolab_widgets.dispatch.canvas import Design
from photolab_widgets.images import key_path
from photolab_widgets.models import Scene, Task, TaskStatus
from tests.factories import add_scene, add_scenes, add_task, add_user
from tests.workers import redis_settings, running_worker, use_queue, wait_for

pytestmark = pytest.mark.slow


def tasks_of(studio: Studio, batch_id: int) -> list[Task]:
    with studio.session() as s:
        return list(
            s.scalars(select(Task).where(Task.batch_id == batch_id).order_by(Task.id))
        )


def wait_finished(studio: Studio, batch_id: int, timeout: float = 90) -> None:
    wait_for(
        lambda: studio.batch_progress(batch_id).finished,
        timeout=timeout,
        what=f"batch {batch_id} to finish",
    )


def assert_rendered(studio: Studio, batch_id: int) -> None:
    folder = studio.settings.images_dir
    assert folder is not None
    for task in tasks_of(studio, batch_id):
        assert task.status == TaskStatus.DONE, (task, task.error)
        assert task.result_img_key and task.error is None
        with Image.open(key_path(task.result_img_key, folder)) as picture:
            assert picture.size[0] > 0


def test_embedded_worker_runs_batches_of_1_2_and_5_scenes(sqlite_studio):
    studio = sqlite_studio
    person = add_user(studio, "李伟 Li Wei")
    for n in (1, 2, 5):
        for i in range(n):
            # no base image and no pose: the worker draws both stand-ins
            add_scene(studio, collection_name=f"c{n}", prompt=f"海边 {i} 🌅")
    # A task of no batch on a scene the batch sets up: not the batch's to move.
    with studio.session() as s:
        first_scene = s.scalars(select(Scene).where(Scene.collection_name == "c1"))
        stray = add_task(studio, first_scene.one().scene_id, person)

    with running_worker(studio.settings) as log:
        results = [studio.generate(f"c{n}", person) for n in (1, 2, 5)]
        for result in results:
            wait_finished(studio, result.batch_id)

    all_tasks = set()
    for result in results:
        assert result.design is Design.CHAIN_OF_GROUPS
        assert_rendered(studio, result.batch_id)
        all_tasks |= set(result.task_ids)
    log.assert_each_render_after_its_set_up(all_tasks)
    with studio.session() as s:
        scenes = list(s.scalars(select(Scene)))
    assert {sc.setup_status for sc in scenes} == {"ready"}
    assert all(sc.pose_img_key for sc in scenes)
    assert studio.tasks_by_id([stray])[stray].status == TaskStatus.PENDING


@pytest.mark.redis
@pytest.mark.mariadb
def test_redis_worker_runs_both_canvases_and_renders_a_duplicate_once(
    home, mysql_url, redis_url
):
    images = (home / "images").resolve().as_uri() + "/"
    settings = redis_settings(
        home, redis_url, database_url=mysql_url, image_base_url=images
    )
    studio = Studio(settings)
    studio.init_db()
    queue = use_queue(studio)
    person = add_user(studio)
    add_scenes(studio, "spec", 3)
    add_scenes(studio, "chains", 4, "chain")
    try:
        with running_worker(settings, queue=queue) as log:
            spec = studio.generate("spec", person)
            chains = batches.generate(studio, "chains", person, spec_max_scenes=2)
            wait_finished(studio, spec.batch_id)
            wait_finished(studio, chains.batch_id)

            # The same render message once more (a redelivery): no second render.
            task_id = spec.task_ids[0]
            before = tasks_of(studio, spec.batch_id)[0]
            studio.celery.send_task("render_scene", (task_id,))
            wait_for(
                lambda: f"render_scene skip task={task_id} status=done" in log.text(),
                timeout=30,
                what="the duplicate to be skipped",
            )
            after = tasks_of(studio, spec.batch_id)[0]
        assert spec.design is Design.CHAIN_OF_GROUPS
        assert chains.design is Design.SCENE_CHAINS
        assert_rendered(studio, spec.batch_id)
        assert_rendered(studio, chains.batch_id)
        log.assert_each_render_after_its_set_up(
            set(spec.task_ids) | set(chains.task_ids)
        )
        starts = re.findall(rf"render_scene start task={task_id} ", log.text())
        assert len(starts) == 1
        assert (after.updated_at, after.result_img_key) == (
            before.updated_at,
            before.result_img_key,
        )
    finally:
        from photolab_widgets.dispatch.wire import purge

        purge(settings, queue)
        studio.close()


def test_failing_set_up_and_render_end_failed_with_the_error(sqlite_studio):
    studio = sqlite_studio
    folder = studio.settings.images_dir
    assert folder is not None
    corrupt = "bad/not-a-picture.jpg"
    key_path(corrupt, folder).parent.mkdir(parents=True, exist_ok=True)
    key_path(corrupt, folder).write_bytes(b"this is not a JPEG")
    missing = "bad/missing.jpg"
    person = add_user(studio)
    # spec canvas: a failed set-up stops the whole render group (a chord)
    a_missing = add_scene(studio, collection_name="A", base_img_key=missing)
    add_scene(studio, collection_name="A")
    # spec canvas: a failed render fails only its own task
    b_corrupt = add_scene(studio, collection_name="B", base_img_key=corrupt)
    add_scene(studio, collection_name="B")
    # per-scene chains: a failed set-up fails only its own scene's task
    c_missing = add_scene(studio, collection_name="C", base_img_key=missing)
    add_scene(studio, collection_name="C")

    with running_worker(studio.settings):
        a = studio.generate("A", person)
        b = studio.generate("B", person)
        c = batches.generate(studio, "C", person, spec_max_scenes=1)
        for result in (a, b, c):
            wait_finished(studio, result.batch_id)

    def outcome(result: batches.GenerateResult) -> dict[int, tuple[str, str]]:
        return {
            t.scene_id: (t.status, t.error or "")
            for t in tasks_of(studio, result.batch_id)
        }

    first, second = sorted(outcome(a).items())
    assert first == (
        a_missing,
        (
            "failed",
            f"set-up of scene {a_missing} failed: FileNotFoundError: "
            f"base image '{missing}' is not in the image store",
        ),
    )
    assert second[1][0] == "failed"
    assert f"the set-up of scene {a_missing} in the same batch failed" in second[1][1]

    (bad, bad_outcome), (_, good_outcome) = sorted(outcome(b).items())
    assert bad == b_corrupt
    assert bad_outcome[0] == "failed"
    assert bad_outcome[1].startswith("render_scene: UnidentifiedImageError")
    assert good_outcome == ("done", "")

    (bad, bad_outcome), (_, good_outcome) = sorted(outcome(c).items())
    assert bad == c_missing and bad_outcome[0] == "failed"
    assert "FileNotFoundError" in bad_outcome[1]
    assert good_outcome == ("done", "")
    with studio.session() as s:
        assert s.get(Scene, a_missing).setup_status == "failed"

    progress = studio.batch_progress(b.batch_id)
    assert (progress.done, progress.failed, progress.finished) == (1, 1, True)
    assert progress.error and "UnidentifiedImageError" in progress.error


def test_cancel_with_a_live_worker_then_retry(sqlite_studio):
    studio = sqlite_studio
    person = add_user(studio)
    add_scenes(studio, "slow", 4)

    with running_worker(studio.settings, delay=1.0) as log:
        first = studio.generate("slow", person)
        cancelled = studio.cancel_batch(first.batch_id)
        assert cancelled.cancelled == 4 and cancelled.revoked

        # The chord still sets the scenes up; the worker drops its renders
        # (revoked), and would skip them anyway (the claim fails).
        def dropped() -> bool:
            text = log.text()
            return all(
                f"revoked task: render_scene[{cid}]" in text
                or f"render_scene skip task={tid} " in text
                for tid, cid in zip(first.task_ids, first.celery_ids, strict=True)
            )

        wait_for(dropped, timeout=60, what="the worker to drop the renders")
        assert "render_scene start" not in log.text()
        assert {t.status for t in tasks_of(studio, first.batch_id)} == {"cancelled"}

        again = studio.retry_batch(first.batch_id)
        wait_finished(studio, first.batch_id)

    assert again.task_ids == first.task_ids
    assert_rendered(studio, first.batch_id)
    log.assert_each_render_after_its_set_up(set(first.task_ids))

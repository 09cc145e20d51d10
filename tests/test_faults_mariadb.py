"""MariaDB faults with the views open: a restart, a crash mid-write, an idle kernel.

Every test runs against a PRIVATE MariaDB (``own_mariadb``: its own datadir
and port) that it stops, kills and restarts; the machine's shared server is
never touched. Widgets are driven through their buttons (``click()`` runs the
same handlers as a person's click) and judged by their status areas and by
what the database holds afterwards.

The figures the tests observe (how long the failing click took, how long
until the next click worked) are printed; run with ``-s`` to see them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, text

from photolab_widgets import GeneratePanel
from photolab_widgets.config import Settings
from photolab_widgets.db import make_engine
from photolab_widgets.models import Batch, Task
from photolab_widgets.studio import Studio
from photolab_widgets.widgets.gallery import TaskGallery
from photolab_widgets.widgets.scene import SceneBoard, SceneCard
from tests.factories import add_scene, add_scenes, add_task, add_user
from tests.services import PrivateMariaDB
from tests.workers import running_worker, wait_for

pytestmark = [pytest.mark.mariadb, pytest.mark.timeout(180)]

PARAMS = {"steps": 30, "size": {"width": 768}}
UNREACHABLE = "the database did not answer"


@pytest.fixture
def database(own_mariadb: PrivateMariaDB) -> Iterator[str]:
    """A fresh database on the private server; its URL."""
    own_mariadb.start()  # a test that failed half-way may have left it down
    name = f"faults_{uuid.uuid4().hex[:10]}"
    own_mariadb.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    yield f"{own_mariadb.url}/{name}?charset=utf8mb4"
    own_mariadb.start()
    own_mariadb.execute(f"DROP DATABASE IF EXISTS {name}")


def make_studio(home: Path, url: str, **engine_options: Any) -> Studio:
    # Local pictures: the demo worker draws them into PHOTOLAB_HOME/images.
    images = (home / "images").resolve().as_uri() + "/"
    settings = Settings.from_env(home=home, database_url=url, image_base_url=images)
    engine = make_engine(url, **engine_options) if engine_options else None
    studio = Studio(settings, engine=engine)
    studio.init_db()
    return studio


@pytest.fixture
def studio(home: Path, database: str) -> Iterator[Studio]:
    s = make_studio(home, database)
    yield s
    s.close()


@pytest.fixture
def views() -> Iterator[list[Any]]:
    """Widgets to close after the test, whatever happened."""
    made: list[Any] = []
    yield made
    for view in made:
        view.close()


def seed(studio: Studio) -> tuple[int, int]:
    """A scene with params and rate 5, and one finished task; (scene, task)."""
    person = add_user(studio, "Ada")
    scene = add_scene(studio, collection_name="faults", rate=5.0, params=PARAMS)
    task = add_task(studio, scene, person, status="done", result_img_key="r/1.jpg")
    return scene, task


def stored(studio: Studio, scene_id: int) -> tuple[Any, float]:
    found = studio.scene(scene_id)
    assert found is not None
    return found.scene.params, found.scene.rate


def timed(action: Callable[[], Any]) -> float:
    start = time.monotonic()
    action()
    return time.monotonic() - start


def crash_after(studio: Studio, server: PrivateMariaDB, prefix: str) -> list[str]:
    """SIGKILL the server right after the first statement starting with ``prefix``.

    The statement has run on the server, inside a transaction that never gets
    to commit: the moment a crash can leave a half-done write behind.
    """
    hit: list[str] = []

    def after(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if not hit and statement.lstrip().upper().startswith(prefix):
            hit.append(statement)
            server.kill()

    event.listen(studio.engine, "after_cursor_execute", after)
    return hit


def test_a_restart_costs_one_sentence_and_the_next_click_works(
    own_mariadb: PrivateMariaDB, studio: Studio, views: list[Any]
) -> None:
    scene_id, _task = seed(studio)
    gallery = TaskGallery(studio, auto_refresh=False)
    board = SceneBoard(studio, "faults")
    card = SceneCard(studio, scene_id)
    views += [gallery, board, card]
    editor = card.edit()
    assert editor is not None
    assert editor.edit(("steps",), text="31")

    own_mariadb.stop()
    down: dict[str, float] = {}

    down["gallery refresh"] = timed(gallery.refresh_button.click)
    assert "Could not refresh the tasks: " + UNREACHABLE in gallery.status_area.value
    down["board refresh"] = timed(board.refresh_button.click)
    assert "could not be loaded: " + UNREACHABLE in board.status.value
    down["rate +"] = timed(card.plus_button.click)
    assert "The rate could not be changed: " + UNREACHABLE in card.status.value
    assert card.rate_value == 5.0
    down["save"] = timed(card.save_button.click)  # type: ignore[union-attr]
    assert "Not saved: " + UNREACHABLE in card.status.value
    assert editor.dirty and editor.value["steps"] == 31  # the edit is kept

    restart = own_mariadb.start()
    back = timed(lambda: card.plus_button.click())
    assert card.rate_value == 6.0 and card.status.value == ""
    card.save_button.click()  # type: ignore[union-attr]
    assert "Saved." in card.status.value and not editor.dirty
    gallery.refresh_button.click()
    assert "Refreshed at" in gallery.status_area.value and len(gallery.rows) == 1
    board.refresh_button.click()
    assert board.status.value == "" and len(board.cards) == 1
    assert stored(studio, scene_id) == ({"steps": 31, "size": {"width": 768}}, 6.0)
    print(
        "\nMariaDB down: "
        + ", ".join(f"{k} failed in {v * 1000:.0f} ms" for k, v in down.items())
        + f"; restart took {restart:.2f} s; first click after it {back * 1000:.0f} ms"
    )


def test_a_crash_during_a_save_leaves_the_params_as_they_were(
    own_mariadb: PrivateMariaDB, studio: Studio, views: list[Any]
) -> None:
    scene_id, _task = seed(studio)
    card = SceneCard(studio, scene_id)
    views.append(card)
    editor = card.edit()
    assert editor is not None
    editor.set_raw('{"steps": 99, "size": {"width": 1024}, "new": [1, 2, 3]}')

    hit = crash_after(studio, own_mariadb, "UPDATE SCENES SET PARAMS")
    card.save_button.click()  # type: ignore[union-attr]

    assert hit, "the save never reached its UPDATE"
    assert "Not saved: " in card.status.value and editor.dirty
    own_mariadb.start()
    assert stored(studio, scene_id) == (PARAMS, 5.0)  # rolled back, not half
    card.save_button.click()  # type: ignore[union-attr]
    assert "Saved." in card.status.value
    assert stored(studio, scene_id)[0] == {
        "steps": 99,
        "size": {"width": 1024},
        "new": [1, 2, 3],
    }


def test_a_crash_during_a_rate_click_leaves_the_rate_as_it_was(
    own_mariadb: PrivateMariaDB, studio: Studio, views: list[Any]
) -> None:
    scene_id, _task = seed(studio)
    card = SceneCard(studio, scene_id)
    views.append(card)

    hit = crash_after(studio, own_mariadb, "UPDATE SCENES SET RATE")
    card.plus_button.click()

    assert hit
    assert "The rate could not be changed: " in card.status.value
    assert card.rate_value == 5.0
    own_mariadb.start()
    assert stored(studio, scene_id) == (PARAMS, 5.0)
    card.plus_button.click()
    assert card.rate_value == 6.0 and stored(studio, scene_id)[1] == 6.0


def test_a_crash_while_the_gallery_reads_is_one_sentence(
    own_mariadb: PrivateMariaDB, studio: Studio, views: list[Any]
) -> None:
    seed(studio)
    gallery = TaskGallery(studio, auto_refresh=False)
    views.append(gallery)

    hit = crash_after(studio, own_mariadb, "SELECT")
    gallery.newest_button.click()

    assert hit
    assert UNREACHABLE in gallery.status_area.value
    own_mariadb.start()
    gallery.newest_button.click()
    assert gallery.status_area.value == "" and len(gallery.rows) == 1


def test_a_kernel_idle_past_wait_timeout_clicks_as_usual(
    own_mariadb: PrivateMariaDB, home: Path, database: str, views: list[Any]
) -> None:
    own_mariadb.execute("SET GLOBAL wait_timeout = 1")
    try:
        studio = make_studio(home, database)
        scene_id, _task = seed(studio)
        with studio.session() as s:
            assert s.execute(text("SELECT @@session.wait_timeout")).scalar() == 1
        card = SceneCard(studio, scene_id)
        gallery = TaskGallery(studio, auto_refresh=False)
        views += [card, gallery]

        time.sleep(2.5)  # the server has closed every pooled connection
        card.plus_button.click()
        gallery.refresh_button.click()

        assert card.status.value == "" and card.rate_value == 6.0
        assert "Refreshed at" in gallery.status_area.value

        # The control: the same engine without pool_pre_ping fails that click.
        bare = make_studio(home, database, pool_pre_ping=False)
        unpinged = SceneCard(bare, scene_id)
        views.append(unpinged)
        time.sleep(2.5)
        unpinged.plus_button.click()
        assert UNREACHABLE in unpinged.status.value.lower()
        assert stored(studio, scene_id)[1] == 6.0
        studio.close()
        bare.close()
    finally:
        own_mariadb.execute("SET GLOBAL wait_timeout = 28800")


# -- the Generate panel and a worker -------------------------------------------------


def panel_for(
    studio: Studio, views: list[Any], collection: str, scenes: int
) -> GeneratePanel:
    """A Generate panel on a new collection of ``scenes`` scenes, for Ada."""
    person = add_user(studio, "Ada")
    add_scenes(studio, collection, scenes)
    panel = GeneratePanel(studio, poll_interval=0.2)
    views.append(panel)
    panel.collection.value = collection
    panel.person.value = person
    return panel


def rows(studio: Studio) -> tuple[int, int]:
    with studio.session() as s:
        batches = s.scalar(select(func.count()).select_from(Batch)) or 0
        tasks = s.scalar(select(func.count()).select_from(Task)) or 0
    return batches, tasks


def test_generate_under_a_restart_says_so_and_writes_nothing(
    own_mariadb: PrivateMariaDB, studio: Studio, views: list[Any]
) -> None:
    panel = panel_for(studio, views, "gen", 3)

    own_mariadb.stop()
    panel.refresh_button.click()
    assert "Could not read the collections and persons: " + UNREACHABLE in (
        panel.status.value
    )
    panel.generate_button.click()
    wait_for(lambda: not panel.busy, 30, "Generate to give up")
    assert "Nothing was done: " + UNREACHABLE in panel.status.value

    # A crash in the middle of writing the batch leaves no half of it.
    own_mariadb.start()
    hit = crash_after(studio, own_mariadb, "INSERT INTO TASKS")
    panel.generate_button.click()
    wait_for(lambda: not panel.busy, 30, "Generate to give up")
    assert hit and "Nothing was done: " + UNREACHABLE in panel.status.value
    own_mariadb.start()
    assert rows(studio) == (0, 0)

    panel.refresh_button.click()
    panel.generate_button.click()
    wait_for(lambda: not panel.busy, 30, "Generate to finish")
    assert "Sent batch" in panel.status.value
    assert rows(studio) == (1, 3)


def test_a_batch_in_flight_rides_out_a_database_restart(
    own_mariadb: PrivateMariaDB, studio: Studio, views: list[Any]
) -> None:
    panel = panel_for(studio, views, "ride", 4)

    with running_worker(studio.settings, delay=1.0, concurrency=2):
        panel.generate_button.click()
        wait_for(lambda: panel.progress is not None, 30, "the batch to be sent")
        batch_id = panel.batch_id
        wait_for(lambda: panel.progress.set_up >= 1, 60, "the batch to be under way")

        own_mariadb.stop()
        stopped = time.monotonic()
        wait_for(lambda: UNREACHABLE in panel.status.value, 20, "the panel to say")
        said = time.monotonic() - stopped
        assert "keeps trying" in panel.status.value
        time.sleep(3)  # the worker's tasks meet the outage too

        restart = own_mariadb.start()
        back = time.monotonic()
        wait_for(
            lambda: panel.progress is not None and panel.progress.finished,
            120,
            "the batch to finish by itself",
        )
        finished_after = time.monotonic() - back

    progress = studio.batch_progress(batch_id)
    assert (progress.done, progress.failed, progress.total) == (4, 0, 4)
    assert "finished: 4 rendered" in panel.status.value
    print(
        f"\nbatch through a MariaDB restart: said after {said:.1f} s, restart "
        f"{restart:.2f} s, finished {finished_after:.1f} s after it"
    )


def test_a_crash_after_the_send_says_the_tasks_went_and_the_batch_ends(
    own_mariadb: PrivateMariaDB, studio: Studio, views: list[Any]
) -> None:
    # The broker took the canvas; recording that (pending -> queued) dies.
    panel = panel_for(studio, views, "sent", 2)
    said: list[str] = []
    panel.status.observe(lambda change: said.append(change["new"]), "value")

    hit = crash_after(studio, own_mariadb, "UPDATE TASKS")
    panel.generate_button.click()
    wait_for(lambda: not panel.busy, 30, "Generate to give up")
    assert hit
    assert not [s for s in said if "Nothing was done" in s], said
    assert any("were sent to the workers" in s for s in said), said
    assert panel.batch_id is not None  # followed, like any batch in flight

    own_mariadb.start()
    with running_worker(studio.settings, delay=0.2):
        wait_for(
            lambda: panel.progress is not None and panel.progress.finished,
            120,
            "the batch to finish",
        )
    assert studio.batch_progress(panel.batch_id).done == 2
    assert "finished: 2 rendered" in panel.status.value

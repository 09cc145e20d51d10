"""The Generate panel, driven like a person would, without a browser."""

from __future__ import annotations

import re

import pytest
from ipywidgets.widgets import widget as widget_module
from sqlalchemy import delete, func, select, update

from photolab_widgets import GeneratePanel, Studio
from photolab_widgets.config import Settings
from photolab_widgets.dispatch.app import make_celery
from photolab_widgets.models import Batch, Task, TaskStatus, User
from photolab_widgets.processes import free_port
from tests.factories import add_scene, add_user
from tests.workers import running_worker, wait_for


def live_widgets() -> int:
    return len(widget_module._instances)


def batch_count(studio: Studio) -> int:
    with studio.session() as s:
        return s.scalar(select(func.count()).select_from(Batch)) or 0


def settle(panel: GeneratePanel) -> None:
    wait_for(lambda: not panel.busy, timeout=20, what="the panel to finish")


@pytest.fixture
def panel_factory():
    panels: list[GeneratePanel] = []

    def make(studio: Studio, **kwargs) -> GeneratePanel:
        panel = GeneratePanel(studio, poll_interval=0.05, **kwargs)
        panels.append(panel)
        return panel

    yield make
    for panel in panels:
        panel.close()


def test_lists_summary_and_escaping(sqlite_studio, panel_factory):
    studio = sqlite_studio
    ada = add_user(studio, "Ada <i>🧪</i>")
    for _ in range(2):
        add_scene(studio, collection_name="夏日 <b>bold</b>")
    add_scene(studio, collection_name="office")

    panel = panel_factory(studio)

    assert panel.collection.options == ("office", "夏日 <b>bold</b>")
    assert panel.person.options == ((f"Ada <i>🧪</i> (#{ada})", ada),)
    panel.collection.value = "夏日 <b>bold</b>"
    assert "<b>2 tasks</b>" in panel.summary.value
    assert "夏日 &lt;b&gt;bold&lt;/b&gt;" in panel.summary.value
    assert "Ada &lt;i&gt;🧪&lt;/i&gt;" in panel.summary.value
    assert not panel.generate_button.disabled


def test_double_click_makes_one_batch(studio, panel_factory):
    add_user(studio)
    for _ in range(3):
        add_scene(studio, collection_name="c")
    panel = panel_factory(studio)

    panel.generate_button.click()
    assert panel.busy and panel.generate_button.disabled
    panel.generate_button.click()  # the second click of a double click
    assert panel.generate() is None
    settle(panel)

    assert batch_count(studio) == 1
    assert panel.batch_id is not None
    assert "Sent batch" in panel.status.value
    assert panel.set_up_bar.max == 3 and panel.progress.total == 3
    assert not panel.generate_button.disabled


def test_errors_in_plain_words_and_nothing_written(sqlite_studio, panel_factory):
    studio = sqlite_studio
    empty = panel_factory(studio)
    assert "There are no collections yet." in empty.status.value
    assert empty.generate_button.disabled

    person = add_user(studio, "Gone")
    add_scene(studio, collection_name="c")
    panel = panel_factory(studio)
    with studio.session() as s:
        s.execute(delete(User).where(User.id == person))

    panel.generate().result(timeout=20)

    assert f"There is no person with id {person} (any more)" in panel.status.value
    assert "Press Refresh" in panel.status.value
    assert batch_count(studio) == 0
    panel.refresh()
    assert panel.person.options == ()
    assert panel.generate_button.disabled


def test_broker_down_then_retry_from_the_panel(home, panel_factory):
    url = f"redis://127.0.0.1:{free_port()}/0"
    studio = Studio(Settings.from_env(home=home, broker_url=url, result_backend=url))
    studio.init_db()
    add_user(studio)
    for _ in range(2):
        add_scene(studio, collection_name="c")
    panel = panel_factory(studio)

    assert panel.generate().result(timeout=20) is None

    assert "Could not reach the task queue at redis://127.0.0.1" in panel.status.value
    assert "2 of 2 tasks were kept as not sent" in panel.status.value
    assert panel.progress.undispatched == 2
    assert not panel.retry_button.disabled

    studio.celery = make_celery(Settings.from_env(home=home))  # the broker is back
    result = panel.retry().result(timeout=20)

    assert result is not None and result.count == 2
    assert "Sent batch" in panel.status.value
    with studio.session() as s:
        assert set(s.scalars(select(Task.status))) == {TaskStatus.QUEUED}
    studio.close()


def test_progress_updates_on_its_own_until_the_batch_ends(sqlite_studio, panel_factory):
    studio = sqlite_studio
    add_user(studio)
    for _ in range(3):
        add_scene(studio, collection_name="c")
    panel = panel_factory(studio)
    result = panel.generate().result(timeout=20)
    first, second, third = result.task_ids

    def set_status(task_id: int, status: str, error: str | None = None) -> None:
        # what a worker writes; the panel only reads
        with studio.session() as s:
            s.execute(
                update(Task)
                .where(Task.id == task_id)
                .values(status=status, error=error)
            )

    set_status(first, TaskStatus.SET_UP)
    wait_for(lambda: panel.set_up_bar.value == 1, timeout=10, what="set-up bar")
    set_status(first, TaskStatus.DONE)
    set_status(second, TaskStatus.FAILED, "render_scene: <boom> & co")
    wait_for(lambda: panel.failed_bar.value == 1, timeout=10, what="failed bar")
    assert panel.rendered_bar.value == 1
    assert panel._poller is not None and panel._poller.is_alive()
    assert not panel.cancel_button.disabled

    set_status(third, TaskStatus.DONE)
    wait_for(lambda: not panel._poller.is_alive(), timeout=10, what="polling to stop")

    assert panel.rendered_bar.value == 2
    assert "finished: 2 rendered, 1 failed" in panel.status.value
    assert "&lt;boom&gt; &amp; co" in panel.status.value
    assert panel.cancel_button.disabled and not panel.retry_button.disabled


def test_cancel_and_retry_from_the_panel(studio, panel_factory):
    add_user(studio)
    for _ in range(3):
        add_scene(studio, collection_name="c")
    panel = panel_factory(studio)
    first = panel.generate().result(timeout=20)

    panel.cancel_button.click()
    settle(panel)

    # the action's sentence, or the poller's summary right after it
    assert re.search(
        "Cancelled 3 tasks of batch|finished: 0 rendered, 3 cancelled",
        panel.status.value,
    )
    assert panel.progress.cancelled == 3 and panel.progress.finished
    panel.retry_button.click()
    settle(panel)

    assert "Sent batch" in panel.status.value
    with studio.session() as s:
        ids = list(s.scalars(select(Task.id).where(Task.status == "queued")))
    assert sorted(ids) == sorted(first.task_ids)


def test_refresh_reloads_lists_and_keeps_the_choice(sqlite_studio, panel_factory):
    studio = sqlite_studio
    ada = add_user(studio, "Ada")
    add_scene(studio, collection_name="b")
    panel = panel_factory(studio)
    panel.person.value = ada
    add_scene(studio, collection_name="a")
    bob = add_user(studio, "Bob")

    panel.refresh_button.click()

    assert panel.collection.options == ("a", "b")
    assert panel.collection.value == "b"
    assert [v for _, v in panel.person.options] == [ada, bob]
    assert panel.person.value == ada


def test_close_leaves_no_widget_and_stops_polling(sqlite_studio):
    studio = sqlite_studio
    add_user(studio)
    add_scene(studio, collection_name="c")
    before = live_widgets()

    panel = GeneratePanel(studio, poll_interval=0.05)
    panel.generate().result(timeout=20)
    poller = panel._poller
    assert poller is not None and poller.is_alive()
    panel.close()

    poller.join(5)
    assert not poller.is_alive()
    assert live_widgets() == before


@pytest.mark.slow
def test_panel_follows_a_real_worker_to_the_end(sqlite_studio, panel_factory):
    studio = sqlite_studio
    add_user(studio)
    for _ in range(4):
        add_scene(studio, collection_name="c")
    panel = panel_factory(studio)

    with running_worker(studio.settings):
        panel.generate().result(timeout=20)
        wait_for(
            lambda: panel.rendered_bar.value == 4,
            timeout=60,
            what="the panel to show 4 rendered",
        )

    assert panel.set_up_bar.value == 4 and panel.failed_bar.value == 0
    wait_for(lambda: "finished: 4 rendered" in panel.status.value, timeout=5)


def test_panel_sentences_are_not_styled_as_white_badges(sqlite_studio):
    """The shared style paints status badges white on colour; a sentence in the
    panel must not pick that up, or it is white on white in the app."""
    import re

    from photolab_widgets.widgets.generate import GeneratePanel
    from photolab_widgets.widgets.style import CSS

    white = {
        m.group(1) for m in re.finditer(r"\.([\w-]+)\s*\{[^}]*color:\s*#fff\b", CSS)
    }
    panel = GeneratePanel(sqlite_studio)
    try:
        panel.generate()
        classes = set(re.findall(r"class='([^']*)'", panel.status.value))
        used = {c for group in classes for c in group.split()}
        assert panel.status.value and not used & white, (used, white)
    finally:
        panel.close()

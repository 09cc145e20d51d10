"""The Create task view: pick a collection and a person, Generate, watch it run.

Sending a batch can take seconds (thousands of scenes, or a broker that does
not answer), so Generate, Cancel and Retry run on a background thread: the
notebook stays responsive, and a second click while the first is being sent
finds the panel busy and is ignored (a double click makes one batch). The
progress of the batch being followed is read from the database by another
background thread every ``poll_interval`` seconds until the batch has
finished, another batch is followed or the panel is closed. ipywidgets sends
trait changes from any thread; a lock keeps two threads from redrawing the
panel at once, and a snapshot of a batch that is no longer followed is
dropped.

Faults are said, not waited out. While a batch runs, the poller also asks the
task queue whether it answers (one short connection attempt every few seconds)
and says so when it does not: the workers can neither take nor report tasks
then, and the bars stand still for that reason, not because the panel froze.
A database that does not answer is said the same way, and the poller keeps
trying, more slowly, so the progress resumes by itself once the server is
back. Each poll also marks the batch's lost tasks stale (a worker killed
mid-render), so a batch always ends and Retry can send those tasks again.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import ipywidgets as w
import traitlets

from ..dispatch.batches import (
    BatchProgress,
    BrokerUnavailable,
    CancelResult,
    GenerateError,
    GenerateResult,
    SentNotRecorded,
)
from ..health import DatabaseUnavailable
from ..studio import Studio
from .links import app_url, link_html
from .style import notice

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds between two checks of the task queue while a batch runs.
BROKER_CHECK_INTERVAL = 3.0
#: The longest pause between two progress reads while the database is down.
MAX_POLL_INTERVAL = 10.0


class GeneratePanel(w.VBox):
    """Generate one render task per scene of a collection, for one person.

    Parameters
    ----------
    studio : Studio
        Where the scenes, persons and tasks live, and the Celery app.
    poll_interval : float
        Seconds between two progress reads while a batch runs.
    stale_after : float or None
        Seconds without a word from any worker after which the batch's
        unfinished tasks are marked stale (``None``: the studio's default,
        15 minutes).
    link_base : str or None
        Where the summary's link to the chosen collection's scenes
        (``?collection=NAME``) points: ``""`` for a link relative to the page,
        or an app address; ``None``: ``PHOTOLAB_APP_URL``, or no link when it
        is unset (see :mod:`.links`).

    Attributes
    ----------
    collection : ipywidgets.Dropdown
        The distinct collection names of the scenes.
    person : ipywidgets.Dropdown
        The persons, shown as name and id; the value is the person id.
    summary : ipywidgets.HTML
        How many tasks Generate will create.
    generate_button, refresh_button, cancel_button, retry_button : ipywidgets.Button
        The actions; each has a public method (:meth:`generate`,
        :meth:`refresh`, :meth:`cancel`, :meth:`retry`).
    set_up_bar, rendered_bar, failed_bar : ipywidgets.IntProgress
        Scenes set up, tasks rendered and tasks failed, of the batch followed.
    status : ipywidgets.HTML
        One plain sentence: what happened last, or what went wrong.
    batch_id : int or None
        The batch the progress bars follow.
    busy : bool
        True while a batch is being sent, cancelled or retried.
    progress : BatchProgress or None
        The last snapshot of the followed batch.
    broker_problem : str or None
        Why the task queue did not answer at the last check, if it did not.
    """

    batch_id = traitlets.Int(None, allow_none=True)
    busy = traitlets.Bool(False)

    def __init__(
        self,
        studio: Studio,
        *,
        poll_interval: float = 1.0,
        stale_after: float | None = None,
        link_base: str | None = None,
        **kwargs: Any,
    ):
        self.studio = studio
        self.link_base = app_url() if link_base is None else link_base
        self.poll_interval = poll_interval
        self.stale_after = stale_after
        self.progress: BatchProgress | None = None
        self.broker_problem: str | None = None
        self._database_down = False
        self._lock = threading.RLock()
        self._stop_polling = threading.Event()
        self._poller: threading.Thread | None = None
        self._closed = False
        self._scene_count = 0

        self.collection = w.Dropdown(
            description="Collection", layout=w.Layout(width="420px")
        )
        self.person = w.Dropdown(description="Person", layout=w.Layout(width="420px"))
        self.summary = w.HTML()
        self.generate_button = w.Button(
            description="Generate", button_style="primary", icon="play"
        )
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.cancel_button = w.Button(description="Cancel", icon="stop", disabled=True)
        self.retry_button = w.Button(description="Retry", icon="repeat", disabled=True)
        self.set_up_bar = _bar()
        self.rendered_bar = _bar(bar_style="success")
        self.failed_bar = _bar(bar_style="danger")
        self._bar_labels = [w.HTML("0 / 0") for _ in range(3)]
        self.status = w.HTML()

        bars = w.GridBox(
            [
                item
                for title, bar, label in zip(
                    ("Scenes set up", "Tasks rendered", "Tasks failed"),
                    (self.set_up_bar, self.rendered_bar, self.failed_bar),
                    self._bar_labels,
                    strict=True,
                )
                for item in (w.HTML(title), bar, label)
            ],
            layout=w.Layout(grid_template_columns="120px 300px 90px"),
        )
        buttons = w.HBox(
            [
                self.generate_button,
                self.refresh_button,
                self.cancel_button,
                self.retry_button,
            ]
        )
        super().__init__(
            [self.collection, self.person, self.summary, buttons, bars, self.status],
            **kwargs,
        )
        self.add_class("photolab-generate")

        self.generate_button.on_click(lambda _: self.generate())
        self.refresh_button.on_click(lambda _: self.refresh())
        self.cancel_button.on_click(lambda _: self.cancel())
        self.retry_button.on_click(lambda _: self.retry())
        self.collection.observe(self._on_selection_change, "value")
        self.person.observe(self._on_selection_change, "value")
        self.refresh()

    # -- public actions ------------------------------------------------------

    def refresh(self) -> None:
        """Reload the collections and persons, keeping the current choice."""
        try:
            collections = self.studio.collections()
            persons = self.studio.persons()
        except DatabaseUnavailable as exc:
            log.warning("could not load collections and persons: %s", exc)
            self._say(f"Could not read the collections and persons: {exc}", "error")
            return
        except Exception:
            log.exception("could not load collections and persons")
            self._say(
                "Could not read the database; press Refresh to try again.", "error"
            )
            return
        with self._lock:
            chosen_collection = self.collection.value
            chosen_person = self.person.value
            person_ids = [p.id for p in persons]
            self.collection.options = collections
            self.person.options = [(p.label, p.id) for p in persons]
            # Keep the choice while it still exists, else take the first.
            self.collection.value = _keep(chosen_collection, collections)
            self.person.value = _keep(chosen_person, person_ids)
        self._update_summary()
        if self.batch_id is not None:
            # Also restarts polling that stopped on a database error.
            self._follow(self.batch_id)
        elif not collections:
            self._say("There are no collections yet.")
        elif not persons:
            self._say("There are no persons yet.")
        else:
            self._say("")

    def generate(self) -> Future[GenerateResult | None] | None:
        """Create and send a batch in the background.

        Returns a future of the batch (``None`` when it failed; the reason is
        in :attr:`status`), or ``None`` when the panel is busy.
        """
        collection, person = self.collection.value, self.person.value
        return self._start(
            "Sending the tasks…",
            lambda: self.studio.generate(collection, person),
            self._on_sent,
        )

    def cancel(self) -> Future[CancelResult | None] | None:
        """Cancel the tasks of the followed batch that have not started."""
        batch_id = self.batch_id
        if batch_id is None:
            self._say("There is no batch to cancel.")
            return None
        return self._start(
            f"Cancelling batch {batch_id}…",
            lambda: self.studio.cancel_batch(batch_id),
            self._on_cancelled,
        )

    def retry(self) -> Future[GenerateResult | None] | None:
        """Send the failed, cancelled and unsent tasks of the batch again."""
        batch_id = self.batch_id
        if batch_id is None:
            self._say("There is no batch to retry.")
            return None
        return self._start(
            f"Sending the tasks of batch {batch_id} again…",
            lambda: self.studio.retry_batch(batch_id),
            self._on_sent,
        )

    def refresh_progress(self) -> BatchProgress | None:
        """Read the followed batch's progress once and show it."""
        batch_id = self.batch_id
        if batch_id is None:
            return None
        try:
            progress = self.studio.batch_progress(
                batch_id, stale_after=self.stale_after
            )
        except DatabaseUnavailable as exc:
            log.warning("could not read the progress of batch %s: %s", batch_id, exc)
            self._database_down = True
            self._say(
                f"Could not read the progress of batch {batch_id}: {exc} "
                "This view keeps trying.",
                "error",
            )
            return None
        except Exception:
            log.exception("could not read the progress of batch %s", batch_id)
            self._say(
                f"Could not read the progress of batch {batch_id}; "
                "press Refresh to try again.",
                "error",
            )
            return None
        if self._database_down:
            self._database_down = False
            if not progress.finished:
                self._say(f"The database answers again; following batch {batch_id}.")
        self._show_progress(progress)
        return progress

    def close(self) -> None:
        """Stop following the batch and close every widget of the panel."""
        self._closed = True
        self._stop_polling.set()
        _close_tree(self)

    # -- background work -----------------------------------------------------

    def _start(
        self, message: str, work: Callable[[], T], done: Callable[[T], None]
    ) -> Future[T | None] | None:
        with self._lock:
            if self.busy or self._closed:
                return None
            self.busy = True
        self._say(message)
        future: Future[T | None] = Future()
        thread = threading.Thread(
            target=self._run, args=(work, done, future), daemon=True
        )
        thread.start()
        return future

    def _run(
        self,
        work: Callable[[], T],
        done: Callable[[T], None],
        future: Future[T | None],
    ) -> None:
        outcome: T | None = None
        try:
            outcome = work()
            done(outcome)
        except BrokerUnavailable as exc:
            self._say(str(exc), "error")
            self._follow(exc.batch_id)
        except GenerateError as exc:
            self._say(str(exc), "warning")
        except SentNotRecorded as exc:
            log.warning("the Generate panel's action: %s", exc)
            self._say(str(exc), "warning")
            self._follow(exc.batch_id)
        except DatabaseUnavailable as exc:
            log.warning("the Generate panel's action failed: %s", exc)
            self._say(f"Nothing was done: {exc}", "error")
        except Exception:
            log.exception("the Generate panel's action failed")
            self._say(
                "Something went wrong; the details are in the kernel's log.", "error"
            )
        finally:
            self.busy = False
            self._update_buttons()
            future.set_result(outcome)

    def _on_sent(self, result: GenerateResult) -> None:
        self._say(
            f"Sent batch {result.batch_id}: {_tasks(result.count)} ({result.design})."
        )
        self._follow(result.batch_id)

    def _on_cancelled(self, result: CancelResult) -> None:
        note = (
            "" if result.revoked else " (the workers could not be told; they skip them)"
        )
        self._say(
            f"Cancelled {_tasks(result.cancelled)} of batch {result.batch_id}{note}."
        )
        self.refresh_progress()

    # -- following a batch ---------------------------------------------------

    def _follow(self, batch_id: int) -> None:
        """Show ``batch_id`` now and keep polling it until it has finished."""
        with self._lock:
            self._stop_polling.set()
            self._stop_polling = stop = threading.Event()
            self.batch_id = batch_id
        progress = self.refresh_progress()
        if self._closed or (progress.finished if progress else not self._database_down):
            return  # finished, or an error only Refresh can fix
        self._poller = threading.Thread(
            target=self._poll, args=(batch_id, stop), daemon=True
        )
        self._poller.start()

    def _poll(self, batch_id: int, stop: threading.Event) -> None:
        pause = self.poll_interval
        checked = float("-inf")
        while not stop.wait(pause):
            if self.batch_id != batch_id or self._closed:
                return
            progress = self.refresh_progress()
            if progress is None:
                if not self._database_down:
                    return  # an error Refresh has to fix; the status says so
                pause = min(pause * 2, MAX_POLL_INTERVAL)
                continue
            pause = self.poll_interval
            if progress.finished:
                self._set_broker_problem(None)
                return
            if time.monotonic() - checked >= BROKER_CHECK_INTERVAL:
                checked = time.monotonic()
                self._check_broker(batch_id)

    def _check_broker(self, batch_id: int) -> None:
        try:
            problem = self.studio.broker_error()
        except Exception as exc:  # the check itself must not stop the poller
            log.exception("could not check the task queue")
            problem = str(exc) or type(exc).__name__
        if self.batch_id != batch_id or self._closed:
            return
        was = self.broker_problem
        self._set_broker_problem(problem)
        if problem is not None:
            self._say(
                f"{problem} The workers can neither take nor report tasks until "
                "it is back; this view keeps checking.",
                "error",
            )
        elif was is not None:
            self._say(f"The broker answers again; following batch {batch_id}.")

    def _set_broker_problem(self, problem: str | None) -> None:
        with self._lock:
            self.broker_problem = problem

    def _show_progress(self, progress: BatchProgress) -> None:
        with self._lock:
            if progress.batch_id != self.batch_id or self._closed:
                return  # a batch that is no longer followed
            self.progress = progress
            total = max(progress.total, 1)
            for bar, label, value in zip(
                (self.set_up_bar, self.rendered_bar, self.failed_bar),
                self._bar_labels,
                (progress.set_up, progress.done, progress.failed),
                strict=True,
            ):
                bar.max = total
                bar.value = min(value, total)
                label.value = f"{value} / {progress.total}"
            if progress.finished and not self.busy:
                kind = "success" if progress.done == progress.total else "warning"
                self._say(_finished_sentence(progress), kind)
        self._update_buttons()

    # -- view ------------------------------------------------------------------

    def _on_selection_change(self, change: dict[str, Any]) -> None:
        self._update_summary()

    def _update_summary(self) -> None:
        name, person_id = self.collection.value, self.person.value
        count = 0
        if name is None:
            text = "Choose a collection."
        else:
            try:
                count = self.studio.count_scenes(name)
            except Exception:
                log.exception("could not count the scenes of %r", name)
                text = "Could not count the scenes; press Refresh to try again."
            else:
                person = dict((v, k) for k, v in self.person.options).get(person_id)
                whom = f" for {html.escape(person)}" if person else ""
                link = link_html(self.link_base, "see the scenes", collection=name)
                text = (
                    f"Generate will create <b>{_tasks(count)}</b>, one per scene of "
                    f"“{html.escape(name)}”{whom}. {link}"
                )
        self.summary.value = text
        self._scene_count = count
        self._update_buttons()

    def _update_buttons(self) -> None:
        with self._lock:
            busy = self.busy
            progress = self.progress
            ready = (
                self.collection.value is not None
                and self.person.value is not None
                and self._scene_count > 0
            )
            self.generate_button.disabled = busy or not ready
            self.cancel_button.disabled = busy or not (progress and progress.in_flight)
            self.retry_button.disabled = busy or not (progress and progress.retryable)

    @traitlets.observe("busy")
    def _on_busy_change(self, change: dict[str, Any]) -> None:
        self._update_buttons()

    def _say(self, sentence: str, kind: str = "info") -> None:
        """One sentence in the status area, its box coloured by ``kind``."""
        self.status.value = notice(sentence, kind) if sentence else ""


def _bar(**kwargs: Any) -> w.IntProgress:
    return w.IntProgress(
        value=0, min=0, max=1, layout=w.Layout(width="290px"), **kwargs
    )


def _tasks(n: int) -> str:
    return f"{n} task" if n == 1 else f"{n} tasks"


def _finished_sentence(p: BatchProgress) -> str:
    parts = [f"{p.done} rendered"]
    if p.failed - p.stale:
        parts.append(f"{p.failed - p.stale} failed")
    if p.stale:
        parts.append(f"{p.stale} stale (no worker finished them; Retry sends them)")
    if p.cancelled:
        parts.append(f"{p.cancelled} cancelled")
    if p.undispatched:
        parts.append(f"{p.undispatched} not sent")
    sentence = f"Batch {p.batch_id} finished: {', '.join(parts)}."
    if p.error:
        sentence += f" First error: {p.error.splitlines()[0][:300]}"
    return sentence


def _close_tree(widget: w.Widget) -> None:
    """Close a widget, its children and their layout and style models."""
    for child in getattr(widget, "children", ()):
        _close_tree(child)
    for part in ("layout", "style"):
        model = getattr(widget, part, None)
        if isinstance(model, w.Widget):
            model.close()
    w.Widget.close(widget)


def _keep(chosen: Any, options: list[Any]) -> Any:
    if chosen in options:
        return chosen
    return options[0] if options else None

"""Generate, follow, cancel and retry a batch of render tasks.

A batch is one press of Generate: one task per scene of a collection, for one
person. The rows are written first, in one transaction, and only then is the
canvas sent (:mod:`photolab_widgets.dispatch.canvas`), so that a broker that
is down loses nothing: the tasks stay in the database, marked
``undispatched``, and :func:`retry_batch` sends the same rows again.

A task's life, and who moves it (``K`` the kernel, ``W`` the worker)::

    pending                      --K sent-------------> queued
    pending                      --K broker down------> undispatched
    pending, queued              --W set_up_scene-----> set_up
    pending, queued, set_up      --W render claims----> running
    running                      --W the same message,
                                    delivered again,
                                    claims again-------> running
    running                      --W render ends------> done | failed
    running, untouched for
      stale_after; or any
      unfinished task of a batch
      untouched for stale_after  --K batch_progress---> stale
    stale                        --W late render ends-> done
    pending, queued, set_up      --W set-up failed----> failed (the renders
                                                        it leaves unrun)
    pending, queued, set_up,
      undispatched               --K cancel-----------> cancelled
    failed, cancelled,
      undispatched, stale        --K retry------------> pending (then sent)

Every transition is a conditional UPDATE (``... WHERE status IN (...)``), so
the kernel and the workers never undo each other: a worker that claims a task
while the kernel is still marking it queued keeps it, a cancelled task cannot
be claimed, and a message delivered twice renders once.

Nothing stays unfinished forever. A render whose pool process is killed is
delivered again by Celery (``acks_late`` with ``reject_on_worker_lost``) and
that delivery may claim the ``running`` task again. But a whole worker killed
leaves its message unacknowledged, and Redis gives it back only after its
visibility timeout (an hour); a Redis restarted without persistence loses the
queue. So :func:`batch_progress`, which the Generate panel polls, marks as
``stale`` a running task no worker has touched for ``stale_after`` seconds,
and every unfinished task of a batch in which no task has changed for that
long. Stale tasks are retried like failed ones: the same rows, sent again.
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from ..config import redact_url
from ..health import DatabaseUnavailable
from ..models import Batch, Scene, Task, TaskStatus, User, utcnow
from ..queries import checked_id, is_collection
from ..sqltext import same_text
from .canvas import SPEC_CANVAS_MAX_SCENES, Design, Job, SendReport, send

if TYPE_CHECKING:
    from ..studio import Studio

log = logging.getLogger(__name__)

#: Tasks that have not started yet: Cancel stops them.
CANCELLABLE = (
    TaskStatus.PENDING,
    TaskStatus.QUEUED,
    TaskStatus.SET_UP,
    TaskStatus.UNDISPATCHED,
)
#: Tasks that ended without a picture: Retry sends them again.
RETRYABLE = (
    TaskStatus.FAILED,
    TaskStatus.CANCELLED,
    TaskStatus.UNDISPATCHED,
    TaskStatus.STALE,
)
#: Tasks a worker may still pick up.
IN_FLIGHT = (
    TaskStatus.PENDING,
    TaskStatus.QUEUED,
    TaskStatus.SET_UP,
    TaskStatus.RUNNING,
)

#: Seconds without a word from any worker after which an unfinished task is
#: presumed lost (see the module docstring). It must be longer than the
#: longest render: a worker that renders for longer touches the task's
#: ``updated_at`` meanwhile (see the worker contract).
STALE_AFTER_S = 15 * 60

# The Core table, for an executemany UPDATE with one bound Celery id per row.
_TASKS = Task.metadata.tables["tasks"]

# SQL parameter lists are sent in slices of this size.
_IN_CHUNK = 500


class BatchStatus(enum.StrEnum):
    """What the kernel last did with a batch (``batches.status``)."""

    SENDING = "sending"
    SENT = "sent"
    UNDISPATCHED = "undispatched"
    CANCELLED = "cancelled"


class GenerateError(ValueError):
    """Bad input for Generate or Retry; nothing was sent.

    Generate writes nothing before raising it. Retry may have marked the tasks
    whose scene is gone ``failed`` (with the reason) before finding that no
    task is left to send.
    """


class SentNotRecorded(DatabaseUnavailable):
    """The broker took the tasks, but the database failed while that was noted.

    The tasks stay ``pending`` instead of becoming ``queued``; workers claim
    both, so the batch runs as sent and is followed like any other. (Had the
    broker refused part of the canvas as well, those tasks stay ``pending``
    too, and the stale rule hands them to Retry.)

    Attributes
    ----------
    batch_id:
        The batch that was sent.
    """

    def __init__(self, message: str, batch_id: int):
        super().__init__(message)
        self.batch_id = batch_id


class BrokerUnavailable(RuntimeError):
    """The broker did not take the canvas; the unsent tasks are kept.

    Attributes
    ----------
    batch_id:
        The batch whose tasks are now ``undispatched``.
    task_ids:
        Those tasks. :func:`retry_batch` sends them again.
    """

    def __init__(self, message: str, batch_id: int, task_ids: Sequence[int]):
        super().__init__(message)
        self.batch_id = batch_id
        self.task_ids = tuple(task_ids)


@dataclass(frozen=True)
class GenerateResult:
    """What the caller needs to follow a batch.

    ``task_ids`` and ``celery_ids`` are parallel: the Celery id of each
    task's ``render_scene`` message.
    """

    batch_id: int
    task_ids: tuple[int, ...]
    celery_ids: tuple[str, ...]
    design: Design
    celery_id: str | None = None

    @property
    def count(self) -> int:
        return len(self.task_ids)


@dataclass(frozen=True)
class CancelResult:
    batch_id: int
    cancelled: int
    #: Whether the workers were told to drop the messages. They skip the
    #: cancelled tasks anyway (the claim fails), so this only saves them work.
    revoked: bool


@dataclass(frozen=True)
class BatchProgress:
    """A snapshot of a batch, as the Generate panel shows it."""

    batch_id: int
    collection_name: str
    person_id: int
    status: str
    total: int
    counts: dict[str, int]
    error: str | None
    batch_error: str | None

    def count(self, *statuses: str) -> int:
        return sum(self.counts.get(str(s), 0) for s in statuses)

    @property
    def set_up(self) -> int:
        """Tasks whose scene is set up (waiting, rendering or rendered)."""
        return self.count(TaskStatus.SET_UP, TaskStatus.RUNNING, TaskStatus.DONE)

    @property
    def done(self) -> int:
        return self.count(TaskStatus.DONE)

    @property
    def failed(self) -> int:
        """Failed and stale tasks: both ended without a picture."""
        return self.count(TaskStatus.FAILED, TaskStatus.STALE)

    @property
    def stale(self) -> int:
        return self.count(TaskStatus.STALE)

    @property
    def cancelled(self) -> int:
        return self.count(TaskStatus.CANCELLED)

    @property
    def undispatched(self) -> int:
        return self.count(TaskStatus.UNDISPATCHED)

    @property
    def in_flight(self) -> int:
        return self.count(*IN_FLIGHT)

    @property
    def retryable(self) -> int:
        return self.count(*RETRYABLE)

    @property
    def finished(self) -> bool:
        """Nothing left for a worker to do.

        Read from the tasks alone: a batch whose sending could not be
        recorded keeps the status ``sending`` for good, and its tasks are
        ``pending`` until it is sent, so they tell the truth either way.
        """
        return self.in_flight == 0


# -- Generate ----------------------------------------------------------------


def generate(
    studio: Studio,
    collection_name: str | None,
    person_id: int | None,
    *,
    spec_max_scenes: int = SPEC_CANVAS_MAX_SCENES,
) -> GenerateResult:
    """One task per scene of ``collection_name`` for ``person_id``, then send.

    Raises :class:`GenerateError` for bad input (nothing written) and
    :class:`BrokerUnavailable` when the broker does not take the canvas (the
    tasks are kept as ``undispatched``). ``spec_max_scenes`` exists for the
    benchmark, which compares both canvases at any size.
    """
    name = _check_collection(collection_name)
    pid = _check_person_id(person_id)
    with studio.session() as s:
        if s.get(User, pid) is None:
            raise GenerateError(
                f"There is no person with id {pid} (any more). "
                "Press Refresh to reload the list of persons."
            )
        scene_ids = list(
            s.scalars(
                select(Scene.scene_id)
                .where(same_text(Scene.collection_name, name))
                .order_by(Scene.scene_id)
            )
        )
        if not scene_ids:
            raise GenerateError(
                f"Collection {name!r} has no scenes (it may have been deleted). "
                "Press Refresh to reload the list of collections."
            )
        batch = Batch(
            collection_name=name,
            person_id=pid,
            task_count=len(scene_ids),
            status=BatchStatus.SENDING.value,
        )
        s.add(batch)
        s.flush()
        batch_id = batch.id
        now = utcnow()
        rows = [
            {
                "person_id": pid,
                "scene_id": scene_id,
                "collection_name": name,
                "status": TaskStatus.PENDING.value,
                "batch_id": batch_id,
                "celery_id": str(uuid.uuid4()),
                "created_at": now,
                "updated_at": now,
            }
            for scene_id in scene_ids
        ]
        s.execute(insert(Task), rows)
        jobs = _pending_jobs(s, batch_id)
    log.info("batch %d: %d tasks for %r, person %d", batch_id, len(jobs), name, pid)
    return _dispatch(studio, batch_id, jobs, spec_max_scenes)


def _check_collection(collection_name: str | None) -> str:
    if not is_collection(collection_name):
        raise GenerateError("Choose a collection first.")
    return collection_name


def _check_person_id(person_id: int | None) -> int:
    if person_id is None:
        raise GenerateError("Choose a person first.")
    try:
        pid = checked_id(person_id, "person")
    except ValueError as exc:
        raise GenerateError(str(exc)) from None
    if pid is None:  # no row can have it, and drivers overflow on it
        raise GenerateError(f"There is no person with id {person_id}.")
    return pid


def _pending_jobs(session: Session, batch_id: int) -> list[Job]:
    rows = session.execute(
        select(Task.id, Task.scene_id, Task.celery_id)
        .where(Task.batch_id == batch_id, Task.status == TaskStatus.PENDING.value)
        .order_by(Task.id)
    )
    return [Job(tid, sid, cid or "") for tid, sid, cid in rows]


def _dispatch(
    studio: Studio, batch_id: int, jobs: list[Job], spec_max_scenes: int
) -> GenerateResult:
    """Send the jobs (all ``pending``), then record what reached the broker."""
    report = send(studio.celery, jobs, spec_max_scenes=spec_max_scenes)
    try:
        unsent = _record_sending(studio, batch_id, jobs, report)
    except DatabaseUnavailable as exc:
        if not report.sent:
            raise  # nothing went anywhere: the plain outage
        raise SentNotRecorded(
            f"The {len(report.sent)} tasks of batch {batch_id} were sent to the "
            "workers, but the database did not answer while that was being "
            "noted; they are rendered all the same.",
            batch_id,
        ) from exc
    if report.error is not None:
        raise BrokerUnavailable(
            _broker_message(studio, report, len(jobs)), batch_id, unsent
        )
    return GenerateResult(
        batch_id=batch_id,
        task_ids=tuple(j.task_id for j in jobs),
        celery_ids=tuple(j.celery_id for j in jobs),
        design=report.design,
        celery_id=report.celery_id,
    )


def _record_sending(
    studio: Studio, batch_id: int, jobs: list[Job], report: SendReport
) -> list[int]:
    """Mark the sent tasks ``queued`` and the rest ``undispatched``; the rest."""
    sent = set(report.sent)
    unsent = [j.task_id for j in jobs if j.task_id not in sent]
    with studio.session() as s:
        if not unsent:
            # Only rows still pending: a worker may already have claimed some.
            s.execute(
                update(Task)
                .where(
                    Task.batch_id == batch_id,
                    Task.status == TaskStatus.PENDING.value,
                )
                .values(status=TaskStatus.QUEUED.value, updated_at=utcnow())
            )
        else:
            _set_status(s, sorted(sent), TaskStatus.QUEUED)
            _set_status(s, unsent, TaskStatus.UNDISPATCHED, _broker_error(report))
        batch = s.get(Batch, batch_id)
        assert batch is not None
        if batch.status == BatchStatus.SENDING:
            batch.status = (
                BatchStatus.UNDISPATCHED if unsent else BatchStatus.SENT
            ).value
        batch.celery_id = report.celery_id
        batch.error = _broker_error(report) if unsent else None
    return unsent


def _set_status(
    session: Session,
    task_ids: Sequence[int],
    status: TaskStatus,
    error: str | None = None,
) -> None:
    for start in range(0, len(task_ids), _IN_CHUNK):
        chunk = list(task_ids[start : start + _IN_CHUNK])
        session.execute(
            update(Task)
            .where(Task.id.in_(chunk), Task.status == TaskStatus.PENDING.value)
            .values(status=status.value, error=error, updated_at=utcnow())
        )


def _broker_error(report: SendReport) -> str:
    return f"not sent: {type(report.error).__name__}: {report.error}".strip()


def _broker_message(studio: Studio, report: SendReport, total: int) -> str:
    where = redact_url(studio.settings.broker_url)
    unsent = total - len(report.sent)
    reason = str(report.error).strip().splitlines()[0] if report.error else ""
    return (
        f"Could not reach the task queue at {where} ({reason}). "
        f"{unsent} of {total} tasks were kept as not sent; "
        "press Retry when the queue is back."
    )


# -- Follow ------------------------------------------------------------------


def batch_progress(
    studio: Studio, batch_id: int, *, stale_after: float = STALE_AFTER_S
) -> BatchProgress:
    """Counts of the batch's tasks by status, and one error text if any.

    First marks the batch's lost tasks ``stale`` (see :func:`mark_stale`), so
    that whoever follows a batch sees it end even when its worker died.
    """
    with studio.session() as s:
        batch = _batch(s, batch_id)
        mark_stale(s, batch_id, stale_after)
        counts = {
            status: n
            for status, n in s.execute(
                select(Task.status, func.count())
                .where(Task.batch_id == batch_id)
                .group_by(Task.status)
            )
        }
        error = s.scalar(
            select(Task.error)
            .where(
                Task.batch_id == batch_id,
                Task.status == TaskStatus.FAILED.value,
                Task.error.is_not(None),
            )
            .order_by(Task.id)
            .limit(1)
        )
        return BatchProgress(
            batch_id=batch.id,
            collection_name=batch.collection_name,
            person_id=batch.person_id,
            status=batch.status,
            total=sum(counts.values()),
            counts=counts,
            error=error,
            batch_error=batch.error,
        )


def mark_stale(session: Session, batch_id: int, stale_after: float) -> int:
    """Mark the batch's lost tasks ``stale``; return how many.

    Lost: a ``running`` task untouched for ``stale_after`` seconds (its
    worker died), or any unfinished task when no task of the batch has changed
    for that long (no worker is working on it: dead, or its messages gone).
    Two conditional UPDATEs that change nothing while the batch is healthy.
    """
    cutoff = utcnow() - timedelta(seconds=stale_after)
    minutes = _duration(stale_after)
    marked = 0
    # Read before the first UPDATE, which touches the rows it marks.
    latest = session.scalar(
        select(func.max(Task.updated_at)).where(Task.batch_id == batch_id)
    )
    running = session.execute(
        update(Task)
        .where(
            Task.batch_id == batch_id,
            Task.status == TaskStatus.RUNNING.value,
            Task.updated_at < cutoff,
        )
        .values(
            status=TaskStatus.STALE.value,
            error=(
                f"stale: its worker said nothing for {minutes} while rendering "
                "it (killed, or cut off); press Retry to send it again"
            ),
            updated_at=utcnow(),
        )
    )
    marked += getattr(running, "rowcount", 0) or 0
    if latest is not None and latest < cutoff:
        idle = session.execute(
            update(Task)
            .where(
                Task.batch_id == batch_id,
                Task.status.in_([s.value for s in IN_FLIGHT]),
            )
            .values(
                status=TaskStatus.STALE.value,
                error=(
                    f"stale: no worker touched this batch for {minutes} (workers "
                    "down, or the queue lost its messages); press Retry to send "
                    "it again"
                ),
                updated_at=utcnow(),
            )
        )
        marked += getattr(idle, "rowcount", 0) or 0
    if marked:
        log.warning("batch %d: %d tasks marked stale", batch_id, marked)
    return marked


def _duration(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:g} seconds"


# -- Cancel and retry ----------------------------------------------------------


def cancel_batch(studio: Studio, batch_id: int) -> CancelResult:
    """Cancel the batch's tasks that have not started; revoke their messages.

    The database is the authority: a cancelled task can no longer be claimed
    by ``render_scene``, so it is skipped even when the revoke does not reach
    the workers (broker down, a worker started later). Tasks already running
    finish.
    """
    with studio.session() as s:
        batch = _batch(s, batch_id)
        rows = s.execute(
            select(Task.id, Task.celery_id).where(
                Task.batch_id == batch_id,
                Task.status.in_([c.value for c in CANCELLABLE]),
            )
        ).all()
        if rows:  # a finished batch stays as it ended
            s.execute(
                update(Task)
                .where(
                    Task.batch_id == batch_id,
                    Task.status.in_([c.value for c in CANCELLABLE]),
                )
                .values(
                    status=TaskStatus.CANCELLED.value,
                    error="cancelled before it started",
                    updated_at=utcnow(),
                )
            )
            batch.status = BatchStatus.CANCELLED.value
    celery_ids = [cid for _, cid in rows if cid]
    revoked = _revoke(studio, celery_ids)
    log.info("batch %d: cancelled %d tasks", batch_id, len(rows))
    return CancelResult(batch_id, len(rows), revoked)


def _revoke(studio: Studio, celery_ids: list[str]) -> bool:
    if not celery_ids:
        return True
    try:
        studio.celery.control.revoke(celery_ids)
    except Exception:
        log.warning("could not revoke %d messages", len(celery_ids), exc_info=True)
        return False
    return True


def retry_batch(
    studio: Studio,
    batch_id: int,
    *,
    spec_max_scenes: int = SPEC_CANVAS_MAX_SCENES,
) -> GenerateResult:
    """Send the batch's failed, cancelled and unsent tasks again.

    The same rows are sent, each with a new Celery id (workers remember
    revoked ids and would drop a message that reused one). Tasks whose scene
    has been deleted since are left failed, with the reason.
    """
    with studio.session() as s:
        batch = _batch(s, batch_id)
        retryable = [c.value for c in RETRYABLE]
        rows = s.execute(
            select(Task.id, Task.scene_id).where(
                Task.batch_id == batch_id, Task.status.in_(retryable)
            )
        ).all()
        if not rows:
            raise GenerateError(
                f"Batch {batch_id} has no failed, cancelled or unsent tasks to retry."
            )
        existing = _existing_scenes(s, {sid for _, sid in rows})
        gone = [tid for tid, sid in rows if sid not in existing]
        if gone:
            s.execute(
                update(Task)
                # Still retryable: a late worker may have finished one since.
                .where(Task.id.in_(gone), Task.status.in_(retryable))
                .values(
                    status=TaskStatus.FAILED.value,
                    error="not retried: its scene no longer exists",
                    updated_at=utcnow(),
                )
            )
        again = [
            {"tid": tid, "cid": str(uuid.uuid4())}
            for tid, sid in rows
            if sid in existing
        ]
        if again:
            stmt = (
                update(_TASKS)
                .where(
                    Task.id == bindparam("tid"),
                    # executemany takes no IN list: spell it out
                    or_(*(Task.status == status for status in retryable)),
                )
                .values(
                    status=TaskStatus.PENDING.value,
                    celery_id=bindparam("cid"),
                    error=None,
                    result_img_key=None,
                    updated_at=utcnow(),
                )
            )
            s.connection().execute(stmt, again)
            batch.status = BatchStatus.SENDING.value
            batch.error = None
        jobs = _pending_jobs(s, batch_id)
    if not jobs:
        raise GenerateError(
            f"None of the tasks of batch {batch_id} can be retried: "
            "their scenes no longer exist."
        )
    log.info("batch %d: retrying %d tasks", batch_id, len(jobs))
    return _dispatch(studio, batch_id, jobs, spec_max_scenes)


def _batch(session: Session, batch_id: int) -> Batch:
    bid = checked_id(batch_id, "batch")
    batch = session.get(Batch, bid) if bid is not None else None
    if batch is None:
        raise GenerateError(f"There is no batch {batch_id}.")
    return batch


def _existing_scenes(session: Session, scene_ids: set[int]) -> set[int]:
    found: set[int] = set()
    ids = sorted(scene_ids)
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        found.update(
            session.scalars(select(Scene.scene_id).where(Scene.scene_id.in_(chunk)))
        )
    return found

"""The Generate canvas: what is sent to Celery, and why it has two shapes.

DESIGN.md asks for this canvas, sent by task *name* (the workers are the
studio's own, not this package)::

    chain(group(set_up_scene(scene_id) for each scene),
          group(render_scene(task_id), immutable, for each task))

Up to :data:`SPEC_CANVAS_MAX_SCENES` scenes that is exactly what is sent.
Celery turns a chain of two groups into a chord, with two consequences:

- A chord needs a result backend to count the finished set-ups, so the app
  always has one (Redis in production, SQLite embedded).
- Every ``set_up_scene`` message carries a copy of the whole render group, so
  the bytes on the wire grow with the square of the scene count. Measured with
  ``photolab-widgets bench generate`` (same on the embedded broker and Redis):
  20 KB per scene at 50 scenes; 370 KB per scene at 1,000 (360 MB in all,
  13 s of kernel time); 5,000 scenes would be about 9 GB.

Celery also rewrites the small cases: a group of one task is unrolled, so a
one-scene batch goes out as the chain ``set_up_scene -> render_scene`` (no
chord, no result backend involved); from two scenes on it is the chord. Both
keep the order that matters, each render after the set-up of its scene, and
``render_scene`` is immutable in both, so it never receives set-up results.

Above :data:`SPEC_CANVAS_MAX_SCENES` scenes each scene gets its own chain,
``set_up_scene(scene_id) -> render_scene(task_id)``, published one after the
other on one producer connection. The message of a set-up carries only its own
render (1.2 KB on the wire); the worker then publishes that render (960 B):
2.1 KB per scene in all, at any size. Generate of 5,000 scenes takes about
5 s of kernel time (6 s with Redis and MariaDB).

The guarantee the studio relies on holds: a render starts only after the
set-up of its scene. What is given up is the barrier *between* scenes (in the
chord no render starts before every scene is set up); nothing in the studio
needs it, and it costs quadratic bytes and a result backend write per set-up.
The alternatives were worse: chunking the chord into groups of k scenes still
costs k copies of a render per scene (about 20 KB per scene for k = 50), and a
barrier task that waits for all set-ups needs a task the studio's workers do
not have. Per-scene chains also publish message by message, so when the
broker fails half-way the tasks already sent are known and only the rest are
marked as not dispatched.

The set-up messages of per-scene chains are sent with ``ignore_result``: no
one reads a set-up's result there, and it spares the worker a backend write
and the kernel a Redis result subscription per message (which doubled the
time to send 5,000 scenes).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from celery import Celery, chain, group
from celery.canvas import Signature
from celery.result import AsyncResult

log = logging.getLogger(__name__)

SET_UP_SCENE = "set_up_scene"
RENDER_SCENE = "render_scene"

#: Batches up to this many scenes are sent as the literal canvas of DESIGN.md.
SPEC_CANVAS_MAX_SCENES = 50


class Design(enum.StrEnum):
    """Which shape of the canvas was sent."""

    CHAIN_OF_GROUPS = "chain of groups"
    SCENE_CHAINS = "per-scene chains"


@dataclass(frozen=True)
class Job:
    """One task to render: its row, its scene and the Celery id of its render."""

    task_id: int
    scene_id: int
    celery_id: str


@dataclass(frozen=True)
class SendReport:
    """What reached the broker.

    ``sent`` holds the task ids whose messages were published; when ``error``
    is set, the other jobs were not sent.
    """

    design: Design
    sent: tuple[int, ...]
    error: Exception | None = None
    celery_id: str | None = None


def set_up_signature(app: Celery, scene_id: int) -> Signature:
    return app.signature(SET_UP_SCENE, (scene_id,))


def render_signature(app: Celery, job: Job) -> Signature:
    """``render_scene(task_id)``, immutable, with the id stored on the task row."""
    return app.signature(
        RENDER_SCENE, (job.task_id,), immutable=True, task_id=job.celery_id
    )


def spec_canvas(app: Celery, jobs: Sequence[Job]) -> Signature:
    """The canvas of DESIGN.md: all set-ups, then all renders."""
    return chain(
        group(set_up_signature(app, job.scene_id) for job in jobs),
        group(render_signature(app, job) for job in jobs),
    )


def scene_chain(app: Celery, job: Job) -> Signature:
    """One scene's set-up, then its render."""
    set_up = set_up_signature(app, job.scene_id).set(ignore_result=True)
    return chain(set_up, render_signature(app, job))


def forget(app: Celery, result: AsyncResult) -> None:
    """Stop the kernel listening for the results of what it just sent.

    Building the chord's group results subscribes this process to every task's
    result on a Redis backend and keeps the result objects until the results
    arrive, which the kernel never reads (it follows the task rows in the
    database). Left alone, the subscriptions pile up batch after batch, and
    one dropped by the garbage collector while Redis is down raises out of
    ``AsyncResult.__del__``. Dropped now, while the broker has just answered.
    """
    pending = [result]
    seen: set[int] = set()
    try:
        while pending:
            item = pending.pop()
            if id(item) in seen:
                continue
            seen.add(id(item))
            app.backend.remove_pending_result(item)
            pending.extend(getattr(item, "results", None) or ())
            if item.parent is not None:
                pending.append(item.parent)
    except Exception:  # tidying up must not turn a sent batch into an error
        log.warning("could not drop the result subscriptions", exc_info=True)


def choose_design(
    scene_count: int, spec_max_scenes: int = SPEC_CANVAS_MAX_SCENES
) -> Design:
    if scene_count <= spec_max_scenes:
        return Design.CHAIN_OF_GROUPS
    return Design.SCENE_CHAINS


def send(
    app: Celery,
    jobs: Sequence[Job],
    *,
    spec_max_scenes: int = SPEC_CANVAS_MAX_SCENES,
) -> SendReport:
    """Publish the canvas for ``jobs``; never raises for a broker failure.

    A failure is returned in the report (and logged with its traceback), so
    that the caller can mark exactly the unsent tasks as not dispatched.
    """
    design = choose_design(len(jobs), spec_max_scenes)
    if not jobs:
        return SendReport(design, ())
    if design is Design.CHAIN_OF_GROUPS:
        try:
            result = spec_canvas(app, jobs).apply_async()
        except Exception as exc:
            log.warning(
                "could not send the canvas of %d tasks", len(jobs), exc_info=True
            )
            return SendReport(design, (), exc)
        forget(app, result)
        return SendReport(design, tuple(j.task_id for j in jobs), celery_id=result.id)

    sent: list[int] = []
    try:
        with app.producer_or_acquire() as producer:
            for job in jobs:
                scene_chain(app, job).apply_async(producer=producer)
                sent.append(job.task_id)
    except Exception as exc:
        log.warning(
            "sent %d of %d scene chains, then the broker failed",
            len(sent),
            len(jobs),
            exc_info=True,
        )
        return SendReport(design, tuple(sent), exc)
    return SendReport(design, tuple(sent))

"""The demo worker's tasks: ``set_up_scene`` and ``render_scene``.

They stand in for the studio's renderer: set-up draws a pose picture when a
scene has none, render composes a picture from the base image, the prompt and
the person with Pillow. What they write to the database is the contract every
worker follows (see :mod:`photolab_widgets.dispatch.worker`).

Failures happen the way they would in a real renderer, from the data: a base
image key whose file is missing fails the set-up, a base image file that is
not a picture fails the render. The demo data and the tests use exactly that.

Each worker process opens its own engine (:class:`WorkerContext` checks the
process id), because a pooled connection inherited across ``fork()`` gives
random protocol errors.

Two faults are not the task's own, and are retried rather than recorded as
failures. A database that does not answer (restarting, cut off): the task is
retried with a growing pause (1 s doubling to 30 s, about 20 minutes in all).
A pool process killed mid-task (out of memory, a stray ``kill -9``): Celery
sends the task again a second later (``retry_on_worker_lost``). A retry may
claim its ``running`` (or ``stale``) task again, since the attempt that
claimed it has ended, as long as the task still carries that message's id (a
Retry from the panel gives it a new one). A message merely delivered twice
(``acks_late``: Redis hands back the unacknowledged messages of a worker
whose connection dropped, while that worker may still be rendering) is not a
retry, and is skipped.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery import Celery, Task
from PIL import Image
from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from ..config import Settings
from ..db import make_engine, outages_reported
from ..demo import draw_base, draw_pose, draw_result, save_image
from ..health import DatabaseUnavailable
from ..images import key_path
from ..models import Scene, TaskStatus, User, utcnow
from ..models import Task as TaskRow
from .canvas import RENDER_SCENE, SET_UP_SCENE

log = logging.getLogger(__name__)

#: The statuses ``render_scene`` may claim a task from.
CLAIMABLE = (TaskStatus.PENDING, TaskStatus.QUEUED, TaskStatus.SET_UP)

#: Both tasks' options. A database that does not answer: Celery's retry with a
#: pause of 1 s doubling up to 30 s (40 tries are about 20 minutes). A killed
#: pool process: the same task sent again after ``default_retry_delay``.
TASK_OPTIONS: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "autoretry_for": (DatabaseUnavailable,),
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": False,
    "max_retries": 40,
    "retry_on_worker_lost": True,
    "default_retry_delay": 1,
}

SETUP_READY = "ready"
SETUP_FAILED = "failed"


@dataclass
class WorkerContext:
    """Settings, the render delay and this process's own database engine."""

    settings: Settings
    delay: float = 0.0
    _engine: Engine | None = field(default=None, repr=False)
    _pid: int = field(default=0, repr=False)

    def engine(self) -> Engine:
        if self._engine is None or self._pid != os.getpid():
            # Never reuse the parent's pool in a forked child.
            self._engine = make_engine(self.settings.database_url)
            self._pid = os.getpid()
        return self._engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction; a lost database raises :class:`DatabaseUnavailable`."""
        with outages_reported():
            with sessionmaker(self.engine(), expire_on_commit=False)() as session:
                with session.begin():
                    yield session

    def images_dir(self) -> Path:
        folder = self.settings.images_dir
        if folder is None:
            raise RuntimeError(
                "the demo worker stores pictures in a local folder only, but the "
                f"image base URL is {self.settings.image_base_url!r}"
            )
        return folder


_context: WorkerContext | None = None


def configure(settings: Settings, delay: float = 0.0) -> WorkerContext:
    """Set what the tasks of this process (and its forked children) use."""
    global _context
    _context = WorkerContext(settings, delay)
    return _context


def context() -> WorkerContext:
    if _context is None:
        return configure(Settings.from_env())
    return _context


def register(app: Celery) -> None:
    """Register both tasks on ``app`` under the names the canvas sends."""
    app.task(name=SET_UP_SCENE, **TASK_OPTIONS)(set_up_scene_task)
    app.task(name=RENDER_SCENE, **TASK_OPTIONS)(render_scene_task)


# -- set_up_scene ------------------------------------------------------------


def set_up_scene_task(self: Task, scene_id: int) -> dict[str, Any]:
    ctx = context()
    log.info("set_up_scene start scene=%s", scene_id)
    try:
        result = set_up_scene(ctx, scene_id, downstream_render_ids(self.request))
    except DatabaseUnavailable:
        log.warning("set_up_scene scene=%s: database unavailable, retrying", scene_id)
        raise
    except Exception as exc:
        try:
            failed = fail_downstream(
                ctx, scene_id, exc, downstream_render_ids(self.request)
            )
        except Exception:
            # Keep the set-up's own error as the one Celery records.
            log.exception("could not record the failed set-up of scene %s", scene_id)
        else:
            log.warning(
                "set_up_scene failed scene=%s; failed tasks %s", scene_id, failed
            )
        raise
    log.info("set_up_scene done scene=%s", scene_id)
    return result


def set_up_scene(
    ctx: WorkerContext, scene_id: int, render_ids: Sequence[int] = ()
) -> dict[str, Any]:
    """Check the base image, draw a pose if missing, mark scene and tasks.

    Only the renders this message leads to (``render_ids``, read from the
    canvas) move to ``set_up``: another task waiting on the same scene may
    belong to no batch, or to one whose renders will never come.
    """
    if ctx.delay:
        time.sleep(ctx.delay / 2)
    folder = ctx.images_dir()
    with ctx.session() as s:
        scene = s.get(Scene, scene_id)
        if scene is None:
            raise LookupError(f"scene {scene_id} does not exist")
        if scene.base_img_key and not key_path(scene.base_img_key, folder).is_file():
            raise FileNotFoundError(
                f"base image {scene.base_img_key!r} is not in the image store"
            )
        pose_key = scene.pose_img_key
        if pose_key is None and isinstance(scene.hint_img_list, list | None):
            pose_key = f"setup/pose/scene-{scene_id}.png"
            save_image(draw_pose(scene_id), folder, pose_key)
            rest = list(scene.hint_img_list or [])[1:]
            scene.hint_img_list = [pose_key, *rest]
        scene.setup_status = SETUP_READY
        s.execute(
            update(TaskRow)
            .where(
                TaskRow.scene_id == scene_id,
                TaskRow.id.in_(list(render_ids)),
                TaskRow.status.in_([TaskStatus.PENDING, TaskStatus.QUEUED]),
            )
            .values(status=TaskStatus.SET_UP.value, updated_at=utcnow())
        )
    return {"scene_id": scene_id, "pose_img_key": pose_key}


def downstream_render_ids(request: Any) -> list[int]:
    """The ``render_scene`` task ids this message would have led to.

    A per-scene chain carries its one render in ``request.chain``; in the
    chord of the spec canvas ``request.chord`` carries the whole render group,
    which Celery will not run once a set-up has failed.
    """
    found: list[int] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("task") == RENDER_SCENE and node.get("args"):
                found.append(int(node["args"][0]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list | tuple):
            for value in node:
                walk(value)

    walk(getattr(request, "chain", None))
    walk(getattr(request, "chord", None))
    return found


def fail_downstream(
    ctx: WorkerContext, scene_id: int, exc: BaseException, task_ids: list[int]
) -> list[int]:
    """Mark the scene failed and the renders that will not run as failed."""
    reason = f"{type(exc).__name__}: {exc}"
    own = f"set-up of scene {scene_id} failed: {reason}"
    other = (
        f"not rendered: the set-up of scene {scene_id} in the same batch "
        f"failed ({reason})"
    )
    waiting = [s.value for s in CLAIMABLE]
    with ctx.session() as s:
        s.execute(
            update(Scene)
            .where(Scene.scene_id == scene_id)
            .values(setup_status=SETUP_FAILED)
        )
        if not task_ids:
            return []
        failed = list(
            s.scalars(
                select(TaskRow.id).where(
                    TaskRow.id.in_(task_ids), TaskRow.status.in_(waiting)
                )
            )
        )
        for mine, text in ((True, own), (False, other)):
            match = (
                TaskRow.scene_id == scene_id if mine else TaskRow.scene_id != scene_id
            )
            s.execute(
                update(TaskRow)
                .where(TaskRow.id.in_(task_ids), TaskRow.status.in_(waiting), match)
                .values(status=TaskStatus.FAILED.value, error=text, updated_at=utcnow())
            )
    return failed


# -- render_scene ------------------------------------------------------------


def render_scene_task(self: Task, task_id: int) -> dict[str, Any]:
    ctx = context()
    retry_of = self.request.id if self.request.retries else None
    try:
        claimed, scene_id, status = claim(ctx, task_id, retry_of=retry_of)
    except DatabaseUnavailable:
        log.warning("render_scene task=%s: database unavailable, retrying", task_id)
        raise
    if not claimed:
        log.info("render_scene skip task=%s status=%s", task_id, status)
        return {"task_id": task_id, "skipped": status}
    log.info("render_scene start task=%s scene=%s", task_id, scene_id)
    try:
        key = render_scene(ctx, task_id)
    except DatabaseUnavailable:
        log.warning("render_scene task=%s: database unavailable, retrying", task_id)
        raise
    except Exception as exc:
        try:
            record_render_failure(ctx, task_id, exc)
        except Exception:
            log.exception("could not record the failed render of task %s", task_id)
        raise
    log.info("render_scene done task=%s scene=%s", task_id, scene_id)
    return {"task_id": task_id, "result_img_key": key}


def claim(
    ctx: WorkerContext, task_id: int, *, retry_of: str | None = None
) -> tuple[bool, int | None, str | None]:
    """Move the task to ``running`` if it is waiting; only one caller wins.

    ``retry_of``: this message is a retry of the Celery message ``retry_of``,
    whose attempt has ended. When that message is the task's own (its
    ``celery_id``; Retry from the panel gives the row a new one), a
    ``running`` or ``stale`` task is claimed too: the attempt that claimed
    it is over. Returns whether this call claimed it, its scene id and its
    status.
    """
    waiting: ColumnElement[bool] = TaskRow.status.in_([c.value for c in CLAIMABLE])
    if retry_of is not None:
        ended = [TaskStatus.RUNNING.value, TaskStatus.STALE.value]
        waiting = or_(
            waiting, and_(TaskRow.status.in_(ended), TaskRow.celery_id == retry_of)
        )
    with ctx.session() as s:
        result = s.execute(
            update(TaskRow)
            .where(TaskRow.id == task_id, waiting)
            .values(status=TaskStatus.RUNNING.value, updated_at=utcnow())
        )
        row = s.execute(
            select(TaskRow.scene_id, TaskRow.status).where(TaskRow.id == task_id)
        ).first()
    claimed = getattr(result, "rowcount", 0) == 1
    if row is None:
        return False, None, None
    return claimed, row.scene_id, row.status


def render_scene(ctx: WorkerContext, task_id: int) -> str:
    """Compose the result picture, store it, set the key and ``done``."""
    folder = ctx.images_dir()
    with ctx.session() as s:
        task = s.get(TaskRow, task_id)
        if task is None:
            raise LookupError(f"task {task_id} no longer exists")
        scene = s.get(Scene, task.scene_id)
        if scene is None:
            raise LookupError(f"scene {task.scene_id} no longer exists")
        person = s.get(User, task.person_id)
        person_name = person.name if person else f"person {task.person_id}"
        prompt = scene.prompt or ""
        base_key = scene.base_img_key
        label = scene.name or f"scene {scene.scene_id}"
        batch_id = task.batch_id or 0
    if base_key:
        with Image.open(key_path(base_key, folder)) as source:
            base = source.convert("RGB")
    else:
        base = draw_base(task.scene_id, label)
    picture = draw_result(base, prompt, person_name)
    if ctx.delay:
        time.sleep(ctx.delay)
    key = f"results/batch-{batch_id}/task-{task_id}.jpg"
    save_image(picture, folder, key)
    finishing = [TaskStatus.RUNNING.value, TaskStatus.STALE.value]  # late is fine
    with ctx.session() as s:
        s.execute(
            update(TaskRow)
            .where(TaskRow.id == task_id, TaskRow.status.in_(finishing))
            .values(
                status=TaskStatus.DONE.value,
                result_img_key=key,
                error=None,
                updated_at=utcnow(),
            )
        )
    return key


def record_render_failure(ctx: WorkerContext, task_id: int, exc: BaseException) -> None:
    with ctx.session() as s:
        s.execute(
            update(TaskRow)
            .where(TaskRow.id == task_id, TaskRow.status == TaskStatus.RUNNING.value)
            .values(
                status=TaskStatus.FAILED.value,
                error=f"render_scene: {type(exc).__name__}: {exc}",
                updated_at=utcnow(),
            )
        )

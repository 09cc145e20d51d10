"""Read queries the views make. Plain SQLAlchemy 2; no widget imports here.

Each function takes an open :class:`~sqlalchemy.orm.Session` and returns
snapshots (frozen dataclasses or detached rows), so that the views keep no
session open and no lazy load can fire from a widget callback.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeGuard

from sqlalchemy import Select, false, func, select
from sqlalchemy.orm import Session

from .models import Scene, Task, User
from .sqltext import exact_text, same_text


@dataclass(frozen=True)
class Person:
    id: int
    name: str

    @property
    def label(self) -> str:
        return f"{self.name} (#{self.id})"


@dataclass(frozen=True)
class TaskRow:
    """A task with its person's name, as the views show it.

    ``person_name`` is ``None`` when the person row is gone.
    """

    id: int
    status: str
    person_id: int
    person_name: str | None
    scene_id: int
    collection_name: str | None
    result_img_key: str | None
    error: str | None
    batch_id: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class TaskFilter:
    """Gallery filters; ``None`` means any."""

    collection_name: str | None = None
    person_id: int | None = None
    status: str | None = None


@dataclass(frozen=True)
class TaskPage:
    rows: tuple[TaskRow, ...]
    total: int
    offset: int
    limit: int


@dataclass(frozen=True)
class SceneWithTasks:
    """A detached scene row and its tasks, newest first."""

    scene: Scene
    tasks: tuple[TaskRow, ...]


_TASK_COLUMNS = (
    Task.id,
    Task.status,
    Task.person_id,
    User.name,
    Task.scene_id,
    Task.collection_name,
    Task.result_img_key,
    Task.error,
    Task.batch_id,
    Task.created_at,
    Task.updated_at,
)


def _task_select() -> Select:
    return select(*_TASK_COLUMNS).outerjoin(User, User.id == Task.person_id)


def _task_rows(result: Sequence) -> tuple[TaskRow, ...]:
    return tuple(TaskRow(*row) for row in result)


def _apply_filter(stmt: Select, flt: TaskFilter) -> Select:
    if flt.collection_name is not None:
        stmt = stmt.where(same_text(Task.collection_name, flt.collection_name))
    if flt.person_id is not None:
        person_id = checked_id(flt.person_id, "person")
        stmt = stmt.where(
            Task.person_id == person_id if person_id is not None else false()
        )
    if flt.status is not None:
        stmt = stmt.where(Task.status == flt.status)
    return stmt


#: The most rows one page may ask for.
MAX_PAGE = 1000

#: Row ids are positive and fit 64 bits (SQLite's integers, MySQL's
#: ``BIGINT``); beyond that the drivers overflow.
MAX_ID = 2**63 - 1


def checked_id(value: object, what: str) -> int | None:
    """``value`` as a row id of ``what``, or ``None`` when no row can have it.

    Not a whole number (the text ``"1"`` from a box or a CSV, a float, a bool,
    ``None``) raises ``ValueError`` with a sentence, rather than loading the row
    and missing its tasks. A number outside ``1..MAX_ID`` names no row; the
    drivers would overflow on it, so callers answer "not found" instead.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"A {what} id is a whole number, not {value!r}.")
    return value if 0 < value <= MAX_ID else None


def check_page(offset: int, limit: int) -> None:
    """Refuse paging arguments that would read everything or nothing."""
    for name, value in (("offset", offset), ("limit", limit)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"A page {name} is a whole number, not {value!r}.")
    if offset < 0 or not 0 < limit <= MAX_PAGE:
        raise ValueError(
            f"A page starts at offset 0 or more and holds 1 to {MAX_PAGE} rows "
            f"(got offset={offset}, limit={limit})."
        )


def collection_names(session: Session) -> list[str]:
    """Distinct collection names of ``scenes`` that Generate takes, sorted.

    Distinct to the byte (:mod:`~photolab_widgets.sqltext`): "Summer" and
    "summer" are two collections, as Generate treats them. ``NULL`` and names
    of nothing but white space are left out: they name no collection one
    could pick, and Generate refuses them ("Choose a collection first").
    """
    stmt = (
        select(exact_text(Scene.collection_name))
        .where(Scene.collection_name.is_not(None), Scene.collection_name != "")
        .distinct()
    )
    return sorted(name for name in session.scalars(stmt) if is_collection(name))


def is_collection(name: object) -> TypeGuard[str]:
    """Whether ``name`` can name a collection: text with more than white space."""
    return isinstance(name, str) and bool(name.strip())


def persons(session: Session) -> list[Person]:
    """Every row of ``users`` by id."""
    rows = session.execute(select(User.id, User.name).order_by(User.id))
    return [Person(id, name) for id, name in rows]


def count_scenes(session: Session, collection_name: str | None = None) -> int:
    stmt = select(func.count()).select_from(Scene)
    if collection_name is not None:
        stmt = stmt.where(same_text(Scene.collection_name, collection_name))
    return session.scalar(stmt) or 0


def tasks_page(
    session: Session,
    flt: TaskFilter | None = None,
    *,
    offset: int = 0,
    limit: int = 20,
) -> TaskPage:
    """One page of tasks, newest first, and the filtered total: two queries."""
    check_page(offset, limit)
    flt = flt or TaskFilter()
    stmt = _apply_filter(_task_select(), flt).order_by(Task.id.desc())
    rows = _task_rows(session.execute(stmt.offset(offset).limit(limit)).all())
    count = _apply_filter(select(func.count()).select_from(Task), flt)
    total = session.scalar(count) or 0
    return TaskPage(rows=rows, total=total, offset=offset, limit=limit)


def tasks_by_id(session: Session, ids: Sequence[int]) -> dict[int, TaskRow]:
    """The current state of the given tasks, in one query."""
    wanted = [i for i in ids if checked_id(i, "task") is not None]
    if not wanted:
        return {}
    stmt = _task_select().where(Task.id.in_(wanted))
    return {row.id: row for row in _task_rows(session.execute(stmt).all())}


def tasks_for_scenes(
    session: Session, scene_ids: Sequence[int]
) -> dict[int, tuple[TaskRow, ...]]:
    """The tasks of several scenes in one query, newest first per scene."""
    out: dict[int, list[TaskRow]] = defaultdict(list)
    if scene_ids:
        stmt = (
            _task_select()
            .where(Task.scene_id.in_(list(scene_ids)))
            .order_by(Task.id.desc())
        )
        for row in _task_rows(session.execute(stmt).all()):
            out[row.scene_id].append(row)
    return {sid: tuple(out.get(sid, ())) for sid in scene_ids}


def scene_with_tasks(session: Session, scene_id: int) -> SceneWithTasks | None:
    sid = checked_id(scene_id, "scene")
    scene = session.get(Scene, sid) if sid is not None else None
    if scene is None:
        return None
    session.expunge(scene)
    tasks = tasks_for_scenes(session, [scene.scene_id])
    return SceneWithTasks(scene, tasks[scene.scene_id])


def scenes_with_tasks(
    session: Session,
    collection_name: str | None = None,
    *,
    offset: int = 0,
    limit: int = 20,
) -> tuple[list[SceneWithTasks], int]:
    """A page of scenes (by id) with all their tasks: three queries in all."""
    check_page(offset, limit)
    stmt = select(Scene).order_by(Scene.scene_id)
    if collection_name is not None:
        stmt = stmt.where(same_text(Scene.collection_name, collection_name))
    scenes = list(session.scalars(stmt.offset(offset).limit(limit)))
    for scene in scenes:
        session.expunge(scene)
    tasks = tasks_for_scenes(session, [s.scene_id for s in scenes])
    total = count_scenes(session, collection_name)
    return [SceneWithTasks(s, tasks[s.scene_id]) for s in scenes], total


def scene_offset(
    session: Session, scene_id: int, collection_name: str | None = None
) -> int:
    """How many scenes come before ``scene_id`` in the board's order (by id)."""
    stmt = select(func.count()).select_from(Scene).where(Scene.scene_id < scene_id)
    if collection_name is not None:
        stmt = stmt.where(same_text(Scene.collection_name, collection_name))
    return session.scalar(stmt) or 0

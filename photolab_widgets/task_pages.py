"""Task reads for the gallery: keyset pages, filter choices, one task's detail, CSV.

Plain SQLAlchemy 2, no widget imports. Every function takes an open
:class:`~sqlalchemy.orm.Session` and returns frozen snapshots.

Why keyset pages: ``ORDER BY id DESC LIMIT n OFFSET k`` makes the database walk
and discard ``k`` rows, so page 5,000 of 100,000 tasks costs as much as
reading them all. ``WHERE id < :last_id_of_previous_page ORDER BY id DESC
LIMIT n`` starts at the right place in the primary key (or in the
``(collection_name, id)``, ``(person_id, id)``, ``(status, id)`` indexes when a
filter is set), so every page costs the same. The price is that a page is
reached by walking from the newest, not by number; the gallery only needs
newer and older.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

from sqlalchemy import Integer, cast, func, literal, null, select, union_all
from sqlalchemy.orm import Session

from .images import image_url
from .models import Scene, Task, User
from .queries import (
    Person,
    TaskFilter,
    TaskRow,
    _apply_filter,
    _task_select,
    checked_id,
    is_collection,
)
from .sqltext import exact_text

#: The columns of :func:`write_tasks_csv`, in order.
CSV_COLUMNS = (
    "id",
    "status",
    "person_id",
    "person_name",
    "scene_id",
    "collection_name",
    "result_img_key",
    "image_url",
    "error",
    "batch_id",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True)
class TaskSlice:
    """A page of tasks, newest first, reached by keyset.

    Attributes
    ----------
    rows:
        At most ``limit`` tasks with ``id < before_id``, newest first.
    total:
        How many tasks match the filter in all (not only below ``before_id``).
    before_id:
        The keyset this page was read below; ``None`` for the newest page.
    has_more:
        Whether older tasks follow the last row.
    """

    rows: tuple[TaskRow, ...]
    total: int
    before_id: int | None
    has_more: bool


@dataclass(frozen=True)
class FilterOptions:
    """What the gallery's filters offer: collection names and persons."""

    collections: tuple[str, ...]
    persons: tuple[Person, ...]


@dataclass(frozen=True)
class TaskDetail:
    """One task with the scene facts the detail panel shows.

    ``scene_exists`` is ``False`` when the scene row is gone; the task keeps
    its ``scene_id`` and the panel says the scene was deleted.
    """

    task: TaskRow
    celery_id: str | None
    scene_exists: bool
    scene_name: str | None
    prompt: str | None


def count_tasks(session: Session, flt: TaskFilter | None = None) -> int:
    stmt = _apply_filter(select(func.count()).select_from(Task), flt or TaskFilter())
    return session.scalar(stmt) or 0


def count_and_newest(
    session: Session, flt: TaskFilter | None = None
) -> tuple[int, int | None]:
    """The filtered count and the newest matching id, in one query.

    A refresh of the first page needs both: tasks may have left a filter as
    fast as new ones came in, leaving the count where it was.
    """
    stmt = _apply_filter(
        select(func.count(), func.max(Task.id)).select_from(Task), flt or TaskFilter()
    )
    count, newest = session.execute(stmt).one()
    return count or 0, newest


def task_slice(
    session: Session,
    flt: TaskFilter | None = None,
    *,
    before_id: int | None = None,
    limit: int = 20,
    with_total: bool = True,
) -> TaskSlice:
    """The ``limit`` newest tasks below ``before_id``: one query, plus the count.

    One row more than asked is read to know whether an older page exists,
    which saves a second query. Without ``with_total`` the count is skipped
    and ``total`` is ``-1``.
    """
    flt = flt or TaskFilter()
    stmt = _apply_filter(_task_select(), flt)
    if before_id is not None:
        stmt = stmt.where(Task.id < before_id)
    stmt = stmt.order_by(Task.id.desc()).limit(limit + 1)
    rows = tuple(TaskRow(*row) for row in session.execute(stmt).all())
    total = count_tasks(session, flt) if with_total else -1
    return TaskSlice(rows[:limit], total, before_id, len(rows) > limit)


def filter_options(session: Session) -> FilterOptions:
    """Collection names (of ``scenes``) and persons, in one round trip.

    A ``UNION ALL`` of the two lists: the gallery opens with three queries
    (choices, page, count) rather than four.
    """
    names = (
        select(
            literal("c").label("kind"),
            cast(null(), Integer).label("id"),
            exact_text(Scene.collection_name).label("name"),
        )
        .where(Scene.collection_name.is_not(None), Scene.collection_name != "")
        .distinct()
    )
    # Binary on MySQL: scenes (the studio's) and users may differ in collation.
    people = select(literal("p"), User.id, exact_text(User.name))
    collections: list[str] = []
    persons: list[Person] = []
    for row in session.execute(union_all(names, people)).mappings():
        if row["kind"] == "c":
            if is_collection(row["name"]):
                collections.append(row["name"])
        else:
            persons.append(Person(int(row["id"]), row["name"]))
    persons.sort(key=lambda p: p.id)
    return FilterOptions(tuple(sorted(collections)), tuple(persons))


def task_detail(session: Session, task_id: int) -> TaskDetail | None:
    """A task with its scene's name and prompt, in one query; ``None`` if gone."""
    if checked_id(task_id, "task") is None:
        return None
    stmt = (
        _task_select()
        .add_columns(Task.celery_id, Scene.scene_id, Scene.name, Scene.prompt)
        .outerjoin(Scene, Scene.scene_id == Task.scene_id)
        .where(Task.id == task_id)
    )
    row = session.execute(stmt).first()
    if row is None:
        return None
    *task, celery_id, scene_id, scene_name, prompt = row
    return TaskDetail(
        task=TaskRow(*task),
        celery_id=celery_id,
        scene_exists=scene_id is not None,
        scene_name=scene_name,
        prompt=prompt,
    )


def iter_tasks(
    session: Session, flt: TaskFilter | None = None, *, batch: int = 1000
) -> Iterator[TaskRow]:
    """Every task matching ``flt``, newest first, streamed ``batch`` rows at a time."""
    stmt = _apply_filter(_task_select(), flt or TaskFilter()).order_by(Task.id.desc())
    result = session.execute(stmt.execution_options(yield_per=batch))
    for row in result:
        yield TaskRow(*row)


# A cell starting with one of these is run as a formula by spreadsheet programs.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str | None) -> str:
    """Text for a CSV cell that a spreadsheet shows rather than evaluates."""
    if not text:
        return ""
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_tasks_csv(
    session: Session,
    out: TextIO,
    flt: TaskFilter | None = None,
    *,
    image_base_url: str | None = None,
) -> int:
    """Write the filtered tasks as CSV (header first) to ``out``; return the count.

    ``image_url`` is the full picture's URL (base URL plus the percent-encoded
    key), empty when the task has no key. Times are UTC, ISO 8601. Text that
    a spreadsheet would take for a formula (``=``, ``+``, ``-``, ``@``) gets a
    leading apostrophe, so opening the export runs nothing.
    """
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    n = 0
    for row in iter_tasks(session, flt):
        writer.writerow(
            (
                row.id,
                row.status,
                row.person_id,
                _cell(row.person_name),
                row.scene_id,
                _cell(row.collection_name),
                _cell(row.result_img_key),
                image_url(row.result_img_key, image_base_url) or "",
                _cell(row.error),
                "" if row.batch_id is None else row.batch_id,
                row.created_at.isoformat(sep=" "),
                row.updated_at.isoformat(sep=" "),
            )
        )
        n += 1
    return n

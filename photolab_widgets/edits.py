"""The Scene edit view's writes: a scene's ``params`` and its ``rate``.

Each write is one short transaction that loses nobody's work:

- :func:`save_params` is a compare-and-set. It locks the row, compares what the
  database holds with the value the editor started from (as parsed JSON, since
  MariaDB keeps the text as sent and MySQL reorders keys), and writes only when
  they match. Otherwise it raises :class:`ParamsConflict` and writes nothing.
- :func:`bump_rate` is a single ``UPDATE`` whose new value is computed by the
  database (``NULL`` counts as 0, clamped to 0..10), then read back in the same
  transaction. Two kernels clicking + at once each add their 1.

``None`` means "no params" and is stored as SQL ``NULL`` (``params IS NULL`` is
true afterwards), written as an explicit ``NULL`` rather than trusting the JSON
type. A top-level JSON ``null`` is the same thing: a column that holds the JSON
text ``null`` reads back as ``None`` too, so the two cannot be told apart once
stored, and the editor treats both as empty.

Integers of any size are kept on SQLite and MariaDB (both store the JSON text).
MySQL's binary JSON holds integers up to 64 bits; larger ones would come back
as floats there.

SQLite gives a column declared ``JSON`` numeric affinity: the text ``1.0`` is
stored as the integer 1, and ``2**200`` or ``0.30000000000000004`` as a 15-digit
real. Nested numbers are safe inside the object's text, so only a top-level
number is affected; on SQLite it is written as a BLOB of its JSON text, which
affinity leaves alone (a ``LIKE`` on the column does not see inside a BLOB,
which hardly matters for a bare number).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from sqlalchemy import (
    Connection,
    Engine,
    LargeBinary,
    case,
    func,
    literal,
    null,
    select,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from . import jsondoc
from .models import RATE_MAX, RATE_MIN, Scene, dumps
from .queries import checked_id

log = logging.getLogger(__name__)


class _Unchecked:
    def __repr__(self) -> str:
        return "UNCHECKED"


#: Pass as ``base`` to save without comparing (ad-hoc use, not the editor).
UNCHECKED: Final = _Unchecked()


class SceneNotFound(LookupError):
    """The scene id has no row (deleted, or never existed)."""

    def __init__(self, scene_id: int) -> None:
        super().__init__(f"Scene {scene_id} does not exist.")
        self.scene_id = scene_id


class ParamsConflict(RuntimeError):
    """The row's params changed since the editor loaded them; nothing written.

    ``current`` is what the database holds now, for the researcher to compare.
    """

    def __init__(self, scene_id: int, current: Any) -> None:
        super().__init__(
            f"The params of scene {scene_id} were changed by someone else "
            "since they were loaded."
        )
        self.scene_id = scene_id
        self.current = current


@contextmanager
def _write_transaction(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            # pysqlite only opens a transaction at the first write, so the read
            # of a compare-and-set would run outside it; BEGIN IMMEDIATE takes
            # the write lock before the read (other writers wait, busy_timeout).
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn


def save_params(
    engine: Engine, scene_id: int, value: Any, *, base: Any = UNCHECKED
) -> Any:
    """Store ``value`` as the scene's params and return what the row now holds.

    Parameters
    ----------
    value:
        Any JSON value; ``None`` stores SQL ``NULL``.
    base:
        The params the editor loaded. When given, the save happens only if the
        row still holds an equal value (types included); otherwise
        :class:`ParamsConflict` is raised and the row is left as it was. A row
        that already holds ``value`` is no conflict: that is a save repeated
        after its answer was lost, and it succeeds without writing.

    Raises
    ------
    jsondoc.JsonValueError
        ``value`` is not storable JSON (NaN, a set, a non-text key).
    SceneNotFound, ParamsConflict
    """
    jsondoc.check(value)
    if checked_id(scene_id, "scene") is None:
        raise SceneNotFound(scene_id)
    where = Scene.scene_id == scene_id
    with _write_transaction(engine) as conn:
        row = conn.execute(select(Scene.params).where(where).with_for_update()).first()
        if row is None:
            raise SceneNotFound(scene_id)
        if base is not UNCHECKED and not jsondoc.same(row.params, base):
            if jsondoc.same(row.params, value):
                # A repeat of a save whose answer was lost (the connection
                # dropped after the commit): it is already there.
                log.info("params of scene %s already saved", scene_id)
                return row.params
            raise ParamsConflict(scene_id, row.params)
        stored = _column_value(value, conn.dialect.name)
        conn.execute(update(Scene).where(where).values(params=stored))
        saved = conn.execute(select(Scene.params).where(where)).scalar_one()
    log.info("saved params of scene %s", scene_id)
    return saved


def _column_value(value: Any, dialect: str) -> Any | ColumnElement[Any]:
    """What to put in the column: explicit NULL, a number SQLite keeps, or the value."""
    if value is None:
        return null()
    if dialect == "sqlite" and jsondoc.type_of(value) in ("integer", "number"):
        return literal(dumps(value).encode(), LargeBinary)
    return value


def bump_rate(engine: Engine, scene_id: int, delta: float) -> float:
    """Add ``delta`` to the scene's rate in one atomic update; return the new rate.

    ``NULL`` counts as 0 and the result is clamped to ``RATE_MIN..RATE_MAX``
    (0..10, the column's documented range), so 9.5 + 1 gives 10 and 0.5 - 1
    gives 0. Decimals are kept: 7.5 + 1 is 8.5. The value returned is the one
    the database holds after this update, read in the same transaction (a
    concurrent click commits before or after ours, never in between).
    """
    if isinstance(delta, bool) or not isinstance(delta, int | float):
        raise TypeError(f"delta must be a number, not {delta!r}")
    try:
        step = float(delta)
    except OverflowError:  # an int beyond any float
        step = math.inf
    if not math.isfinite(step):
        raise ValueError(f"delta must be finite, not {delta!r}")
    if checked_id(scene_id, "scene") is None:
        raise SceneNotFound(scene_id)
    moved = func.coalesce(Scene.rate, 0.0) + step
    clamped = case(
        (moved < RATE_MIN, RATE_MIN),
        (moved > RATE_MAX, RATE_MAX),
        else_=moved,
    )
    where = Scene.scene_id == scene_id
    with engine.begin() as conn:
        conn.execute(update(Scene).where(where).values(rate=clamped))
        rate = conn.execute(select(Scene.rate).where(where)).scalar_one_or_none()
    if rate is None:  # after the update a present row always has a rate
        raise SceneNotFound(scene_id)
    return float(rate)

"""Engines and schema: MySQL through PyMySQL in production, SQLite embedded.

MySQL: utf8mb4 on the connection, connections pinged before use and recycled
after an hour, so a kernel left open overnight does not die on "server has gone
away". SQLite: WAL and a 30 s busy timeout, because the demo worker and several
kernels write the same file.

An engine must not cross ``fork()``: a pooled connection shared by parent and
child gives random protocol errors. Worker processes call
:func:`dispose_after_fork` (or build their own engine) before their first query.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from .health import DatabaseUnavailable
from .models import Base, Batch, Scene, Task, User, dumps

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_S = 30

#: MySQL/MariaDB client and server error codes that mean "the server is not
#: there right now", not "the statement is wrong": cannot connect (2002, 2003),
#: shutdown in progress (1053), connection killed (1927), gone away or lost
#: mid-query (2006, 2013), and the rest of what SQLAlchemy counts as a
#: disconnect (2014, 2045, 2055, 4031).
OUTAGE_ERROR_CODES = frozenset(
    {1053, 1927, 2002, 2003, 2006, 2013, 2014, 2045, 2055, 4031}
)


#: What a view says when the database does not answer (see
#: :func:`outages_reported`).
OUTAGE_SENTENCE = (
    "the database did not answer (it may be restarting or unreachable); "
    "try again in a moment."
)


def is_outage(exc: BaseException) -> bool:
    """Whether a SQLAlchemy error means the server is gone, not a bad statement."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    args: tuple[Any, ...] = tuple(getattr(exc.orig, "args", ()))
    return bool(args) and args[0] in OUTAGE_ERROR_CODES


@contextmanager
def outages_reported() -> Iterator[None]:
    """Turn a lost or refused connection into :class:`DatabaseUnavailable`.

    Raised instead of the driver's error so that a view can say one plain
    sentence (``str(exc)``, :data:`OUTAGE_SENTENCE`) rather than a driver
    message. A transaction the connection was in never committed, and the
    server rolls it back, so the action can simply be tried again; the pool's
    pre-ping makes the next action open a fresh connection once the server is
    back. (The same class says why :func:`~photolab_widgets.connect` failed.)
    """
    try:
        yield
    except DBAPIError as exc:
        if is_outage(exc):
            log.warning("database unavailable: %s", exc.orig)
            raise DatabaseUnavailable(OUTAGE_SENTENCE) from exc
        raise


def make_engine(database_url: str | URL, **kwargs: Any) -> Engine:
    """Create the engine for a SQLAlchemy URL with the settings above."""
    url = make_url(database_url)
    options: dict[str, Any] = {"json_serializer": dumps, "future": True}
    if url.get_backend_name() in ("mysql", "mariadb"):
        if "charset" not in url.query:
            url = url.update_query_dict({"charset": "utf8mb4"})
        options.update(
            pool_pre_ping=True,
            pool_recycle=3600,
            connect_args={"connect_timeout": 10},
        )
    elif url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"] = {
            "timeout": SQLITE_BUSY_TIMEOUT_S,
            "check_same_thread": False,
        }
    options.update(kwargs)
    engine = create_engine(url, **options)
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def init_db(engine: Engine) -> list[str]:
    """Create the missing tables; return their names.

    Safe to run twice. An existing ``scenes`` table is never touched: not its
    columns, not its rows, not its indexes.
    """
    existing = set(inspect(engine).get_table_names())
    wanted = [Base.metadata.tables[m.__tablename__] for m in (Scene, User, Batch, Task)]
    missing = [t for t in wanted if t.name not in existing]
    Base.metadata.create_all(engine, tables=missing, checkfirst=True)
    created = [t.name for t in missing]
    if created:
        log.info("created tables: %s", ", ".join(created))
    return created


def dispose_after_fork(engine: Engine) -> None:
    """Drop the pool's inherited connections without closing the parent's."""
    engine.dispose(close=False)

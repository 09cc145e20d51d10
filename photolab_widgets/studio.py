"""The Studio: one object that owns the engine, the sessions and the Celery app.

Nothing connects at import or construction time; the engine connects on the
first query and the Celery app is built on first use, so notebooks, Voila
kernels and tests can import everything offline.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from . import edits, queries, task_pages
from .config import Settings
from .db import init_db, make_engine, outages_reported
from .health import DatabaseUnavailable, describe_database_error, scrubbed_traceback
from .images import image_url
from .queries import Person, SceneWithTasks, TaskFilter, TaskPage, TaskRow
from .task_pages import FilterOptions, TaskDetail, TaskSlice

if TYPE_CHECKING:
    from celery import Celery

    from .dispatch.batches import BatchProgress, CancelResult, GenerateResult

log = logging.getLogger(__name__)


class Studio:
    """Entry point for views and ad-hoc work. Make one with :func:`connect`."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings.database_url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"<Studio {self.settings.redacted_database_url()}>"

    # -- sessions ---------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error.

        A lost or refused connection comes out as
        :class:`~photolab_widgets.health.DatabaseUnavailable`.
        """
        with outages_reported(), self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def init_db(self) -> list[str]:
        """Create missing tables (never touching ``scenes``); see :func:`init_db`."""
        return init_db(self.engine)

    def close(self) -> None:
        self.engine.dispose()
        if "celery" in self.__dict__:
            self.celery.close()

    # -- Celery -----------------------------------------------------------

    @cached_property
    def celery(self) -> Celery:
        """This studio's Celery app, built on first use."""
        from .dispatch.app import make_celery

        return make_celery(self.settings)

    # -- images -----------------------------------------------------------

    def image_url(self, key: str | None) -> str | None:
        return image_url(key, self.settings.image_base_url)

    # -- reads ------------------------------------------------------------

    def collections(self) -> list[str]:
        """Distinct non-null collection names of ``scenes``, sorted."""
        with self.session() as s:
            return queries.collection_names(s)

    def persons(self) -> list[Person]:
        with self.session() as s:
            return queries.persons(s)

    def count_scenes(self, collection_name: str | None = None) -> int:
        with self.session() as s:
            return queries.count_scenes(s, collection_name)

    def tasks(
        self,
        *,
        collection_name: str | None = None,
        person_id: int | None = None,
        status: str | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> TaskPage:
        flt = TaskFilter(collection_name, person_id, status)
        with self.session() as s:
            return queries.tasks_page(s, flt, offset=offset, limit=limit)

    def tasks_by_id(self, ids: Sequence[int]) -> dict[int, TaskRow]:
        with self.session() as s:
            return queries.tasks_by_id(s, ids)

    def scene(self, scene_id: int) -> SceneWithTasks | None:
        with self.session() as s:
            return queries.scene_with_tasks(s, scene_id)

    def scenes(
        self,
        collection_name: str | None = None,
        *,
        offset: int = 0,
        limit: int = 20,
    ) -> tuple[list[SceneWithTasks], int]:
        with self.session() as s:
            return queries.scenes_with_tasks(
                s, collection_name, offset=offset, limit=limit
            )

    def scene_offset(self, scene_id: int, collection_name: str | None = None) -> int:
        """The scene's position in :meth:`scenes` order (to find its page)."""
        with self.session() as s:
            return queries.scene_offset(s, scene_id, collection_name)

    # -- the task gallery's reads (photolab_widgets.task_pages) ----------

    def task_slice(
        self,
        flt: TaskFilter | None = None,
        *,
        before_id: int | None = None,
        limit: int = 20,
    ) -> TaskSlice:
        """A keyset page of tasks below ``before_id`` and the filtered total."""
        with self.session() as s:
            return task_pages.task_slice(s, flt, before_id=before_id, limit=limit)

    def count_tasks(self, flt: TaskFilter | None = None) -> int:
        with self.session() as s:
            return task_pages.count_tasks(s, flt)

    def count_and_newest(self, flt: TaskFilter | None = None) -> tuple[int, int | None]:
        """The filtered count and the newest matching task id, one query."""
        with self.session() as s:
            return task_pages.count_and_newest(s, flt)

    def task_filter_options(self) -> FilterOptions:
        """Collection names and persons for the gallery's filters, one query."""
        with self.session() as s:
            return task_pages.filter_options(s)

    def task_detail(self, task_id: int) -> TaskDetail | None:
        with self.session() as s:
            return task_pages.task_detail(s, task_id)

    def export_tasks_csv(self, out: TextIO, flt: TaskFilter | None = None) -> int:
        """Write the filtered tasks, image URLs included, as CSV; return the count."""
        with self.session() as s:
            return task_pages.write_tasks_csv(
                s, out, flt, image_base_url=self.settings.image_base_url
            )

    # -- scene edits (see photolab_widgets.edits) ---------------------------

    def save_params(
        self, scene_id: int, value: Any, *, base: Any = edits.UNCHECKED
    ) -> Any:
        """Store a scene's params (``None``: SQL NULL); return what is stored.

        With ``base`` (the value the editor loaded) the save is refused with
        :class:`~photolab_widgets.edits.ParamsConflict` when someone else
        changed the row meanwhile.
        """
        with outages_reported():
            return edits.save_params(self.engine, scene_id, value, base=base)

    def bump_rate(self, scene_id: int, delta: float) -> float:
        """Add ``delta`` to a scene's rate atomically, clamped to 0..10."""
        with outages_reported():
            return edits.bump_rate(self.engine, scene_id, delta)

    # -- generate (photolab_widgets.dispatch.batches) -----------------------

    def generate(self, collection_name: str, person_id: int) -> GenerateResult:
        """One task per scene of the collection for the person, sent to Celery.

        Raises ``GenerateError`` for bad input (nothing written) and
        ``BrokerUnavailable`` when the broker is down (the tasks are kept as
        ``undispatched``; :meth:`retry_batch` sends them).
        """
        from .dispatch import batches

        return batches.generate(self, collection_name, person_id)

    def batch_progress(
        self, batch_id: int, *, stale_after: float | None = None
    ) -> BatchProgress:
        """The batch's counts; first marks its lost tasks stale (see batches)."""
        from .dispatch import batches

        if stale_after is None:
            stale_after = batches.STALE_AFTER_S
        return batches.batch_progress(self, batch_id, stale_after=stale_after)

    def broker_error(self) -> str | None:
        """A sentence saying why the broker does not answer; ``None`` if it does.

        One connection attempt with the kernel's short timeout (1.5 s), for
        a view that must say "the queue is down" rather than wait.
        """
        from .dispatch.app import CONNECT_TIMEOUT_S
        from .health import check_broker

        return check_broker(self.settings.broker_url, timeout_s=CONNECT_TIMEOUT_S)

    def cancel_batch(self, batch_id: int) -> CancelResult:
        """Cancel the batch's tasks that have not started."""
        from .dispatch import batches

        return batches.cancel_batch(self, batch_id)

    def retry_batch(self, batch_id: int) -> GenerateResult:
        """Send the batch's failed, cancelled and unsent tasks again."""
        from .dispatch import batches

        return batches.retry_batch(self, batch_id)


def connect(**overrides: Any) -> Studio:
    """A :class:`Studio` from the ``PHOTOLAB_*`` environment and overrides.

    Keywords: ``database_url``, ``broker_url``, ``result_backend``,
    ``image_base_url``, ``home``. Tables are created when missing (``scenes``
    is never altered), so a fresh embedded database is ready to use.

    Raises
    ------
    DatabaseUnavailable
        The database cannot be reached or used. The message is one plain
        sentence with the password masked; the driver's own exception is not
        chained, since its text may quote the URL.
    """
    settings = Settings.from_env(**overrides)
    url = settings.database_url
    try:
        studio = Studio(settings)
    except (SQLAlchemyError, ValueError, ImportError) as exc:
        # An unparsable URL (whose text SQLAlchemy quotes whole), no driver.
        raise DatabaseUnavailable(describe_database_error(exc, url)) from None
    try:
        studio.init_db()
    except SQLAlchemyError as exc:
        studio.close()
        log.debug("connect failed:\n%s", scrubbed_traceback(exc, url))
        raise DatabaseUnavailable(describe_database_error(exc, url)) from None
    return studio

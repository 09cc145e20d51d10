"""Shared fixtures: a studio on SQLite and on a real MariaDB, and Redis."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event

from photolab_widgets import Studio
from photolab_widgets.config import Settings
from tests import services

pytest_plugins = ["tests.browser"]

# Keep every test away from the user's ~/.photolab.
os.environ.pop("PHOTOLAB_DATABASE_URL", None)
os.environ.pop("PHOTOLAB_BROKER_URL", None)
os.environ.pop("PHOTOLAB_RESULT_BACKEND", None)
os.environ.pop("PHOTOLAB_IMAGE_BASE_URL", None)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "photolab-home"
    monkeypatch.setenv("PHOTOLAB_HOME", str(folder))
    return folder


@pytest.fixture
def demo_home(home: Path) -> Path:
    """``home`` with the demo data seeded into its default database."""
    from photolab_widgets.demo import seed_demo

    studio = Studio(Settings.from_env())
    seed_demo(studio)
    studio.close()
    return home


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """A fresh, uniquely named MariaDB database, dropped afterwards."""
    url, name = services.create_mysql_database()
    try:
        yield url
    finally:
        services.drop_mysql_database(name)


@pytest.fixture
def redis_url() -> str:
    return services.redis_base_url()


@pytest.fixture(scope="module")
def own_mariadb() -> Iterator[services.PrivateMariaDB]:
    """A private MariaDB for one test module, to stop, kill and restart at will."""
    server = services.private_server(services.PrivateMariaDB)
    assert isinstance(server, services.PrivateMariaDB)
    yield server
    server.close()


@pytest.fixture(scope="module")
def own_redis() -> Iterator[services.PrivateRedis]:
    """A private Redis for one test module, to stop and start at will."""
    server = services.private_server(services.PrivateRedis)
    assert isinstance(server, services.PrivateRedis)
    yield server
    server.close()


def _make_studio(kind: str, home: Path, request: pytest.FixtureRequest) -> Studio:
    if kind == "sqlite":
        settings = Settings.from_env(home=home)
    else:
        url = request.getfixturevalue("mysql_url")
        settings = Settings.from_env(
            home=home,
            database_url=url,
            image_base_url=(home / "images").resolve().as_uri() + "/",
        )
    studio = Studio(settings)
    studio.init_db()
    return studio


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def studio(request: pytest.FixtureRequest, home: Path) -> Iterator[Studio]:
    """A studio with empty tables, once on SQLite and once on MariaDB."""
    s = _make_studio(request.param, home, request)
    yield s
    s.close()


@pytest.fixture
def sqlite_studio(home: Path, request: pytest.FixtureRequest) -> Iterator[Studio]:
    s = _make_studio("sqlite", home, request)
    yield s
    s.close()


@pytest.fixture
def mariadb_studio(home: Path, request: pytest.FixtureRequest) -> Iterator[Studio]:
    s = _make_studio("mariadb", home, request)
    yield s
    s.close()


class QueryCounter:
    """Counts the SQL statements an engine runs while active."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, *args) -> None:  # noqa: ANN001
        self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries():
    """``with count_queries(studio) as q: ...; q.count``"""
    from contextlib import contextmanager

    @contextmanager
    def counting(studio: Studio) -> Iterator[QueryCounter]:
        counter = QueryCounter()
        event.listen(studio.engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            event.remove(studio.engine, "before_cursor_execute", counter)

    return counting

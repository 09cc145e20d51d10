"""Real services for the tests: use a running one, else start our own, else skip.

MariaDB and Redis are expected on 127.0.0.1 (``PHOTOLAB_TEST_MYSQL_URL`` and
``PHOTOLAB_TEST_REDIS_URL`` point elsewhere). When nothing answers and the
server binary is installed, a private copy is started in a temporary folder on
a free port for the test session. When neither works the test is skipped with
the reason, except under ``CI=true``, where a missing service fails the test.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from photolab_widgets.processes import free_port

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
MYSQL_URL = os.environ.get(
    "PHOTOLAB_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306"
)
REDIS_URL = os.environ.get("PHOTOLAB_TEST_REDIS_URL", "redis://127.0.0.1:6379")

_started: list[subprocess.Popen[bytes]] = []


@atexit.register
def _stop_started() -> None:
    for proc in _started:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def missing(what: str, why: str) -> None:
    """Skip, or fail under CI, because a service is not there."""
    message = f"{what} is not available: {why}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a missing service is a failure)")
    pytest.skip(message)


# -- MariaDB -----------------------------------------------------------------


def _mysql_answers(url: str) -> str | None:
    import pymysql
    from sqlalchemy.engine import make_url

    u = make_url(url)
    try:
        conn = pymysql.connect(
            host=u.host or "127.0.0.1",
            port=u.port or 3306,
            user=u.username or "root",
            password=u.password or "",
            connect_timeout=3,
            unix_socket=u.query.get("unix_socket"),  # type: ignore[arg-type]
        )
    except pymysql.MySQLError as exc:
        return str(exc)
    conn.close()
    return None


def _start_own_mariadb() -> str:
    server = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
    installer = shutil.which("mariadb-install-db")
    if not Path(server).exists() or installer is None:
        raise RuntimeError("no mariadbd binary installed")
    folder = Path(tempfile.mkdtemp(prefix="photolab-mariadb-"))
    port = free_port()
    subprocess.run(
        [
            installer,
            f"--datadir={folder / 'data'}",
            "--auth-root-authentication-method=normal",
            "--user=root",
            "--skip-test-db",
        ],
        check=True,
        capture_output=True,
    )
    proc = subprocess.Popen(
        [
            server,
            "--no-defaults",
            f"--datadir={folder / 'data'}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--socket={folder / 'sock'}",
            "--user=root",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _started.append(proc)
    url = f"mysql+pymysql://root@127.0.0.1:{port}"
    for _ in range(60):
        if _mysql_answers(url) is None:
            return url
        time.sleep(0.5)
    raise RuntimeError("started mariadbd but it did not answer")


_mysql_base: dict[str, str | None] = {}


def mysql_base_url() -> str:
    """A server URL without database; skips (or fails in CI) when none."""
    if "url" not in _mysql_base:
        error = _mysql_answers(MYSQL_URL)
        if error is None:
            _mysql_base["url"] = MYSQL_URL
        else:
            try:
                _mysql_base["url"] = _start_own_mariadb()
            except Exception as exc:  # noqa: BLE001
                _mysql_base["url"] = None
                _mysql_base["why"] = f"{MYSQL_URL}: {error}; own copy: {exc}"
    url = _mysql_base["url"]
    if url is None:
        missing("MariaDB", _mysql_base["why"] or "")
    assert url is not None
    return url


def create_mysql_database() -> tuple[str, str]:
    """Create a uniquely named utf8mb4 database; return (url, name)."""
    import pymysql
    from sqlalchemy.engine import make_url

    base = mysql_base_url()
    name = f"photolab_test_{uuid.uuid4().hex[:12]}"
    u = make_url(base)
    conn = pymysql.connect(
        host=u.host,
        port=u.port or 3306,
        user=u.username or "root",
        password=u.password or "",
    )
    with conn.cursor() as cur:
        cur.execute(
            f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
    conn.close()
    return f"{base}/{name}?charset=utf8mb4", name


def drop_mysql_database(name: str) -> None:
    import pymysql
    from sqlalchemy.engine import make_url

    u = make_url(mysql_base_url())
    conn = pymysql.connect(
        host=u.host,
        port=u.port or 3306,
        user=u.username or "root",
        password=u.password or "",
    )
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


# -- Redis -------------------------------------------------------------------


def _redis_answers(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return str(exc)
    return None


def _start_own_redis() -> str:
    server = shutil.which("redis-server")
    if server is None:
        raise RuntimeError("no redis-server binary installed")
    port = free_port()
    proc = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _started.append(proc)
    url = f"redis://127.0.0.1:{port}"
    for _ in range(40):
        if _redis_answers(url) is None:
            return url
        time.sleep(0.25)
    raise RuntimeError("started redis-server but it did not answer")


_redis_base: dict[str, str | None] = {}


def redis_base_url() -> str:
    if "url" not in _redis_base:
        error = _redis_answers(REDIS_URL)
        if error is None:
            _redis_base["url"] = REDIS_URL
        else:
            try:
                _redis_base["url"] = _start_own_redis()
            except Exception as exc:  # noqa: BLE001
                _redis_base["url"] = None
                _redis_base["why"] = f"{REDIS_URL}: {error}; own copy: {exc}"
    url = _redis_base["url"]
    if url is None:
        missing("Redis", _redis_base["why"] or "")
    assert url is not None
    return url

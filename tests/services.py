"""Real services for the tests: use a running one, else start our own, else skip.

MariaDB and Redis are expected on 127.0.0.1 (``PHOTOLAB_TEST_MYSQL_URL`` and
``PHOTOLAB_TEST_REDIS_URL`` point elsewhere). When nothing answers and the
server binary is installed, a private copy is started in a temporary folder on
a free port for the test session. When neither works the test is skipped with
the reason, except under ``CI=true``, where a missing service fails the test.

The fault tests never touch the shared servers: they start their own
(:class:`PrivateMariaDB`, :class:`PrivateRedis`, through the ``own_mariadb`` and
``own_redis`` fixtures) and stop, kill and restart those.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from photolab_widgets.processes import free_port

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
MYSQL_URL = os.environ.get(
    "PHOTOLAB_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306"
)
REDIS_URL = os.environ.get("PHOTOLAB_TEST_REDIS_URL", "redis://127.0.0.1:6379")

_servers: list[PrivateServer] = []


@atexit.register
def _close_servers() -> None:
    for server in reversed(_servers):
        server.close()


def missing(what: str, why: str) -> None:
    """Skip, or fail under CI, because a service is not there."""
    message = f"{what} is not available: {why}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a missing service is a failure)")
    pytest.skip(message)


# -- private servers ---------------------------------------------------------


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL the server when the test process dies.

    ``atexit`` does not run when pytest itself is killed (a CI timeout, a
    Ctrl-C at the wrong moment); without this the server would keep its port
    and its temp folder forever.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class PrivateServer:
    """A server binary the tests run themselves, in a temp folder, on a free port.

    :meth:`stop` (SIGTERM, a clean shutdown) or :meth:`kill` (SIGKILL, a
    crash) and then :meth:`start` bring back the *same* server: same folder,
    same data, same port, so a client's URL stays valid across the restart.
    :meth:`close` stops it and deletes the folder; every server still running
    when the test process exits is closed.
    """

    kind = "server"
    start_timeout = 30.0

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix=f"photolab-{self.kind}-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = self.folder / "server.log"
        _servers.append(self)

    @property
    def url(self) -> str:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def argv(self) -> list[str]:
        raise NotImplementedError

    def answers(self) -> str | None:
        """``None`` when the server answers, else why not."""
        raise NotImplementedError

    def start(self) -> float:
        """Start the server and wait until it answers; return the seconds taken."""
        if self.running:
            return 0.0
        began = time.monotonic()
        with open(self._log, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
        why: str | None = "not asked yet"
        while time.monotonic() - began < self.start_timeout:
            if self.proc.poll() is not None:
                break
            why = self.answers()
            if why is None:
                return time.monotonic() - began
            time.sleep(0.1)
        tail = self._log.read_text(errors="replace")[-2000:]
        self.kill()
        raise RuntimeError(f"{self.kind} did not start: {why}\n{tail}")

    def stop(self, timeout: float = 20.0) -> None:
        """A clean shutdown (SIGTERM), as a service manager's restart does."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def kill(self) -> None:
        """A crash (SIGKILL): no goodbye to the clients, no flush."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> float:
        self.stop()
        return self.start()

    def close(self) -> None:
        self.kill()
        if self in _servers:
            _servers.remove(self)
        shutil.rmtree(self.folder, ignore_errors=True)


class PrivateMariaDB(PrivateServer):
    """``mariadbd`` on its own datadir; root without a password.

    ``--no-defaults`` on both the installer and the server: the machine's
    ``/etc/mysql/my.cnf`` names a user, a socket and a port of its own.
    """

    kind = "mariadb"

    def __init__(self, *options: str) -> None:
        server = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        installer = shutil.which("mariadb-install-db")
        if not Path(server).exists() or installer is None:
            raise RuntimeError("no mariadbd/mariadb-install-db binary installed")
        super().__init__()
        self.server = server
        self.options = list(options)
        done = subprocess.run(
            [
                installer,
                "--no-defaults",
                f"--datadir={self.folder / 'data'}",
                "--auth-root-authentication-method=normal",
                "--user=root",
                "--skip-test-db",
            ],
            capture_output=True,
            check=False,
        )
        if done.returncode:
            self.close()
            raise RuntimeError(
                "mariadb-install-db failed: " + done.stdout.decode()[-1000:]
            )

    @property
    def url(self) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        return [
            self.server,
            "--no-defaults",
            f"--datadir={self.folder / 'data'}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--socket={self.folder / 'sock'}",
            f"--pid-file={self.folder / 'mariadbd.pid'}",
            "--user=root",
            "--innodb-buffer-pool-size=32M",
            *self.options,
        ]

    def answers(self) -> str | None:
        return _mysql_answers(self.url)

    def execute(self, sql: str) -> None:
        """Run one statement as root (``SET GLOBAL ...``, ``CREATE DATABASE ...``)."""
        _mysql_execute(self.url, sql)


class PrivateRedis(PrivateServer):
    """``redis-server`` with an append-only file, as a production Redis has.

    A clean :meth:`stop` and :meth:`start` keep the queued messages and the
    results; :meth:`kill` may lose the last second of them.
    """

    kind = "redis"

    def __init__(self) -> None:
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError("no redis-server binary installed")
        super().__init__()
        self.server = server

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        return [
            self.server,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.folder),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
        ]

    def answers(self) -> str | None:
        return _redis_answers(self.url)


def private_server(cls: type[PrivateServer], *args: str) -> PrivateServer:
    """A started private server, or a skip (a failure under CI) with the reason."""
    try:
        server = cls(*args)
    except RuntimeError as exc:
        missing(f"a private {cls.kind}", str(exc))
        raise
    try:
        server.start()
    except RuntimeError as exc:
        server.close()
        missing(f"a private {cls.kind}", str(exc))
        raise
    return server


# -- shared or own ------------------------------------------------------------


_bases: dict[str, dict[str, str | None]] = {}


def _shared_or_own(
    what: str,
    shared: str,
    answers: Callable[[str], str | None],
    own: type[PrivateServer],
) -> str:
    """The shared server's URL if it answers, else a private copy's; else skip.

    Decided once per test session and per service: the first test pays for
    the probe (and the private server's start), the others reuse the answer.
    """
    base = _bases.setdefault(what, {})
    if "url" not in base:
        error = answers(shared)
        if error is None:
            base["url"] = shared
        else:
            try:
                server = own()
                server.start()
                base["url"] = server.url
            except Exception as exc:  # noqa: BLE001
                base["url"] = None
                base["why"] = f"{shared}: {error}; own copy: {exc}"
    url = base["url"]
    if url is None:
        missing(what, base["why"] or "")
    assert url is not None
    return url


# -- MariaDB -----------------------------------------------------------------


def _mysql_connect(url: str, **options: Any) -> Any:
    """A pymysql connection to the server named by a SQLAlchemy URL."""
    import pymysql
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return pymysql.connect(
        host=u.host or "127.0.0.1",
        port=u.port or 3306,
        user=u.username or "root",
        password=u.password or "",
        **options,
    )


def _mysql_answers(url: str) -> str | None:
    import pymysql
    from sqlalchemy.engine import make_url

    try:
        conn = _mysql_connect(
            url,
            connect_timeout=3,
            unix_socket=make_url(url).query.get("unix_socket"),
        )
    except pymysql.MySQLError as exc:
        return str(exc)
    conn.close()
    return None


def mysql_base_url() -> str:
    """A server URL without database; skips (or fails in CI) when none."""
    return _shared_or_own("MariaDB", MYSQL_URL, _mysql_answers, PrivateMariaDB)


def _mysql_execute(url: str, sql: str) -> None:
    conn = _mysql_connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def create_mysql_database() -> tuple[str, str]:
    """Create a uniquely named utf8mb4 database; return (url, name)."""
    base = mysql_base_url()
    name = f"photolab_test_{uuid.uuid4().hex[:12]}"
    _mysql_execute(
        base,
        f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
    )
    return f"{base}/{name}?charset=utf8mb4", name


def drop_mysql_database(name: str) -> None:
    _mysql_execute(mysql_base_url(), f"DROP DATABASE IF EXISTS `{name}`")


# -- Redis -------------------------------------------------------------------


def _redis_answers(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return str(exc)
    return None


def redis_base_url() -> str:
    return _shared_or_own("Redis", REDIS_URL, _redis_answers, PrivateRedis)

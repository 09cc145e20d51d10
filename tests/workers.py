"""A real demo worker process for the tests, and helpers to read its log."""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from photolab_widgets import Studio, processes
from photolab_widgets.config import Settings
from photolab_widgets.dispatch.app import make_celery
from photolab_widgets.dispatch.worker import worker_argv

#: Redis database the dispatch tests use; each test also has its own queue.
REDIS_DB = 11


def wait_for(
    predicate: Callable[[], object], timeout: float = 60.0, what: str = ""
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def redis_settings(home: Path, redis_url: str, **overrides: str) -> Settings:
    url = f"{redis_url.rstrip('/')}/{REDIS_DB}"
    return Settings.from_env(home=home, broker_url=url, result_backend=url, **overrides)


def use_queue(studio: Studio, queue: str | None = None) -> str:
    """Give the studio a Celery app on a queue of its own; return the name."""
    queue = queue or f"photolab-test-{uuid.uuid4().hex[:10]}"
    studio.celery = make_celery(studio.settings, queue=queue)  # type: ignore[misc]
    return queue


def worker_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTOLAB_")}
    env.update(
        PHOTOLAB_HOME=str(settings.home),
        PHOTOLAB_DATABASE_URL=settings.database_url,
        PHOTOLAB_BROKER_URL=settings.broker_url,
        PHOTOLAB_RESULT_BACKEND=settings.result_backend,
        PHOTOLAB_IMAGE_BASE_URL=settings.image_base_url,
    )
    return env


@dataclass
class WorkerLog:
    path: Path
    #: The worker's main process (the fault tests kill it or its pool).
    proc: subprocess.Popen[bytes] | None = None

    def text(self) -> str:
        return self.path.read_text(errors="replace") if self.path.exists() else ""

    def events(self) -> list[tuple[str, int, int | None]]:
        """``(kind, id, scene)`` in log order: set-up done, render start."""
        out: list[tuple[str, int, int | None]] = []
        for line in self.text().splitlines():
            if m := re.search(r"set_up_scene done scene=(\d+)", line):
                out.append(("set_up", int(m[1]), int(m[1])))
            elif m := re.search(r"render_scene start task=(\d+) scene=(\d+)", line):
                out.append(("render", int(m[1]), int(m[2])))
        return out

    def assert_each_render_after_its_set_up(self, task_ids: set[int]) -> None:
        """Every listed task was rendered, after a set-up of its scene."""
        set_up: set[int] = set()
        rendered: set[int] = set()
        for kind, ident, scene in self.events():
            if kind == "set_up":
                set_up.add(ident)
            elif ident in task_ids:
                assert scene in set_up, f"task {ident} rendered before scene {scene}"
                rendered.add(ident)
        assert rendered == task_ids, f"not rendered: {sorted(task_ids - rendered)}"


@contextmanager
def running_worker(
    settings: Settings,
    *,
    queue: str = "celery",
    delay: float = 0.0,
    concurrency: int = 2,
) -> Iterator[WorkerLog]:
    """``photolab-widgets worker`` in its own process group, until the block ends."""
    log_path = settings.home / f"worker-{uuid.uuid4().hex[:6]}.log"
    settings.home.mkdir(parents=True, exist_ok=True)
    argv = worker_argv(delay) + [f"--queue={queue}", f"--concurrency={concurrency}"]
    proc = processes.start(argv, env=worker_env(settings), log_path=log_path)
    log = WorkerLog(log_path, proc)
    try:
        wait_for(
            lambda: " ready." in log.text() or proc.poll() is not None,
            timeout=60,
            what="the worker to start",
        )
        assert proc.poll() is None, f"the worker exited:\n{log.text()}"
        yield log
    finally:
        processes.stop(proc)

"""``photolab-widgets worker``: the demo Celery worker, and the worker contract.

The studio's production workers are not this package; this one renders stand-in
pictures so that the demo and the tests run the whole path with a real worker.
Any worker that serves Generate follows this contract.

Messages
    Tasks are sent by name on the app's queue (Celery's default, ``celery``)
    with the JSON serializer, and a result backend is configured (the canvas
    of up to 50 scenes is a chord).

``set_up_scene(scene_id: int)``
    Prepares the scene. Writes ``scenes.setup_status = 'ready'`` and moves to
    ``set_up`` the ``pending``/``queued`` tasks whose ``render_scene`` its own
    message leads to (found as on failure, below), not every task of the
    scene: another may belong to another batch. The demo also draws a
    pose image when the scene has none and puts its key first in
    ``scenes.hint_img_list``. It must be idempotent: a batch may set up a
    scene that an earlier batch set up already, and a retry sends it again.
    On failure it writes ``setup_status = 'failed'`` and marks as ``failed``,
    with the error text in ``tasks.error``, every task whose render will now
    not run: the ``render_scene`` ids found in its own message's ``chain`` and
    ``chord`` (a per-scene chain: its one render; the chord: the whole render
    group, which Celery drops after a failed header task). Then it raises.

``render_scene(task_id: int)``
    Runs only after the set-up of its scene (the canvas orders it). First it
    claims the row atomically::

        UPDATE tasks SET status = 'running'
        WHERE id = :task_id AND status IN ('pending', 'queued', 'set_up')

    and does nothing when no row changed (cancelled, or a duplicated
    message whose task another worker has). A retry of the same message
    (``request.retries > 0``: the process running it died, or the database
    was down) also claims a ``running`` task: the attempt that claimed it has
    ended. A redelivery is not a retry: Redis hands back the unacknowledged
    messages of a worker whose connection dropped, and that worker may still
    be rendering. Then it renders, stores the picture
    under the image base URL and writes ``tasks.result_img_key`` and
    ``status = 'done'``; on failure ``status = 'failed'`` and
    ``tasks.error``, then it raises. The final updates are guarded by
    ``status = 'running'`` (``done`` also from ``stale``: a late picture
    still counts).

Time
    The kernel marks ``stale`` a running task untouched for
    ``batches.STALE_AFTER_S`` (15 minutes): a worker that renders for longer
    touches ``tasks.updated_at`` meanwhile. A database that does not answer
    is waited for (the demo retries its task) rather than recorded as the
    task's failure.

Processes
    Each worker process opens its own database connections after it forks:
    an engine shared across ``fork()`` gives random protocol errors.
    (:class:`~photolab_widgets.dispatch.tasks.WorkerContext` does this by
    process id; the ``worker_process_init`` signal resets it as well.)

The demo worker reads ``PHOTOLAB_*`` like the kernel, stores its pictures in
the local image folder (``file://`` base URL only) and takes ``--delay``
seconds per render (half of that per set-up) so progress can be watched.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from ..config import Settings, redact_url
from ..health import check_database
from . import tasks
from .app import DEFAULT_QUEUE, make_celery, relax_for_worker


def make_worker_app(
    settings: Settings, *, delay: float = 0.0, queue: str | None = None
) -> Celery:
    """The studio's app with the two demo tasks registered on it."""
    app = make_celery(settings, queue=queue)
    relax_for_worker(app)
    tasks.configure(settings, delay)
    tasks.register(app)
    worker_process_init.connect(_fresh_context, weak=False)
    return app


def _fresh_context(**_: Any) -> None:
    # Runs in each pool process right after the fork: forget the parent's
    # engine so that the first task connects from this process.
    ctx = tasks.context()
    tasks.configure(ctx.settings, ctx.delay)


def worker_argv(delay: float = 0.0) -> list[str]:
    """The command line that starts the demo worker (used by ``demo``)."""
    return [
        sys.executable,
        "-m",
        "photolab_widgets.cli",
        "worker",
        f"--delay={delay}",
    ]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--delay",
        type=float,
        default=0.0,
        help="seconds per render (set-ups take half), to make progress visible",
    )
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--queue", default=DEFAULT_QUEUE)
    parser.add_argument(
        "--pool", default="prefork", choices=["prefork", "solo", "threads"]
    )
    parser.add_argument("--loglevel", default="INFO")


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    # A wrong URL or password is one sentence now, not a worker that says it
    # is ready and then fails every task. (A database that goes away later is
    # waited for: the tasks retry.)
    check_database(settings.database_url)
    app = make_worker_app(settings, delay=args.delay, queue=args.queue)
    print(
        f"photolab demo worker: broker {redact_url(settings.broker_url)}, "
        f"database {settings.redacted_database_url()}, "
        f"images {settings.images_dir or settings.image_base_url}",
        flush=True,
    )
    argv = [
        "worker",
        f"--loglevel={args.loglevel}",
        f"--concurrency={args.concurrency}",
        f"--pool={args.pool}",
        f"--queues={args.queue}",
        f"--hostname=photolab-demo-{os.getpid()}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    app.worker_main(argv)
    return 0

"""The Celery app: one per studio, configured from the ``PHOTOLAB_*`` settings.

Production is Redis for the broker and the result backend. The embedded default
is kombu's filesystem transport (one folder of message files under
``PHOTOLAB_HOME/broker``) and a SQLite result backend, so that the demo runs a
real worker with no server at all.

The app is tuned for a kernel that must never hang: connecting to and
publishing on the broker give up after a couple of seconds instead of retrying
for minutes, so that Generate can tell the researcher the broker is down within
5 s. The worker (:mod:`photolab_widgets.dispatch.worker`) loosens these limits
again, because a worker should wait patiently for its broker.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from ..config import Settings

#: Celery's own default queue; the studio's workers listen on it.
DEFAULT_QUEUE = "celery"

#: Seconds to wait for the broker (and a Redis result backend) to answer.
CONNECT_TIMEOUT_S = 1.5

#: One retry after a lost connection, then the error reaches the caller.
PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 0.5,
}


def is_embedded_broker(broker_url: str) -> bool:
    return broker_url.startswith("filesystem:")


def make_celery(settings: Settings, *, queue: str | None = None) -> Celery:
    """The Celery app for ``settings``; nothing connects until first use.

    ``queue`` replaces Celery's default queue name, so that several studios
    (tests, benchmarks) can share one Redis without taking each other's work.
    """
    app = Celery("photolab", set_as_current=False)
    app.conf.update(
        broker_url=settings.broker_url,
        result_backend=settings.result_backend,
        task_default_queue=queue or DEFAULT_QUEUE,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        enable_utc=True,
        # Give up fast: the kernel must not hang on a broker that is down.
        broker_connection_timeout=CONNECT_TIMEOUT_S,
        task_publish_retry=True,
        task_publish_retry_policy=PUBLISH_RETRY_POLICY,
        broker_transport_options=_broker_options(settings),
        # A worker that dies mid-task gives its message back (or, with the
        # tasks' retry_on_worker_lost, sends it again); render_scene claims
        # its task row, so a message delivered twice still renders once.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        result_expires=7 * 24 * 3600,
        **_backend_options(settings.result_backend),
    )
    return app


def _broker_options(settings: Settings) -> dict[str, Any]:
    if is_embedded_broker(settings.broker_url):
        folder = settings.broker_folder
        for sub in ("queue", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return {
            # Producer and consumer share one folder: it is the queue.
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),
            "polling_interval": 0.2,
        }
    return {
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "socket_timeout": 2.0,
        "max_retries": 1,
    }


def _backend_options(result_backend: str) -> dict[str, Any]:
    if result_backend.startswith("db+sqlite"):
        # The worker processes and the kernel share the file: wait for locks.
        return {"database_engine_options": {"connect_args": {"timeout": 30}}}
    if result_backend.startswith(("redis://", "rediss://")):
        return {
            "redis_socket_connect_timeout": CONNECT_TIMEOUT_S,
            "redis_socket_timeout": CONNECT_TIMEOUT_S,
            "result_backend_transport_options": {
                "retry_policy": {"max_retries": 0, "timeout": 2.0}
            },
        }
    return {}


def relax_for_worker(app: Celery) -> None:
    """Let a worker wait for its broker instead of failing like the kernel."""
    options = dict(app.conf.broker_transport_options or {})
    if not is_embedded_broker(app.conf.broker_url):
        options.update(socket_timeout=30.0, socket_connect_timeout=10.0)
        options.pop("max_retries", None)
    patient = {"max_retries": 60, "interval_start": 0, "interval_step": 1}
    app.conf.update(
        broker_transport_options=options,
        # A worker that finishes a task while Redis restarts must still store
        # the result (a chord counts them) and publish what follows it (the
        # render of a per-scene chain): about five minutes of retries, where
        # the kernel gives up at once.
        result_backend_transport_options={
            "retry_policy": {**patient, "interval_max": 5}
        },
        result_backend_always_retry=True,
        result_backend_max_retries=60,
        result_backend_max_sleep_between_retries_ms=5_000,
        task_publish_retry_policy={**patient, "interval_max": 5},
        broker_connection_retry=True,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        broker_connection_timeout=10.0,
        redis_socket_timeout=30.0,
        redis_socket_connect_timeout=10.0,
    )

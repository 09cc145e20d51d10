"""The ``photolab-widgets`` command: demo, serve, worker, init-db, seed-demo, bench."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from . import processes
from .argtypes import port_number
from .config import Settings
from .health import DatabaseUnavailable, describe_database_error, scrub
from .studio import Studio

if TYPE_CHECKING:
    from .demo import SeedReport

log = logging.getLogger("photolab_widgets")


class CommandRefused(Exception):
    """A command that cannot run as configured; the message is one sentence."""


def _studio() -> Studio:
    """The configured Studio; :class:`DatabaseUnavailable` when its URL is unusable.

    Building the engine parses the URL and loads the driver: a port that is
    not a number (``ValueError``) or a missing driver (``ImportError``) fails
    here, before any connection.
    """
    settings = Settings.from_env()
    try:
        return Studio(settings)
    except (SQLAlchemyError, ValueError, ImportError) as exc:
        sentence = describe_database_error(exc, settings.database_url)
        raise DatabaseUnavailable(sentence) from None


def cmd_init_db(args: argparse.Namespace) -> int:
    studio = _studio()
    created = studio.init_db()
    where = studio.settings.redacted_database_url()
    print(f"created: {', '.join(created)}" if created else "all tables exist")
    print(f"database: {where}")
    return 0


def _seed() -> SeedReport:
    """Seed the configured database with the demo data; close the Studio after."""
    from .demo import NoImageFolder, seed_demo

    studio = _studio()
    try:
        return seed_demo(studio)
    except NoImageFolder as exc:  # its message says what to set
        raise CommandRefused(str(exc)) from None
    finally:
        studio.close()


def cmd_seed_demo(args: argparse.Namespace) -> int:
    report = _seed()
    if report.skipped:
        print("the database already has scenes; nothing seeded")
    else:
        print(
            f"seeded {report.scenes} scenes, {report.users} people, "
            f"{report.tasks} tasks, {report.images} images"
        )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Refuse a busy port, seed if needed, start a worker and Voila until stopped."""
    port = args.port
    busy = processes.cannot_listen("127.0.0.1", port)
    if busy:
        raise CommandRefused(busy)
    settings = Settings.from_env()
    report = _seed()
    if not report.skipped:
        print(f"seeded the demo: {report.scenes} scenes, {report.tasks} tasks")

    env = processes.voila_env(dict(os.environ, PHOTOLAB_HOME=str(settings.home)))
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    children = []
    worker_argv = _worker_argv(args.delay)
    if worker_argv is not None:
        children.append((worker_argv, logs / "worker.log"))
    children.append((processes.voila_argv(port=port), logs / "voila.log"))
    url = f"http://127.0.0.1:{port}/"
    return processes.run_until_stopped(
        children,
        env=env,
        probe_url=processes.voila_probe_url(url),
        ready=f"photolab demo: open {url}  (logs in {logs}; Ctrl-C stops)",
        name="demo",
    )


def _worker_argv(delay: float) -> list[str] | None:
    """The demo worker's command line, once the dispatch layer provides one."""
    try:
        from .dispatch.worker import worker_argv
    except ImportError:
        return None
    return worker_argv(delay=delay)


# Commands that live with their layer: each module has ``configure(parser)``
# and ``run(args) -> int``. They are imported only when their command runs.
_MODULE_COMMANDS = {
    "worker": ("photolab_widgets.dispatch.worker", "run the demo Celery worker"),
    "serve": (
        "photolab_widgets.serve",
        "serve the app against the configured services",
    ),
}
_BENCHMARKS = {
    "generate": "photolab_widgets.bench.generate",
    "gallery": "photolab_widgets.bench.gallery",
    "scenes": "photolab_widgets.bench.scenes",
    "load": "photolab_widgets.bench.load",
}


def _module_command(module_name: str) -> argparse.Namespace:
    import importlib

    return importlib.import_module(module_name)  # type: ignore[return-value]


def _add_module_command(
    sub: argparse._SubParsersAction, name: str, module_name: str, help: str
) -> None:
    p = sub.add_parser(name, help=help)
    p.set_defaults(module=module_name)
    try:
        module = _module_command(module_name)
    except ImportError:
        p.set_defaults(func=lambda args: _not_available(name))
        return
    module.configure(p)
    p.set_defaults(func=module.run)


def _not_available(name: str) -> int:
    print(f"photolab-widgets {name}: not available in this version", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="photolab-widgets",
        description="Jupyter widgets for the photo studio.",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    # One-shot commands print their own summary; their INFO logs would repeat it.
    p = sub.add_parser("init-db", help="create missing tables (never alters scenes)")
    p.set_defaults(func=cmd_init_db, log_level=logging.WARNING)

    p = sub.add_parser("seed-demo", help="fill an empty database with demo data")
    p.set_defaults(func=cmd_seed_demo, log_level=logging.WARNING)

    p = sub.add_parser("demo", help="run the whole app on the embedded default")
    p.add_argument("--port", type=port_number, default=8866)
    p.add_argument("--delay", type=float, default=0.5, help="seconds per render")
    p.set_defaults(func=cmd_demo)

    for name, (module_name, help) in _MODULE_COMMANDS.items():
        _add_module_command(sub, name, module_name, help)

    bench = sub.add_parser("bench", help="benchmarks that print figures and ratios")
    bench.set_defaults(log_level=logging.WARNING)
    bench_sub = bench.add_subparsers(dest="benchmark", required=True)
    for name, module_name in _BENCHMARKS.items():
        _add_module_command(bench_sub, name, module_name, f"benchmark: {name}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = getattr(args, "log_level", logging.INFO)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except CommandRefused as exc:
        sentence = scrub(str(exc), Settings.from_env().database_url)
        print(f"photolab-widgets {args.command}: {sentence}", file=sys.stderr)
        return 2
    except (DatabaseUnavailable, SQLAlchemyError) as exc:
        # One sentence with the password masked; never the driver's text.
        url = Settings.from_env().database_url
        sentence = (
            str(exc)
            if isinstance(exc, DatabaseUnavailable)
            else describe_database_error(exc, url)
        )
        print(f"photolab-widgets {args.command}: {sentence}", file=sys.stderr)
        return 1


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("photolab-widgets")
    except PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())

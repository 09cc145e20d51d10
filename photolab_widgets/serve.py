"""``photolab-widgets serve``: the app for a team, on the configured services.

It serves ``notebooks/app.ipynb`` with Voila against the ``PHOTOLAB_*``
settings (MySQL and Redis in production) and starts no worker: the studio's
workers, or ``photolab-widgets worker`` on other machines, do the rendering.

Safe by default:

- It listens on 127.0.0.1. Another address makes the app, and with it the
  database, reachable from other machines, so it needs a token: ``--token``
  alone generates one and prints the address with it, ``--token T`` uses T,
  and ``--no-token`` says out loud that the address is protected some other
  way (a firewall, a reverse proxy with its own login). Without one of these
  it refuses.
- The token reaches Voila through a private config file, not the command
  line, where ``ps`` would show it to every user of the machine.
- It checks the database before starting and says in one sentence what is
  wrong, with the password masked (see :mod:`photolab_widgets.health`).
"""

from __future__ import annotations

import argparse
import ipaddress
import secrets
import socket
import sys
import tempfile
from pathlib import Path

from . import processes
from .argtypes import port_number
from .config import Settings
from .health import DatabaseUnavailable, check_broker, check_database

#: ``--token`` without a value: generate one.
GENERATE = object()


class ServeRefused(Exception):
    """A deliberate refusal to serve, with the reason and the way out."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=port_number, default=8866)
    parser.add_argument(
        "--ip",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; others need a token)",
    )
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument(
        "--token",
        nargs="?",
        const=GENERATE,
        default=None,
        metavar="TOKEN",
        help="require this token to open the app (no value: generate one)",
    )
    auth.add_argument(
        "--no-token",
        action="store_true",
        help="serve a non-local address without a token (protect it otherwise)",
    )
    parser.add_argument(
        "--base-url",
        default="/",
        help="path prefix when a reverse proxy serves the app under one",
    )


def is_local(ip: str) -> bool:
    """Whether ``ip`` is reachable from this machine only."""
    if ip == "localhost":
        return True
    try:
        return ipaddress.ip_address(ip.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def choose_token(ip: str, token: object, no_token: bool) -> str | None:
    """The token to require, ``None`` for none; :class:`ServeRefused` if unsafe."""
    if token is GENERATE:
        return secrets.token_urlsafe(24)
    if isinstance(token, str):
        if not token.strip():
            raise ServeRefused("an empty --token protects nothing; give a real one.")
        return token
    if is_local(ip) or no_token:
        return None
    raise ServeRefused(
        f"serving on {ip} lets other machines open the app and reach the "
        "database through it, so it needs a token. Pass --token to have one "
        "generated, --token TOKEN to choose it, or --no-token if something "
        "else (a firewall, a proxy with a login) protects the address."
    )


def _base_url(path: str) -> str:
    return "/" + path.strip("/") + "/" if path.strip("/") else "/"


def _host_for_url(ip: str) -> str:
    """The host to print (and to probe) for a listening address."""
    if ip in ("0.0.0.0", "", "::"):
        return socket.gethostname()
    if ":" in ip and not ip.startswith("["):
        return f"[{ip}]"
    return ip


def _probe_host(ip: str) -> str:
    return "127.0.0.1" if ip in ("0.0.0.0", "", "localhost") else _host_for_url(ip)


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    try:
        token = choose_token(args.ip, args.token, args.no_token)
        if not processes.APP_NOTEBOOK.exists():
            raise ServeRefused(
                f"the app notebook is not at {processes.APP_NOTEBOOK}; install "
                "from a checkout (pip install -e .), which keeps notebooks/."
            )
        busy = processes.cannot_listen(args.ip, args.port)
        if busy:
            raise ServeRefused(busy)
        check_database(settings.database_url)
    except (ServeRefused, DatabaseUnavailable) as exc:
        print(f"photolab-widgets serve: {exc}", file=sys.stderr)
        return 2
    print(f"database: {settings.redacted_database_url()}")
    broker_problem = check_broker(settings.broker_url)
    if broker_problem:
        print(f"warning: {broker_problem} Generate will fail until it does.")
    print("no worker is started here: run the studio's workers (docs/deploying.md)")

    base_url = _base_url(args.base_url)
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    address = f"http://{_host_for_url(args.ip)}:{args.port}{base_url}"
    shown = f"{address}?token={token}" if token else address
    with tempfile.TemporaryDirectory(prefix="photolab-serve-") as private:
        config_dir = None
        if token is not None:
            config_dir = Path(private)
            processes.write_voila_config(config_dir, token=token)
        argv = processes.voila_argv(
            port=args.port, ip=args.ip, base_url=base_url, config_dir=config_dir
        )
        return processes.run_until_stopped(
            [(argv, logs / "voila.log")],
            env=processes.voila_env(),
            probe_url=processes.voila_probe_url(
                f"http://{_probe_host(args.ip)}:{args.port}{base_url}"
            ),
            ready=f"photolab serve: open {shown}  (log in {logs}; Ctrl-C stops)",
            name="server",
        )

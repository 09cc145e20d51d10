"""Starting and stopping the demo's child processes without leaving orphans.

Every child starts in its own session (process group), so stopping it also
stops what it started: Voila's kernels, Celery's pool processes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
APP_NOTEBOOK = NOTEBOOKS_DIR / "app.ipynb"
#: Jupyter data folder holding the app's Voila template (``photolab``).
SHARE_DIR = Path(__file__).resolve().parent / "share"
VOILA_TEMPLATE = "photolab"


def cannot_listen(ip: str, port: int) -> str | None:
    """Why nothing could listen on ``ip`` and ``port`` (busy, no such address)."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family) as sock:
        # As Tornado does: a port left in TIME_WAIT by a server just stopped
        # is free to listen on; one another server listens on is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip.strip("[]"), port))
        except OSError as exc:
            return f"cannot listen on {ip} port {port}: {exc}."
    return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a child in a new process group, output to ``log_path`` if given."""
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        return subprocess.Popen(
            list(argv),
            env=dict(env) if env is not None else None,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            start_new_session=True,
        )
    finally:
        if log_path:
            out.close()  # type: ignore[union-attr]


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the child, then SIGKILL what is left of its process group.

    Only the child itself gets the SIGTERM: it stops its own children in
    order (Voila its kernels, Celery its pool). Terminating the whole group at
    once made a Celery worker wait out the timeout for pool processes that had
    already gone.
    """
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    # Children of the child (kernels, pool workers) may outlive their parent.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


@contextlib.contextmanager
def running(*procs: subprocess.Popen[bytes]) -> Iterator[None]:
    try:
        yield
    finally:
        for proc in reversed(procs):
            stop(proc)


#: Seconds a kernel with no page connected may idle before Voila stops it.
KERNEL_IDLE_TIMEOUT_S = 600


def voila_argv(
    notebook: Path = APP_NOTEBOOK,
    *,
    port: int,
    ip: str = "127.0.0.1",
    base_url: str | None = None,
    config_dir: Path | None = None,
    cull_idle_s: int = KERNEL_IDLE_TIMEOUT_S,
    cull_interval_s: int = 60,
) -> list[str]:
    """The command line that serves ``notebook`` with Voila.

    Every page view starts a kernel, and Voila 0.5 cannot stop it when the
    page closes (its shutdown request is refused for a missing ``_xsrf``
    argument), so the server's culler stops kernels that have no page
    connected and have been idle for ``cull_idle_s`` seconds. A kernel whose
    page is open is never culled, however long it idles.

    ``config_dir`` holds a ``voila.json`` (see :func:`write_voila_config`),
    searched before the usual places. A token goes there, not on the command
    line, where any user of the machine could read it with ``ps``. Voila
    must not wander to another port when ``port`` is taken: the address we
    print would then be wrong.
    """
    argv = [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        f"--port={port}",
        f"--Voila.ip={ip}",
        "--Voila.port_retries=0",
        "--no-browser",
        "--show_tracebacks=False",
        f"--template={VOILA_TEMPLATE}",
        f"--MappingKernelManager.cull_idle_timeout={int(cull_idle_s)}",
        f"--MappingKernelManager.cull_interval={int(cull_interval_s)}",
        "--MappingKernelManager.cull_connected=False",
    ]
    if base_url is not None:
        argv.append(f"--Voila.base_url={base_url}")
    if config_dir is not None:
        from jupyter_core.paths import jupyter_config_path

        # Replacing Voila's search path: keep its defaults after ours.
        for folder in [str(config_dir), os.getcwd(), *jupyter_config_path()]:
            argv.append(f"--Voila.config_file_paths={folder}")
    return argv


def voila_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) plus where Voila finds our template.

    Voila looks for templates only in the Jupyter data folders, so the
    package's ``share`` folder goes first on ``JUPYTER_PATH``.
    """
    out = dict(os.environ if env is None else env)
    rest = out.get("JUPYTER_PATH")
    out["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(SHARE_DIR), rest]))
    return out


def voila_probe_url(page_url: str) -> str:
    """A URL that shows Voila answers without rendering the app.

    Asking for the page itself would start a kernel for nobody, which then
    runs until the server stops.
    """
    return page_url.rstrip("/") + "/voila/static/"


def write_voila_config(folder: Path, *, token: str) -> Path:
    """Write ``voila.json`` with the token, readable by this user only."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / "voila.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"Voila": {"token": token}}, out)
    return path


def wait_for_http(
    url: str,
    timeout: float = 60.0,
    watch: Sequence[subprocess.Popen[bytes]] = (),
) -> None:
    """Wait until ``url`` answers (any HTTP status), or raise TimeoutError.

    Raises ChildProcessError at once when one of the ``watch`` processes
    exits first (a port already taken, a bad option), instead of waiting out
    the timeout.
    """
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        for proc in watch:
            if proc.poll() is not None:
                raise ChildProcessError(
                    f"process {proc.pid} exited with {proc.returncode}"
                )
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return
        except OSError as exc:
            last = exc
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s: {last}")


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_until_stopped(
    children: Sequence[tuple[Sequence[str], Path]],
    *,
    env: Mapping[str, str],
    probe_url: str,
    ready: str,
    name: str,
) -> int:
    """Start ``children``, wait for ``probe_url``, then run until Ctrl-C/SIGTERM.

    Each child is ``(argv, log_path)``. SIGTERM is turned into the same
    KeyboardInterrupt as Ctrl-C before the first child starts, so that every
    way of stopping goes through :func:`running` and stops every child's
    process group. Returns 0 after a requested stop, 1 when a child died.
    """
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    procs: list[subprocess.Popen[bytes]] = []
    with contextlib.ExitStack() as stack:
        for argv, log_path in children:
            procs.append(start(argv, env=env, log_path=log_path))
            stack.enter_context(running(procs[-1]))
        try:
            wait_for_http(probe_url, timeout=120, watch=procs)
        except ChildProcessError:
            print(f"the {name} did not start; see the logs", file=sys.stderr)
            return 1
        print(ready)
        sys.stdout.flush()
        try:
            while all(p.poll() is None for p in procs):
                time.sleep(1.0)
        except KeyboardInterrupt:
            print(f"stopping the {name}")
            return 0
        print(f"a {name} process stopped; see the logs", file=sys.stderr)
        return 1

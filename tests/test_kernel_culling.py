"""A closed page's kernel stops; an open page's kernel stays.

Voila 0.5 cannot shut a kernel down when its page closes (its shutdown call
is refused for a missing ``_xsrf`` argument), so ``demo`` and ``serve`` run
Voila with the server's culler: kernels with no page connected are stopped
after they have been idle for a while.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from photolab_widgets import processes
from photolab_widgets.config import Settings
from photolab_widgets.demo import seed_demo
from photolab_widgets.studio import Studio
from tests.browser import wait_for_widgets

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def kernels_of(proc: subprocess.Popen[bytes]) -> int:
    """Kernels started by the Voila server (each in a session of its own)."""
    out = subprocess.run(
        ["ps", "-o", "args=", "--ppid", str(proc.pid)], capture_output=True, text=True
    ).stdout
    return sum("ipykernel" in line for line in out.splitlines())


def wait_until(predicate, timeout: float) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return predicate()


def test_voila_command_line_culls_idle_disconnected_kernels():
    argv = processes.voila_argv(port=1234)
    assert "--MappingKernelManager.cull_connected=False" in argv
    assert any(a.startswith("--MappingKernelManager.cull_idle_timeout=") for a in argv)


def test_closed_page_kernel_is_stopped(tmp_path, browser):
    home = tmp_path / "home"
    studio = Studio(Settings.from_env({"PHOTOLAB_HOME": str(home)}))
    seed_demo(studio, scenes_per_collection=2)
    studio.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTOLAB_")}
    env = processes.voila_env(dict(env, PHOTOLAB_HOME=str(home)))
    port = processes.free_port()
    argv = processes.voila_argv(port=port, cull_idle_s=3, cull_interval_s=1)
    proc = processes.start(argv, env=env, log_path=home / "voila.log")
    try:
        url = f"http://127.0.0.1:{port}/"
        processes.wait_for_http(processes.voila_probe_url(url), timeout=90)
        context = browser.new_context()
        page = context.new_page()
        page.goto(url)
        wait_for_widgets(page)
        assert kernels_of(proc) == 1
        time.sleep(6)  # idle past the timeout, but its page is connected
        assert kernels_of(proc) == 1
        context.close()
        assert wait_until(lambda: kernels_of(proc) == 0, timeout=30)
    finally:
        processes.stop(proc)

"""``photolab-widgets serve``: safe defaults, a clear refusal, a clean stop."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from photolab_widgets import processes
from photolab_widgets.cli import main
from photolab_widgets.serve import GENERATE, ServeRefused, choose_token, is_local
from tests import services

PASSWORD = "Wr0ng-s3rve-pw"


@pytest.mark.parametrize(
    "ip, local",
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("studio.internal", False),
    ],
)
def test_is_local(ip, local):
    assert is_local(ip) is local


def test_token_rules():
    assert choose_token("127.0.0.1", None, False) is None
    assert choose_token("0.0.0.0", None, True) is None
    assert choose_token("0.0.0.0", "given-token", False) == "given-token"
    generated = choose_token("0.0.0.0", GENERATE, False)
    assert generated and len(generated) >= 24
    assert choose_token("0.0.0.0", GENERATE, False) != generated
    with pytest.raises(ServeRefused, match="needs a token"):
        choose_token("0.0.0.0", None, False)
    with pytest.raises(ServeRefused, match="empty"):
        choose_token("0.0.0.0", " ", False)


def test_serve_refuses_a_non_local_address_without_a_token(home, capsys):
    assert main(["serve", "--ip", "0.0.0.0", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "needs a token" in err
    assert "--token" in err and "--no-token" in err


def test_token_and_no_token_cannot_be_combined(home, capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--token", "abc", "--no-token"])


@pytest.mark.mariadb
@pytest.mark.parametrize("user", ["root", "photolab_nobody"])
def test_serve_with_a_wrong_password_says_so_without_it(
    user, home, monkeypatch, capsys
):
    base = make_url(services.mysql_base_url())
    url = base.set(username=user, password=PASSWORD, database="photolab")
    monkeypatch.setenv("PHOTOLAB_DATABASE_URL", url.render_as_string(False))
    assert main(["serve", "--port", str(processes.free_port())]) == 2
    out, err = capsys.readouterr()
    assert "Cannot use the database" in err and "access denied" in err
    assert f"{user}:***@" in err
    assert PASSWORD not in out + err


def _status(url: str) -> int:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _children(pid: int) -> dict[int, str]:
    """Pid and command line of the processes whose parent is ``pid``."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                cmdline = (proc / "cmdline").read_bytes()
                found[int(proc.name)] = cmdline.replace(b"\0", b" ").decode()
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
    return found


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.slow
def test_serve_with_a_token_then_stop_on_sigterm(demo_home: Path):
    port = processes.free_port()
    token = "t0ken-for-the-test"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "photolab_widgets.cli",
            "serve",
            "--port",
            str(port),
            "--token",
            token,
            "--base-url",
            "photolab",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "open http" in line:
                break
        printed = "".join(lines)
        assert f"http://127.0.0.1:{port}/photolab/?token={token}" in printed, printed
        url = f"http://127.0.0.1:{port}/photolab/"
        assert _status(url) in (302, 403)
        assert _status(f"{url}?token={token}") == 200
        # The token is in serve's own command line (the test put it there),
        # but not in Voila's: it went through a private config file.
        voila = {p: c for p, c in _children(proc.pid).items() if " voila " in c}
        assert voila and not any(token in c for c in voila.values())
    finally:
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, rest
    assert "stopping the server" in rest
    for pid in voila:
        assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/photolab/", timeout=5)


@pytest.mark.slow
def test_demo_serves_and_stops_every_child_on_sigterm(home: Path):
    port = processes.free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "photolab_widgets.cli", "demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        for line in proc.stdout:
            if "open http" in line:
                break
        assert _status(f"http://127.0.0.1:{port}/") == 200
        children = _children(proc.pid)
        assert any(" voila " in c for c in children.values())
    finally:
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, rest
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid)


@pytest.mark.parametrize("command", ["serve", "demo"])
@pytest.mark.parametrize("port", ["0", "-1", "65536", "99999", "http"])
def test_a_port_outside_1_to_65535_is_a_usage_error(command, port, home, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--port", port])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: photolab-widgets {command} ")
    assert "argument --port: " in err and "1 to 65535" in err


def test_demo_refuses_a_busy_port_before_starting_anything(home: Path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "photolab_widgets.cli", "demo", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    assert done.stderr == (
        f"photolab-widgets demo: cannot listen on 127.0.0.1 port {port}: "
        "[Errno 98] Address already in use.\n"
    )
    assert not home.exists()  # nothing seeded, no log folder, no worker


def test_serve_refuses_a_busy_port(home, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    assert capsys.readouterr().err == (
        f"photolab-widgets serve: cannot listen on 127.0.0.1 port {port}: "
        "[Errno 98] Address already in use.\n"
    )

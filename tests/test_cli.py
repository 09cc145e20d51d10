"""The command line: plain sentences, never a traceback or a password."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests import services


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "photolab_widgets.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.mariadb
@pytest.mark.parametrize("command", ["init-db", "seed-demo"])
def test_wrong_database_password_is_one_masked_sentence(command, home):
    base = services.mysql_base_url().split("://", 1)[1].split("@", 1)[1]
    env = dict(os.environ)
    env["PHOTOLAB_DATABASE_URL"] = f"mysql+pymysql://root:Wr0ngPw@{base}/nope"
    done = run_cli(command, env=env)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "Traceback" not in out and "Wr0ngPw" not in out
    assert "photolab-widgets" in done.stderr and "***" in done.stderr


def test_init_db_and_seed_demo_twice_on_the_embedded_default(home):
    env = dict(os.environ, PHOTOLAB_HOME=str(home))
    first = run_cli("init-db", env=env)
    assert first.returncode == 0 and "created" in first.stdout
    assert "all tables exist" in run_cli("init-db", env=env).stdout
    assert "seeded" in run_cli("seed-demo", env=env).stdout
    again = run_cli("seed-demo", env=env)
    assert again.returncode == 0 and "nothing seeded" in again.stdout


def test_version():
    done = run_cli("--version", env=dict(os.environ))
    assert done.returncode == 0 and done.stdout.startswith("photolab-widgets ")

"""The command line: plain sentences, never a traceback or a password."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, inspect

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
@pytest.mark.parametrize("command", ["init-db", "seed-demo", "worker"])
def test_wrong_database_password_is_one_masked_sentence(command, home):
    # The worker too: it would say it is ready, then fail every task.
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


def _one_sentence(done: subprocess.CompletedProcess[str], command: str) -> str:
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert "Traceback" not in out and "s3cret" not in out, out
    assert done.stdout == "" and done.stderr.count("\n") == 1, out
    assert done.stderr.startswith(f"photolab-widgets {command}: "), out
    return done.stderr.strip()


@pytest.mark.parametrize("command", ["init-db", "seed-demo"])
@pytest.mark.parametrize(
    "url, said",
    [
        (
            "mysql+pymysql://root:s3cret@127.0.0.1:notaport/x",
            "Cannot use the database mysql+pymysql://***: the database URL is not "
            "valid (expected dialect+driver://...).",
        ),
        (
            "mysql://root:s3cret@127.0.0.1/x",
            "Cannot use the database mysql://root:***@127.0.0.1/x: "
            "No module named 'MySQLdb'.",
        ),
        (" ", "Cannot use the database: its URL is blank."),
    ],
)
def test_a_bad_database_url_is_one_masked_sentence(command, url, said, home):
    env = dict(os.environ, PHOTOLAB_DATABASE_URL=url)
    sentence = _one_sentence(run_cli(command, env=env), command)
    assert sentence == f"photolab-widgets {command}: {said}"


def test_a_short_password_leaves_the_rest_of_the_sentence_intact(home):
    from photolab_widgets.processes import free_port

    port = free_port()
    url = f"mysql+pymysql://studio:on@127.0.0.1:{port}/x"
    done = run_cli("init-db", env=dict(os.environ, PHOTOLAB_DATABASE_URL=url))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(
        f"photolab-widgets init-db: Cannot use the database "
        f"mysql+pymysql://studio:***@127.0.0.1:{port}/x: no server answers at that "
        "host and port (Can't connect to MySQL server on '127.0.0.1' ("
    ), done.stderr
    assert "Connection refused" in done.stderr


@pytest.mark.mariadb
def test_seed_demo_with_a_remote_image_base_is_one_sentence(mysql_url, home):
    env = dict(os.environ, PHOTOLAB_DATABASE_URL=mysql_url)
    sentence = _one_sentence(run_cli("seed-demo", env=env), "seed-demo")
    assert "seed-demo draws its pictures into a local folder" in sentence
    assert "PHOTOLAB_IMAGE_BASE_URL" in sentence
    engine = create_engine(mysql_url)
    assert inspect(engine).get_table_names() == []  # refused before init-db
    engine.dispose()


@pytest.mark.parametrize(
    "argv",
    [
        ["bench", "generate", "--scenes", "0"],
        ["bench", "generate", "--scenes", "3", "-1"],
        ["bench", "generate", "--literal-max", "-1"],
        ["bench", "gallery", "--tasks", "-5"],
        ["bench", "gallery", "--tasks", "many"],
        ["bench", "gallery", "--page-size", "0"],
        ["bench", "gallery", "--page-size", "101"],
        ["bench", "gallery", "--naive-cap", "0"],
        ["bench", "gallery", "--repeat", "0"],
        ["bench", "scenes", "--scenes", "0"],
        ["bench", "scenes", "--page-size", "0"],
        ["bench", "scenes", "--repeat", "0"],
        ["bench", "load", "--processes", "0"],
        ["bench", "load", "--scenes", "1"],
        ["bench", "load", "--actions", "1"],
    ],
)
def test_bench_refuses_counts_out_of_range_with_a_usage_error(argv, home, capsys):
    from photolab_widgets.cli import main

    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: photolab-widgets bench ")
    assert f"argument {argv[2]}: " in err and "Traceback" not in err


def test_bench_gallery_takes_the_page_sizes_the_gallery_takes(capsys):
    from photolab_widgets.cli import build_parser
    from photolab_widgets.widgets.gallery import MAX_PAGE_SIZE

    parser = build_parser()
    for size in (1, MAX_PAGE_SIZE):
        args = parser.parse_args(["bench", "gallery", "--page-size", str(size)])
        assert args.page_size == size
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "gallery", "--page-size", str(MAX_PAGE_SIZE + 1)])

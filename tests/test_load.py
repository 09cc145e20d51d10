"""The load bench: concurrent sessions on shared scenes lose nothing."""

from __future__ import annotations

import pytest

from photolab_widgets.bench.load import (
    INITIAL,
    INITIAL_PARAMS,
    digest,
    document,
    missing_clicks,
    missing_saves,
)
from photolab_widgets.cli import main


@pytest.mark.parametrize(
    "where", ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)]
)
def test_concurrent_sessions_lose_no_click_and_no_save(where, request, capsys):
    argv = ["bench", "load", "--processes", "3", "--scenes", "2", "--actions", "30"]
    if where == "mariadb":
        argv += ["--database-url", request.getfixturevalue("mysql_url")]

    code = main(argv)

    out = capsys.readouterr().out
    assert code == 0, out
    assert "rate clicks: 45 accepted, 0 failed" in out
    assert "params saves: 45 saved" in out
    assert "lost or corrupted writes: 0 " in out
    assert "actions/s" in out


def test_the_checks_see_a_lost_click_and_a_lost_save():
    # The bench's verdicts on made-up histories: a check that cannot fail
    # would prove nothing.
    assert missing_clicks(0.0, 2.5, accepted=5, step=0.5) == 0
    assert missing_clicks(0.0, 2.0, accepted=5, step=0.5) == 1
    assert missing_clicks(10.0, 9.0, accepted=2, step=0.5) == 0
    assert missing_clicks(0.0, 0.3, accepted=1, step=0.5) == 1  # not a whole step

    a, b, c = (document(s, 1, 1, 100) for s in range(3))
    chain = [(INITIAL, digest(a)), (digest(a), digest(b)), (digest(b), digest(c))]
    assert missing_saves(chain, c) == (0, True)
    assert missing_saves([], INITIAL_PARAMS) == (0, True)
    # b and c both started from a: one of them overwrote the other unseen.
    fork = [(INITIAL, digest(a)), (digest(a), digest(b)), (digest(a), digest(c))]
    assert missing_saves(fork, b) == (1, True)
    assert missing_saves(fork, c) == (1, False)
    torn = dict(c, payload=c["payload"][:-1])
    assert missing_saves(chain, torn) == (0, False)

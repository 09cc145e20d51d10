"""``photolab-widgets bench generate`` prints time and broker bytes per scene."""

from __future__ import annotations

import re

from photolab_widgets.cli import main


def test_bench_prints_both_canvases_and_the_4_kb_verdict(capsys, home):
    assert main(["bench", "generate", "--scenes", "3", "60", "--literal-max", "3"]) == 0

    out = capsys.readouterr().out
    rows = re.findall(r"^\s*(\d+)\s+(chain of groups|per-scene chains)\s", out, re.M)
    assert rows == [
        ("3", "chain of groups"),
        ("3", "per-scene chains"),
        ("60", "per-scene chains"),
    ]
    assert "one render message, as workers publish it later" in out
    assert "60 scenes, per-scene chains:" in out and "(under 4 KB)" in out
    assert "the literal canvas sends" in out

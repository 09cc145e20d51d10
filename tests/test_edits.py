"""Saving params and bumping rate, on SQLite and on a real MariaDB."""

from __future__ import annotations

import multiprocessing
import threading

import pytest
from sqlalchemy import text

from photolab_widgets import jsondoc
from photolab_widgets.db import make_engine
from photolab_widgets.edits import ParamsConflict, SceneNotFound, bump_rate
from tests.factories import add_scene

# Every value must come back with the same type: 1, 1.0 and true all differ.
ROUND_TRIP = [
    1,
    1.0,
    "1",
    True,
    "true",
    False,
    0,
    -7,
    1e-7,
    1.5e300,
    "",
    {},
    [],
    {"a": {}, "b": [], "c": {"d": [[], {}]}},
    [None, [None], {"n": None}],
    {"键 🔑": "值 🎞️", "emoji 👩‍👩‍👧": ["海边 🌅"]},
    2**53 + 1,
    -(2**63) - 1,
    2**200,
    {"seed": 2**60 + 1, "cfg": 7.0, "steps": 30},
    "multi\nline\ttext with “quotes” and \\ backslash",
    {"<b>key</b>": "<script>alert(1)</script> & &amp;"},
]


IS_NULL = "SELECT params IS NULL FROM scenes WHERE scene_id = :i"


def raw(studio, sql: str, scene_id: int):
    with studio.session() as s:
        return s.execute(text(sql), {"i": scene_id}).scalar_one()


def stored_params(studio, scene_id: int):
    found = studio.scene(scene_id)
    assert found is not None
    return found.scene.params


def test_empty_save_is_sql_null(studio):
    sid = add_scene(studio, params={"steps": 30})
    assert studio.save_params(sid, None) is None
    assert raw(studio, IS_NULL, sid)
    # A JSON text null written by some other tool reads as empty, and saving
    # over it as the base works.
    with studio.session() as s:
        s.execute(
            text("UPDATE scenes SET params = 'null' WHERE scene_id = :i"), {"i": sid}
        )
    assert stored_params(studio, sid) is None
    studio.save_params(sid, None, base=None)
    assert raw(studio, IS_NULL, sid)


def test_types_round_trip_exactly(studio):
    sid = add_scene(studio)
    for value in ROUND_TRIP:
        saved = studio.save_params(sid, value)
        loaded = stored_params(studio, sid)
        assert jsondoc.same(saved, value), value
        assert jsondoc.same(loaded, value), value
        assert raw(studio, IS_NULL, sid) == 0


def test_text_is_stored_as_characters(studio):
    sid = add_scene(studio)
    studio.save_params(sid, {"风格": "胶片 🎞️"})
    stored = raw(studio, "SELECT params FROM scenes WHERE scene_id = :i", sid)
    assert "胶片 🎞️" in stored and "\\u" not in stored
    with studio.session() as s:
        found = s.execute(
            text("SELECT scene_id FROM scenes WHERE params LIKE :p"), {"p": "%胶片%"}
        ).scalars()
        assert list(found) == [sid]


def test_nested_edit_is_saved(studio):
    sid = add_scene(studio, params={"size": {"width": 768, "list": [1, {"x": 1}]}})
    base = stored_params(studio, sid)
    edited = jsondoc.replace(base, ("size", "list", 1, "x"), 2)
    studio.save_params(sid, edited, base=base)
    assert stored_params(studio, sid) == {"size": {"width": 768, "list": [1, {"x": 2}]}}
    assert base["size"]["list"][1]["x"] == 1  # the editor's base is untouched


@pytest.mark.parametrize(
    "bad", [float("nan"), {"x": float("inf")}, {1: "a"}, {"s": {1, 2}}, object()]
)
def test_invalid_value_leaves_the_row_unchanged(studio, bad):
    sid = add_scene(studio, params={"keep": "me 🙂"})
    before = raw(studio, "SELECT params FROM scenes WHERE scene_id = :i", sid)
    with pytest.raises(jsondoc.JsonValueError):
        studio.save_params(sid, bad)
    assert raw(studio, "SELECT params FROM scenes WHERE scene_id = :i", sid) == before


def test_save_of_a_changed_row_is_refused(studio):
    sid = add_scene(studio, params={"steps": 30, "cfg": 7.0})
    mine = stored_params(studio, sid)
    theirs = stored_params(studio, sid)
    studio.save_params(sid, {**theirs, "steps": 40}, base=theirs)

    with pytest.raises(ParamsConflict) as refused:
        studio.save_params(sid, {**mine, "cfg": 9.0}, base=mine)
    assert refused.value.current == {"steps": 40, "cfg": 7.0}
    assert stored_params(studio, sid) == {"steps": 40, "cfg": 7.0}

    # After a reload the researcher's save goes through.
    studio.save_params(sid, {"steps": 40, "cfg": 9.0}, base=refused.value.current)
    assert stored_params(studio, sid) == {"steps": 40, "cfg": 9.0}


def test_conflict_compares_parsed_json_with_types(studio):
    sid = add_scene(studio, params={"a": 1, "b": [1, 2]})
    # Key order is not a change (MySQL reorders keys) ...
    studio.save_params(sid, {"c": 1}, base={"b": [1, 2], "a": 1})
    # ... but 1.0 against 1, or true against 1, is.
    for stale in ({"c": 1.0}, {"c": True}, None):
        with pytest.raises(ParamsConflict):
            studio.save_params(sid, {"c": 2}, base=stale)
    assert stored_params(studio, sid) == {"c": 1}


def test_a_save_repeated_after_its_answer_was_lost_is_not_a_conflict(studio):
    # The connection can drop after the server committed but before the client
    # heard so; the card then says "Not saved" and the researcher presses Save
    # again with the same base. The row already holds their value: no conflict.
    sid = add_scene(studio, params={"steps": 30})
    base = stored_params(studio, sid)
    studio.save_params(sid, {"steps": 31}, base=base)

    assert studio.save_params(sid, {"steps": 31}, base=base) == {"steps": 31}
    with pytest.raises(ParamsConflict):
        studio.save_params(sid, {"steps": 32}, base=base)


def _race_two_saves(studio, scene_id: int, base, values: list) -> list[str]:
    barrier = threading.Barrier(len(values))
    outcomes: list[str] = []

    def save(value) -> None:
        barrier.wait()
        try:
            studio.save_params(scene_id, value, base=base)
            outcomes.append("saved")
        except ParamsConflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=save, args=(v,)) for v in values]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(outcomes)


def test_simultaneous_saves_from_one_base_let_exactly_one_through(studio):
    sid = add_scene(studio, params={"v": 0})
    for round_ in range(5):
        base = stored_params(studio, sid)
        values = [{"v": f"{round_}-a"}, {"v": f"{round_}-b"}]
        assert _race_two_saves(studio, sid, base, values) == ["refused", "saved"]
        assert stored_params(studio, sid) in values


def test_save_of_a_missing_scene(studio):
    with pytest.raises(SceneNotFound):
        studio.save_params(999_999, {"a": 1})


# -- rate ------------------------------------------------------------------


def test_rate_moves_by_one_from_null_and_keeps_decimals(studio):
    unrated = add_scene(studio, rate=None)
    decimal = add_scene(studio, rate=7.5)
    assert studio.bump_rate(unrated, +1) == 1.0
    assert studio.bump_rate(decimal, +1) == 8.5
    assert studio.bump_rate(decimal, -1) == 7.5
    assert raw(studio, "SELECT rate FROM scenes WHERE scene_id = :i", decimal) == 7.5


@pytest.mark.parametrize(
    ("start", "delta", "expected"),
    [
        (9.5, +1, 10.0),
        (10.0, +1, 10.0),
        (0.5, -1, 0.0),
        (0.0, -1, 0.0),
        (None, -1, 0.0),
        (12.0, -1, 10.0),  # out-of-range legacy rows come back inside the range
        (-3.0, +1, 0.0),
    ],
)
def test_rate_stays_inside_its_range(studio, start, delta, expected):
    sid = add_scene(studio, rate=start)
    assert studio.bump_rate(sid, delta) == expected
    assert raw(studio, "SELECT rate FROM scenes WHERE scene_id = :i", sid) == expected


def test_rate_of_a_missing_scene_and_bad_deltas(studio):
    sid = add_scene(studio, rate=5)
    with pytest.raises(SceneNotFound):
        studio.bump_rate(999_999, 1)
    for bad in (True, "1", float("nan"), 10**400):
        with pytest.raises((TypeError, ValueError)):
            studio.bump_rate(sid, bad)
    assert raw(studio, "SELECT rate FROM scenes WHERE scene_id = :i", sid) == 5


def _click_plus(database_url: str, scene_id: int, clicks: int, barrier, out) -> None:
    engine = make_engine(database_url)
    try:
        barrier.wait(timeout=60)
        for _ in range(clicks):
            out.put(bump_rate(engine, scene_id, +1))
    finally:
        engine.dispose()


def test_two_processes_clicking_plus_lose_no_click(studio):
    sid = add_scene(studio, rate=None)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    out = ctx.Queue()
    url = studio.settings.database_url
    procs = [
        ctx.Process(target=_click_plus, args=(url, sid, 5, barrier, out))
        for _ in range(2)
    ]
    for p in procs:
        p.start()
    seen = sorted(out.get(timeout=120) for _ in range(10))
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    # Ten clicks from 0: every click saw its own result, and none was lost.
    assert seen == [float(n) for n in range(1, 11)]
    assert raw(studio, "SELECT rate FROM scenes WHERE scene_id = :i", sid) == 10


def test_bench_scenes_runs_and_loses_no_click(tmp_path, capsys):
    import argparse

    from photolab_widgets.bench import scenes as bench

    parser = argparse.ArgumentParser()
    bench.configure(parser)
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    args = parser.parse_args(["--database-url", url, "--scenes", "12", "--repeat", "4"])
    assert bench.run(args) == 0
    out = capsys.readouterr().out
    assert "models left after closing the card: 0" in out
    assert "(none lost)" in out

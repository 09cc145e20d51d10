"""``python -m photolab_widgets.bench.scenes``: what the Scene edit view costs.

Prints, on a database of demo-like scenes: widget models per card (closed,
and with the params editor open), kernel time to build a card and a board
page, SQL statements per page, and the latency of a params save and a rate
click (median and 95th percentile), plus how many rate clicks two processes
get through per second together with none lost. Times are wall-clock in this
process, the kernel's side of the wire.

It writes scenes into the database it is given: pass an EMPTY scratch
database with ``--database-url`` (the default is a temporary SQLite file).
It follows the ``configure(parser)`` / ``run(args)`` shape of the other
benchmarks, so ``photolab-widgets bench`` can list it too.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from ..argtypes import whole_number
from ..db import make_engine
from ..edits import bump_rate
from ..models import Scene, Task
from ..studio import Studio
from ._common import add_database_url, bench_studio, init_empty

STEP = 1 / 16
PARAMS: dict[str, Any] = {
    "sampler": "dpm++ 2m karras",
    "steps": 30,
    "cfg_scale": 7.5,
    "seed": 2**60 + 1,
    "size": {"width": 768, "height": 1024},
    "hires_fix": True,
    "loras": [{"name": "film-grain", "weight": 0.6}, {"name": "柔光", "weight": 0.35}],
    "style": "胶片 🎞️",
    "controlnet": {"openpose": {"enabled": True, "weight": 1.0}, "depth": {}},
    "tags": [],
}


def configure(parser: argparse.ArgumentParser) -> None:
    add_database_url(
        parser,
        "an EMPTY scratch database to fill (default: a temporary SQLite file)",
    )
    parser.add_argument(
        "--scenes", type=whole_number(), default=200, help="scenes to create"
    )
    parser.add_argument("--page-size", type=whole_number(), default=10)
    parser.add_argument(
        "--repeat", type=whole_number(), default=50, help="saves and clicks"
    )


def run(args: argparse.Namespace) -> int:
    with bench_studio(args.database_url) as studio:
        return _run(studio, args)


def _run(studio: Studio, args: argparse.Namespace) -> int:
    from ipywidgets.widgets.widget import _instances

    from ..widgets.scene import SceneBoard, SceneCard

    if not init_empty(studio, Scene, "bench scenes", "scenes"):
        return 2
    with studio.session() as s:
        scenes = [
            Scene(
                action_type="sd",
                img_type="woman",
                collection_name=f"c{i % 4}",
                prompt=f"scene {i} 海边写真 🌅",
                base_img_key=f"demo/base/{i}.jpg",
                hint_img_list=[f"demo/pose/{i}.png"],
                rate=5.0,
                params=PARAMS,
            )
            for i in range(args.scenes)
        ]
        s.add_all(scenes)
        s.flush()
        s.add_all(
            Task(scene_id=sc.scene_id, person_id=1, collection_name=sc.collection_name)
            for sc in scenes
            for _ in range(3)
        )
        first = scenes[0].scene_id
    print(f"bench scenes on {studio.settings.redacted_database_url()}")

    before = len(_instances)
    card = SceneCard(studio, first)
    closed = len(_instances) - before
    card.edit()
    opened = len(_instances) - before
    card.close()
    print(f"widget models per card: {closed} closed, {opened} with the editor open")
    print(f"  (params of {_leaves(PARAMS)} values; the editor adds one model each)")
    print(f"models left after closing the card: {len(_instances) - before}")

    _report("build one card", _times(lambda: SceneCard(studio, first).close(), 20))
    _report(
        "build a card and open its editor",
        _times(lambda: _open_close(studio, first), 20),
    )
    statements: list[str] = []
    listener: Callable[..., None] = lambda *a: statements.append(a[2])  # noqa: E731
    event.listen(studio.engine, "before_cursor_execute", listener)
    board = SceneBoard(studio, page_size=args.page_size)
    event.remove(studio.engine, "before_cursor_execute", listener)
    page_models = len(_instances) - before
    board.close()
    print(
        f"board page of {args.page_size} cards: {page_models} models, "
        f"{len(statements)} SQL statements (collections, scenes, tasks, count)"
    )
    _report("build a board page", _times(lambda: _board(studio, args.page_size), 5))

    value = dict(PARAMS)

    def save() -> None:
        nonlocal value
        new = {**value, "steps": value["steps"] + 1}
        studio.save_params(first, new, base=value)
        value = new

    studio.save_params(first, value)
    _report("save params (compare-and-set)", _times(save, args.repeat))
    _report("rate click", _times(lambda: studio.bump_rate(first, 0), args.repeat))
    _race(studio, first, args.repeat)
    return 0


def _open_close(studio: Studio, scene_id: int) -> None:
    from ..widgets.scene import SceneCard

    card = SceneCard(studio, scene_id)
    card.edit()
    card.close()


def _board(studio: Studio, page_size: int) -> None:
    from ..widgets.scene import SceneBoard

    SceneBoard(studio, page_size=page_size).close()


def _race(studio: Studio, scene_id: int, clicks: int) -> None:
    # Steps of 1/16 are exact in a MySQL FLOAT, and 2 * 80 of them stay under
    # 10, so clamping cannot hide a lost click: the final rate must be exact.
    clicks = min(clicks, 80)
    with studio.engine.begin() as conn:
        conn.execute(Scene.__table__.update().values(rate=0))
    ctx = multiprocessing.get_context("spawn")
    url = studio.settings.database_url
    procs = [ctx.Process(target=_click, args=(url, scene_id, clicks)) for _ in range(2)]
    start = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - start
    found = studio.scene(scene_id)
    rate = found.scene.rate if found else None
    expected = 2 * clicks * STEP
    print(
        f"two processes, {clicks} clicks of +{STEP} each: final rate {rate}, "
        f"expected {expected} ({'none' if rate == expected else 'SOME'} lost); "
        f"{2 * clicks / elapsed:.0f} clicks/s including process start"
    )


def _click(url: str, scene_id: int, clicks: int) -> None:
    engine = make_engine(url)
    for _ in range(clicks):
        bump_rate(engine, scene_id, STEP)
    engine.dispose()


def _times(action: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(max(1, n)):
        start = time.perf_counter()
        action()
        out.append(time.perf_counter() - start)
    return out


def _report(what: str, times: list[float]) -> None:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    print(
        f"{what}: median {statistics.median(times) * 1000:.1f} ms, "
        f"p95 {p95 * 1000:.1f} ms ({len(times)} runs)"
    )


def _leaves(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(_leaves(v) for v in value.values())
    if isinstance(value, list):
        return 1 + sum(_leaves(v) for v in value)
    return 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    configure(parser)
    raise SystemExit(run(parser.parse_args()))

"""``photolab-widgets bench gallery --tasks N``: the gallery against the naive build.

Builds a database of N tasks (bulk inserts: seconds, not minutes), then prints
kernel time to the first page, widget models created and SQL statements
issued, for :class:`~photolab_widgets.widgets.gallery.TaskGallery` and for
the obvious build (``SELECT *`` over every task, one small widget card each),
with the ratios; and the time to the next page. Images point at the OSS test
bucket, so no picture is read by the kernel, as in production.

The naive build is measured on at most ``--naive-cap`` cards and extrapolated
linearly beyond (its query still reads all N rows); the output says so. The
times are wall-clock seconds in this process, the kernel's side of the wire:
the browser then has to open one comm per model on top.
"""

from __future__ import annotations

import argparse
import html
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import event, insert, select

from ..argtypes import whole_number
from ..models import Scene, Task, User, utcnow
from ..studio import Studio
from ._common import add_database_url, bench_studio, init_empty

COLLECTIONS = ["summer 夏日", "office", "cats & dogs 🐾", "family", "studio <b>"]
GOAL_SECONDS = 0.3
GOAL_MODELS = 400
GOAL_QUERIES = 3
#: ``TaskGallery``'s page sizes, 1 to ``widgets.gallery.MAX_PAGE_SIZE``; not
#: imported from there, since every command builds this parser and ipywidgets
#: would slow them all (tests/test_cli.py checks the two agree).
MAX_PAGE_SIZE = 100


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tasks", type=whole_number(), default=100_000, help="tasks to build"
    )
    add_database_url(
        parser, "an EMPTY database to fill (default: a temporary SQLite file)"
    )
    parser.add_argument("--page-size", type=whole_number(1, MAX_PAGE_SIZE), default=20)
    parser.add_argument(
        "--naive-cap",
        type=whole_number(),
        default=5_000,
        help="build at most this many naive cards and extrapolate beyond",
    )
    parser.add_argument(
        "--repeat", type=whole_number(), default=3, help="runs per figure"
    )


def run(args: argparse.Namespace) -> int:
    with bench_studio(args.database_url) as studio:
        return _run(studio, args)


def _run(studio: Studio, args: argparse.Namespace) -> int:
    import ipywidgets  # noqa: F401  (imported before timing, as in a kernel)

    from ..widgets.gallery import TaskGallery

    if not init_empty(studio, Task, "bench gallery", "tasks"):
        return 2
    n = args.tasks
    started = time.perf_counter()
    _fill(studio, n)
    backend = studio.engine.dialect.name
    print(
        f"gallery bench: {n:,} tasks on {backend}, "
        f"built in {time.perf_counter() - started:.1f} s\n"
    )
    studio.count_tasks()  # connect the pool first, as a running kernel has

    # -- the gallery: first page, then older pages -------------------------
    firsts: list[Measure] = []
    made: list[Any] = []
    for _ in range(args.repeat):
        for old in made:
            old.close()

        def build() -> None:
            g = TaskGallery(studio, page_size=args.page_size, auto_refresh=False)
            made[:] = [g]

        firsts.append(_measure(studio, build))
    gallery = made[0]
    first = Measure.median(firsts)
    nexts = []
    for _ in range(max(3, args.repeat)):
        if gallery.older_button.disabled:
            break  # the last page
        nexts.append(_measure(studio, gallery.show_older))
    nxt = Measure.median(nexts) if nexts else None

    def set_filter() -> None:
        gallery.set_filters(collection_name=COLLECTIONS[1], status="failed")

    filtered = _measure(studio, set_filter)
    gallery.close()

    # -- the naive build ---------------------------------------------------
    naive, built = _naive(studio, min(n, args.naive_cap))
    scale = n / built if built else 0.0
    naive_total = Measure(
        naive.seconds_query + naive.seconds_cards * scale,
        round(naive.models * scale),
        naive.queries,
    )

    # -- deep pages: keyset against OFFSET (data layer only) ---------------
    keyset_s, offset_s = _deep_page(studio, n, args.page_size)

    rows = [("TaskGallery, first page", first)]
    if nxt is not None:
        rows.append(("TaskGallery, next page", nxt))
    rows.append(("TaskGallery, a filter change", filtered))
    rows.append(("naive: SELECT *, a card per task", naive_total))
    print(f"{'':36} {'kernel time':>12} {'models':>10} {'queries':>8}")
    for name, m in rows:
        print(f"{name:36} {m.seconds:>10.3f} s {m.models:>10,} {m.queries:>8}")
    print(
        f"{'ratio naive / gallery':36} {naive_total.seconds / first.seconds:>11,.1f}x"
        f" {naive_total.models / max(first.models, 1):>9,.1f}x"
        f" {naive_total.queries / first.queries:>7.2f}x"
    )
    if nxt is None:
        print("next page: none, every task fits on the first page")
    else:
        print(f"next page / first page time: {nxt.seconds / first.seconds:.2f}")
    if built < n:
        print(
            f"(naive: SELECT * read all {n:,} rows in {naive.seconds_query:.2f} s; "
            f"cards measured on {built:,} tasks, {naive.seconds_cards:.2f} s and "
            f"{naive.models:,} models, extrapolated x{scale:,.1f})"
        )
    print(
        f"deep page (the oldest {args.page_size}): keyset {keyset_s * 1e3:.1f} ms, "
        f"OFFSET {offset_s * 1e3:.1f} ms"
    )
    pages = f" (next page: of {len(nexts)} older pages in a row)" if nexts else ""
    print(f"figures are medians of {args.repeat} runs{pages}")
    goals = [
        (f"first page < {GOAL_SECONDS} s", first.seconds < GOAL_SECONDS),
        (f"<= {GOAL_MODELS} widget models", first.models <= GOAL_MODELS),
        (f"<= {GOAL_QUERIES} queries", first.queries <= GOAL_QUERIES),
        (
            "next page no slower than the first",
            nxt is None or nxt.seconds <= first.seconds * 1.2,
        ),
    ]
    print("goals: " + "; ".join(f"{g}: {'yes' if ok else 'NO'}" for g, ok in goals))
    return 0


@dataclass
class Measure:
    seconds: float
    models: int
    queries: int
    #: The naive build's split: reading every row, then making the cards.
    seconds_query: float = 0.0
    seconds_cards: float = 0.0

    @staticmethod
    def median(runs: list[Measure]) -> Measure:
        return Measure(
            statistics.median(m.seconds for m in runs),
            int(statistics.median(m.models for m in runs)),
            int(statistics.median(m.queries for m in runs)),
        )


def _live_widgets() -> int:
    import ipywidgets as w

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return len(w.Widget.widgets)


@contextmanager
def _counting(studio: Studio) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(studio.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(studio.engine, "before_cursor_execute", count)


def _measure(studio: Studio, action: Callable[[], object]) -> Measure:
    widgets = _live_widgets()
    with _counting(studio) as statements:
        started = time.perf_counter()
        action()
        seconds = time.perf_counter() - started
    return Measure(seconds, _live_widgets() - widgets, len(statements))


def _naive(studio: Studio, cap: int) -> tuple[Measure, int]:
    """Every task by ``SELECT *``; one card (box, picture, data, button) each."""
    import ipywidgets as w

    widgets = _live_widgets()
    with _counting(studio) as statements:
        started = time.perf_counter()
        with studio.session() as s:
            tasks = list(s.scalars(select(Task).order_by(Task.id.desc())))
        queried = time.perf_counter()
        cards = []
        for task in tasks[:cap]:
            url = studio.image_url(task.result_img_key) or ""
            cards.append(
                w.VBox(
                    [
                        w.HTML(f"<img src='{html.escape(url)}' width='240'>"),
                        w.HTML(
                            f"<b>#{task.id}</b> {html.escape(task.status)}<br>"
                            f"person {task.person_id}, scene {task.scene_id}"
                        ),
                    ]
                )
            )
        grid = w.GridBox(cards, layout=w.Layout(grid_template_columns="1fr 1fr"))
        done = time.perf_counter()
    models = _live_widgets() - widgets
    for card in cards:
        for child in (*card.children, card):
            child.layout.close()
            if hasattr(child, "style"):
                child.style.close()
            child.close()
    grid.layout.close()
    grid.close()
    seconds = done - started
    measure = Measure(
        seconds, models, len(statements), queried - started, done - queried
    )
    return measure, len(cards)


def _deep_page(studio: Studio, n: int, limit: int) -> tuple[float, float]:
    """Seconds for the oldest page: keyset ``id < x`` against ``OFFSET n - limit``."""
    from ..queries import tasks_page

    with studio.session() as s:
        oldest = s.scalars(select(Task.id).order_by(Task.id).limit(limit + 1)).all()
    before = oldest[-1] if len(oldest) > limit else None

    def keyset() -> None:
        studio.task_slice(before_id=before, limit=limit)

    def offset() -> None:
        with studio.session() as s:
            tasks_page(s, offset=max(n - limit, 0), limit=limit)

    return _best(keyset), _best(offset)


def _best(action: Callable[[], None], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def _fill(studio: Studio, n: int, chunk: int = 20_000) -> None:
    """N tasks over a few people and scenes, in bulk: done, failed and a few open."""
    with studio.session() as s:
        s.execute(insert(User), [{"name": f"person {i} 人"} for i in range(40)])
        s.execute(
            insert(Scene),
            [
                {
                    "action_type": "sd",
                    "img_type": "woman",
                    "name": f"scene {i}",
                    "prompt": f"prompt {i}",
                    "collection_name": COLLECTIONS[i % len(COLLECTIONS)],
                    "base_img_key": f"bench/base/{i}.jpg",
                }
                for i in range(200)
            ],
        )
        users = list(s.scalars(select(User.id)))
        scenes = list(s.execute(select(Scene.scene_id, Scene.collection_name)))
    start = utcnow() - timedelta(minutes=n)
    for first in range(0, n, chunk):
        rows = []
        for i in range(first, min(first + chunk, n)):
            scene_id, collection = scenes[i % len(scenes)]
            status, key, error = "done", f"bench/results/task {i:06d} 图.jpg", None
            if i % 13 == 5:
                status, key, error = "failed", None, f"render_scene: error {i}"
            elif i % 29 == 7:
                status, key = "pending", None
            when = start + timedelta(minutes=i)
            rows.append(
                {
                    "person_id": users[i % len(users)],
                    "scene_id": scene_id,
                    "collection_name": collection,
                    "status": status,
                    "result_img_key": key,
                    "error": error,
                    "created_at": when,
                    "updated_at": when,
                }
            )
        with studio.session() as s:
            s.execute(insert(Task), rows)

"""``photolab-widgets bench generate``: what Generate costs, for both canvases.

For each scene count N the benchmark makes a collection of N scenes in a
throwaway database (SQLite in a temporary folder unless ``--database-url``
names an empty scratch database), presses Generate once per canvas and
reports:

- kernel time: wall and CPU seconds of the whole call (the rows, the canvas,
  the bookkeeping), which is what a researcher waits for;
- broker bytes: what the broker holds right after Generate, read back from it
  (the embedded queue's message files or the Redis list), total and per scene;
- the bytes workers publish later, one render message per scene in both
  canvases, measured by publishing one such message.

No worker runs and the queue is emptied after each measure. The literal canvas
is quadratic, so it is measured only up to ``--literal-max`` scenes (at 1,000
it puts about 380 MB on the broker).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, insert, select

from ..argtypes import whole_number
from ..config import Settings, redact_url
from ..dispatch import batches
from ..dispatch.app import make_celery
from ..dispatch.canvas import Design, Job, render_signature
from ..dispatch.wire import purge, queued_payloads
from ..models import Scene, User
from ..studio import Studio

FOUR_KB = 4096


@dataclass(frozen=True)
class Measure:
    scenes: int
    design: Design
    wall_s: float
    cpu_s: float
    broker_bytes: int
    messages: int

    @property
    def per_scene(self) -> float:
        return self.broker_bytes / self.scenes


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenes",
        type=whole_number(),
        nargs="+",
        default=[50, 1000, 5000],
        help="scene counts to measure (default: 50 1000 5000)",
    )
    parser.add_argument(
        "--literal-max",
        type=whole_number(0),
        default=1000,
        help="measure the quadratic literal canvas up to this many scenes",
    )
    parser.add_argument(
        "--broker",
        help="broker URL (default: the embedded filesystem queue in a temp folder)",
    )
    parser.add_argument(
        "--database-url",
        help="an empty scratch database (default: SQLite in a temp folder)",
    )


def run(args: argparse.Namespace) -> int:
    # One log line per batch would drown the table.
    logging.getLogger("photolab_widgets.dispatch").setLevel(logging.WARNING)
    with _studio(args) as (studio, queue):
        where = redact_url(studio.settings.broker_url)
        print(f"broker: {where}   database: {studio.settings.redacted_database_url()}")
        render_bytes = _render_message_bytes(studio, queue)
        print(f"one render message, as workers publish it later: {render_bytes} B")
        print()
        print(
            f"{'scenes':>6}  {'canvas':<17} {'wall':>8} {'cpu':>8} "
            f"{'broker':>10} {'msgs':>6} {'per scene':>10} {'+render':>8} "
            f"{'total':>9}"
        )
        person = _person(studio)
        measures: list[Measure] = []
        for n in args.scenes:
            collection = _collection(studio, n)
            designs = [Design.SCENE_CHAINS]
            if n <= args.literal_max:
                designs.insert(0, Design.CHAIN_OF_GROUPS)
            for design in designs:
                m = _measure(studio, queue, collection, person, n, design)
                measures.append(m)
                total = m.per_scene + render_bytes
                print(
                    f"{n:>6}  {design.value:<17} {m.wall_s:>7.2f}s {m.cpu_s:>7.2f}s "
                    f"{_size(m.broker_bytes):>10} {m.messages:>6} "
                    f"{_size(m.per_scene):>10} {_size(render_bytes):>8} "
                    f"{_size(total):>9}"
                )
        print()
        _ratios(measures, render_bytes)
    return 0


@contextmanager
def _studio(args: argparse.Namespace) -> Iterator[tuple[Studio, str]]:
    with tempfile.TemporaryDirectory(prefix="photolab-bench-") as tmp:
        home = Path(tmp)
        overrides: dict[str, str] = {}
        if args.database_url:
            overrides["database_url"] = args.database_url
        if args.broker:
            overrides.update(broker_url=args.broker, result_backend=args.broker)
        settings = Settings.from_env({}, home=home, **overrides)
        queue = f"photolab-bench-{uuid.uuid4().hex[:8]}"
        studio = Studio(settings)
        studio.init_db()
        with studio.session() as s:
            if s.scalar(select(func.count()).select_from(Scene)):
                raise SystemExit(
                    "bench generate writes scenes and tasks: give it an empty "
                    "scratch database, not one that already has scenes"
                )
        studio.celery = make_celery(settings, queue=queue)  # type: ignore[misc]
        try:
            yield studio, queue
        finally:
            purge(settings, queue)
            studio.close()


def _person(studio: Studio) -> int:
    with studio.session() as s:
        user = User(name="bench")
        s.add(user)
        s.flush()
        return user.id


def _collection(studio: Studio, n: int) -> str:
    name = f"bench-{n}-{uuid.uuid4().hex[:6]}"
    rows = [
        {
            "action_type": "sd",
            "img_type": "woman",
            "collection_name": name,
            "prompt": f"bench scene {i}",
            "base_img_key": f"bench/base/{i}.jpg",
        }
        for i in range(n)
    ]
    with studio.session() as s:
        s.execute(insert(Scene), rows)
    return name


def _measure(
    studio: Studio, queue: str, collection: str, person: int, n: int, design: Design
) -> Measure:
    spec_max = n if design is Design.CHAIN_OF_GROUPS else 0
    wall, cpu = time.perf_counter(), time.process_time()
    batches.generate(studio, collection, person, spec_max_scenes=spec_max)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    payloads = queued_payloads(studio.settings, queue)
    purge(studio.settings, queue)
    return Measure(n, design, wall, cpu, sum(map(len, payloads)), len(payloads))


def _render_message_bytes(studio: Studio, queue: str) -> int:
    job = Job(task_id=123456, scene_id=123456, celery_id=str(uuid.uuid4()))
    render_signature(studio.celery, job).apply_async()
    size = sum(map(len, queued_payloads(studio.settings, queue)))
    purge(studio.settings, queue)
    return size


def _ratios(measures: list[Measure], render_bytes: int) -> None:
    by_key = {(m.scenes, m.design): m for m in measures}
    for (n, design), m in sorted(by_key.items()):
        if design is not Design.SCENE_CHAINS:
            continue
        total = m.per_scene + render_bytes
        verdict = "under" if total < FOUR_KB else "OVER"
        line = (
            f"{n} scenes, per-scene chains: {_size(total)} per scene in all "
            f"({verdict} 4 KB), Generate {m.wall_s:.2f} s"
        )
        literal = by_key.get((n, Design.CHAIN_OF_GROUPS))
        if literal is not None:
            ratio = literal.broker_bytes / m.broker_bytes
            line += f"; the literal canvas sends {ratio:.0f}x the bytes"
        print(line)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"

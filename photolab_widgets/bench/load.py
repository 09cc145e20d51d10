"""``photolab-widgets bench load``: many researchers on the same scenes at once.

Starts several processes (each one researcher's kernel: its own engine and its
own ``SceneCard`` per scene) and lets them loose together on a few shared
scenes, alternating a rate click (``card.rate``, what − and + call) and a
params save (typed into the card's editor as raw text, then ``card.save()``;
a save refused because someone else saved first is reloaded and tried again,
as a person would). Then it checks that nothing was lost:

- Rate: half the scenes start at 0 and only get + clicks, the other half start
  at 10 and only get − clicks, each click a power-of-two step small enough that
  no scene reaches the end of the 0..10 range, so no click is clamped and
  every step is exact in a MySQL ``FLOAT``. The final rate must be the start
  plus the accepted clicks; each missing step is one lost click.
- Params: every saved document names its session and sequence number and
  carries a SHA-256 of its payload. Each accepted save records the document it
  started from (its base) and the one it wrote. A correct compare-and-set gives
  one unbroken history per scene: no two accepted saves start from the same
  base (that would be a write that overwrote another unseen), and the row ends
  holding the last document of that history, whole. Anything else is counted
  as lost or corrupted.

Prints actions per second, latencies, the conflicts that were refused and
retried (correct behaviour under contention) and the count of lost or
corrupted writes, which must be 0; the exit status is 1 otherwise.

It creates its scenes in a collection of its own, touches only those and
deletes them at the end. The default database is a temporary SQLite file;
pass ``--database-url`` for MariaDB/MySQL.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing
import queue
import statistics
import threading
import time
import traceback
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select

from ..argtypes import whole_number
from ..models import RATE_MAX, RATE_MIN, Scene
from ..studio import Studio
from ._common import add_database_url, bench_studio

#: Tries of one save that keeps losing the race before the session gives up.
SAVE_TRIES = 20
START_TIMEOUT_S = 120.0
INITIAL_PARAMS: dict[str, Any] = {"initial": True}


def configure(parser: argparse.ArgumentParser) -> None:
    add_database_url(parser, "the database to load (default: a temporary SQLite file)")
    parser.add_argument(
        "--processes", type=whole_number(), default=4, help="sessions at once"
    )
    parser.add_argument(
        "--scenes", type=whole_number(2), default=4, help="shared scenes"
    )
    parser.add_argument(
        "--actions", type=whole_number(2), default=200, help="per session"
    )
    parser.add_argument(
        "--params-kb", type=float, default=4.0, help="size of each saved document"
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds before giving up"
    )


def run(args: argparse.Namespace) -> int:
    with bench_studio(args.database_url, prefix="photolab-load-") as studio:
        studio.init_db()
        return _run(studio, args)


# -- the documents ------------------------------------------------------------


def digest(value: Any) -> str:
    """A fingerprint of a JSON value that ignores key order (MySQL reorders)."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def document(session: int, seq: int, scene_id: int, size: int) -> dict[str, Any]:
    """A params document of about ``size`` characters that vouches for itself."""
    chunk = max(1, size // 8)
    payload = [f"{session}:{seq}:{i}:" + "胶" * chunk for i in range(8)]
    return {
        "session": session,
        "seq": seq,
        "scene": scene_id,
        "steps": seq % 50 + 1,
        "payload": payload,
        "sha256": hashlib.sha256("".join(payload).encode()).hexdigest(),
    }


INITIAL = digest(INITIAL_PARAMS)


def whole(value: Any) -> bool:
    """Whether a stored document is one some session wrote in full."""
    if not isinstance(value, dict) or "payload" not in value:
        return False
    payload = value["payload"]
    text = "".join(payload) if isinstance(payload, list) else ""
    return hashlib.sha256(text.encode()).hexdigest() == value.get("sha256")


def rate_step(clicks_per_scene: int) -> float:
    """The largest power-of-two step that keeps every click inside 0..10.

    Powers of two are exact in a single-precision FLOAT, so the final rate can
    be compared exactly; 1.0 (the real buttons' step) when there is room.
    """
    room = RATE_MAX - RATE_MIN
    return 2.0 ** -max(0, math.ceil(math.log2(max(1, clicks_per_scene) / room)))


# -- one session (a child process) ----------------------------------------------


@dataclass
class SessionReport:
    """What one session did, sent back to the parent."""

    index: int
    clicks: dict[int, int] = field(default_factory=dict)
    refused_clicks: int = 0
    saves: list[tuple[int, str, str]] = field(default_factory=list)
    conflicts: int = 0
    gave_up: int = 0
    click_times: list[float] = field(default_factory=list)
    save_times: list[float] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None


def _session(
    url: str,
    index: int,
    scenes: list[tuple[int, float]],
    actions: int,
    size: int,
    barrier: Any,
    results: Any,
) -> None:
    report = SessionReport(index)
    try:
        _work(url, scenes, actions, size, barrier, report)
    except Exception:
        report.error = traceback.format_exc()
        barrier.abort()
    results.put(report)


def _work(
    url: str,
    scenes: list[tuple[int, float]],
    actions: int,
    size: int,
    barrier: Any,
    report: SessionReport,
) -> None:
    from ..widgets.scene import SceneCard

    with bench_studio(url, prefix="photolab-load-session-") as studio:
        cards = {sid: SceneCard(studio, sid) for sid, _ in scenes}
        for card in cards.values():
            card.edit()
        barrier.wait(START_TIMEOUT_S)
        began = time.perf_counter()
        for n in range(actions):
            # A click and a save on one scene, then the next scene: every
            # session works on every scene, sessions starting on different ones.
            scene_id, step = scenes[(report.index + n // 2) % len(scenes)]
            card = cards[scene_id]
            if n % 2 == 0:
                _click(card, step, report)
            else:
                _save(card, document(report.index, n, scene_id, size), report)
        report.seconds = time.perf_counter() - began
        for card in cards.values():
            card.close()


def _click(card: Any, step: float, report: SessionReport) -> None:
    start = time.perf_counter()
    accepted = card.rate(step) is not None
    report.click_times.append(time.perf_counter() - start)
    if accepted:
        report.clicks[card.scene_id] = report.clicks.get(card.scene_id, 0) + 1
    else:
        report.refused_clicks += 1


def _save(card: Any, new: dict[str, Any], report: SessionReport) -> None:
    editor = card.editor
    text = json.dumps(new, ensure_ascii=False)
    for _ in range(SAVE_TRIES):
        editor.set_raw(text)
        base = editor.base
        start = time.perf_counter()
        saved = card.save()
        report.save_times.append(time.perf_counter() - start)
        if saved:
            report.saves.append((card.scene_id, digest(base), digest(new)))
            return
        report.conflicts += 1
        card.reload()  # someone saved first: start again from their version
    report.gave_up += 1


# -- the parent: start, wait, check -----------------------------------------------


def _run(studio: Studio, args: argparse.Namespace) -> int:
    clicks_per_session = math.ceil(args.actions / 2)
    clicks_per_scene = args.processes * math.ceil(clicks_per_session / args.scenes)
    step = rate_step(clicks_per_scene)
    collection = f"bench-load-{uuid.uuid4().hex[:8]}"
    scenes = _create_scenes(studio, collection, args.scenes)
    plan = [(sid, step if start == RATE_MIN else -step) for sid, start in scenes]
    size = int(args.params_kb * 1000)
    print(
        f"bench load on {studio.settings.redacted_database_url()}: "
        f"{args.processes} sessions, {args.scenes} shared scenes, "
        f"{args.actions} actions each (rate ±{step:g}, params ~{size:,} characters)"
    )
    try:
        reports, wall = _race(studio.settings.database_url, plan, size, args)
        if reports is None:
            return 1
        return _check(studio, scenes, step, reports, wall)
    finally:
        with studio.session() as s:
            s.execute(delete(Scene).where(Scene.collection_name == collection))


def _create_scenes(
    studio: Studio, collection: str, count: int
) -> list[tuple[int, float]]:
    """Scenes alternately at rate 0 (for + clicks) and 10 (for − clicks)."""
    with studio.session() as s:
        rows = [
            Scene(
                action_type="sd",
                img_type="woman",
                collection_name=collection,
                prompt=f"load test scene {i}",
                rate=RATE_MIN if i % 2 == 0 else RATE_MAX,
                params=INITIAL_PARAMS,
            )
            for i in range(count)
        ]
        s.add_all(rows)
        s.flush()
        return [(row.scene_id, float(row.rate or 0)) for row in rows]


def _race(
    url: str,
    plan: list[tuple[int, float]],
    size: int,
    args: argparse.Namespace,
) -> tuple[list[SessionReport] | None, float]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(args.processes + 1)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=_session,
            args=(url, i, plan, args.actions, size, barrier, results),
            daemon=True,
        )
        for i in range(args.processes)
    ]
    for proc in procs:
        proc.start()
    reports: list[SessionReport] = []
    try:
        barrier.wait(START_TIMEOUT_S)
        began = time.perf_counter()
        deadline = time.monotonic() + args.timeout
        while len(reports) < len(procs):
            reports.append(results.get(timeout=max(0.1, deadline - time.monotonic())))
        wall = time.perf_counter() - began
    except (queue.Empty, threading.BrokenBarrierError) as exc:
        print(f"bench load: the sessions did not finish: {exc!r}")
        while True:
            try:
                reports.append(results.get(timeout=5))
            except queue.Empty:
                break
        for report in reports:
            if report.error:
                print(f"session {report.index} failed:\n{report.error}")
        return None, 0.0
    finally:
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
    failed = [r for r in reports if r.error]
    for report in failed:
        print(f"session {report.index} failed:\n{report.error}")
    return (None if failed else reports), wall


def _check(
    studio: Studio,
    scenes: list[tuple[int, float]],
    step: float,
    reports: list[SessionReport],
    wall: float,
) -> int:
    with studio.session() as s:
        rows = s.execute(
            select(Scene.scene_id, Scene.rate, Scene.params).where(
                Scene.scene_id.in_([sid for sid, _ in scenes])
            )
        ).all()
    final = {row.scene_id: (row.rate, row.params) for row in rows}

    lost_clicks = lost_saves = corrupted = 0
    saves_by_scene: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for report in reports:
        for scene_id, base, wrote in report.saves:
            saves_by_scene[scene_id].append((base, wrote))
    for scene_id, start in scenes:
        rate, stored = final[scene_id]
        accepted = sum(r.clicks.get(scene_id, 0) for r in reports)
        lost_clicks += missing_clicks(start, rate, accepted, step)
        lost, whole_and_last = missing_saves(saves_by_scene[scene_id], stored)
        lost_saves += lost
        corrupted += not whole_and_last

    clicks = sum(sum(r.clicks.values()) for r in reports)
    saves = sum(len(r.saves) for r in reports)
    conflicts = sum(r.conflicts for r in reports)
    gave_up = sum(r.gave_up for r in reports)
    refused = sum(r.refused_clicks for r in reports)
    actions = clicks + refused + saves + gave_up
    click_times = [t for r in reports for t in r.click_times]
    save_times = [t for r in reports for t in r.save_times]
    bad = lost_clicks + lost_saves + corrupted
    print(
        f"rate clicks: {clicks} accepted, {refused} failed; "
        f"median {_ms(click_times)}, p95 {_ms(click_times, 0.95)}"
    )
    print(
        f"params saves: {saves} saved, {conflicts} refused because another "
        f"session saved first (reloaded and retried), {gave_up} given up; "
        f"median {_ms(save_times)}, p95 {_ms(save_times, 0.95)}"
    )
    print(
        f"throughput: {actions / wall:.0f} actions/s across {len(reports)} sessions "
        f"({wall:.2f} s; {(clicks + saves + conflicts) / wall:.0f} write "
        "transactions/s counting refused saves)"
    )
    print(
        f"lost or corrupted writes: {bad} "
        f"(rate clicks {lost_clicks}, params saves {lost_saves}, documents "
        f"not whole {corrupted})"
    )
    return 0 if bad == 0 and refused == 0 else 1


def missing_clicks(start: float, rate: float | None, accepted: int, step: float) -> int:
    """Clicks of ``step`` the final rate does not show (or shows too many of)."""
    moved = abs(float(rate or 0.0) - start) / step
    missing = abs(accepted - round(moved))
    if moved != round(moved):
        missing += 1  # a rate that no whole number of clicks explains
    return missing


def missing_saves(saves: list[tuple[str, str]], stored: Any) -> tuple[int, bool]:
    """Saves lost from one scene's history, and whether the row is its last, whole.

    ``saves`` are (base digest, written digest) of every accepted save. A
    correct compare-and-set makes each start from the document the previous
    one wrote, so following them from the first document visits every save.
    A save that started from a base another save had already used overwrote
    that one unseen: it is off the chain, and so is what followed it.
    """
    next_of: dict[str, str] = {}
    for base, wrote in saves:
        next_of.setdefault(base, wrote)
    current, steps = INITIAL, 0
    while current in next_of and steps <= len(saves):
        current = next_of[current]
        steps += 1
    last = digest(stored) == current and (not saves or whole(stored))
    return len(saves) - steps, last


def _ms(times: list[float], quantile: float = 0.5) -> str:
    if not times:
        return "-"
    if quantile == 0.5:
        value = statistics.median(times)
    else:
        ordered = sorted(times)
        value = ordered[min(len(ordered) - 1, int(len(ordered) * quantile))]
    return f"{value * 1000:.1f} ms"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    configure(parser)
    raise SystemExit(run(parser.parse_args()))

"""``python -m photolab_widgets.bench.limits``: what oversized input costs the kernel.

Prints, for params documents of growing size, the kernel time to open them in
the JSON editor and the widget models that makes, with the tree limit
(``MAX_TREE_VALUES``) and without it, plus a scene card's build time and
markup size for a 1 MB params document and a 10,000-character prompt. This is
where the limits in the README come from. No database is needed: the card
reads from a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from .. import jsondoc
from ..studio import Studio
from ._common import bench_studio


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sizes",
        default="100,1000,5000,20000",
        help="values per document, comma separated",
    )


def run(args: argparse.Namespace) -> int:
    from ipywidgets.widgets.widget import _instances

    from ..widgets.json_editor import MAX_TREE_VALUES, JsonEditor

    print(f"JSON editor, tree limit {MAX_TREE_VALUES:,} values:")
    for wanted in (int(x) for x in args.sizes.split(",")):
        doc = _document(wanted)
        n = jsondoc.count_values(doc, 10**9)
        size = len(json.dumps(doc, ensure_ascii=False))
        for limit, label in ((MAX_TREE_VALUES, "with the limit"), (n, "as a tree")):
            if label == "as a tree" and n <= MAX_TREE_VALUES:
                continue
            before = len(_instances)
            seconds, editor = _timed(lambda: JsonEditor(doc, max_tree_values=limit))  # noqa: B023
            models = len(_instances) - before
            mode = "raw text" if editor.text_only else "tree"
            editor.close()
            print(
                f"  {n:>7,} values ({size / 1e3:,.0f} kB) {label}: {mode}, "
                f"{seconds:.3f} s, {models:,} widget models"
            )

    with bench_studio(None, prefix="photolab-limits-") as studio:
        studio.init_db()
        _cards(studio)
    return 0


def _cards(studio: Studio) -> None:
    from ..models import Scene
    from ..widgets.scene import SceneCard

    big = _document(30_000)
    prompt = ("海边写真, golden hour, " * 600)[:10_000]
    with studio.session() as s:
        rows = [
            Scene(action_type="sd", img_type="woman", params=big),
            Scene(action_type="sd", img_type="woman", prompt=prompt),
        ]
        s.add_all(rows)
        s.flush()
        ids = [row.scene_id for row in rows]
    size = len(json.dumps(big, ensure_ascii=False))
    for scene_id, what in zip(
        ids, (f"{size / 1e6:.1f} MB params", "10,000-character prompt"), strict=True
    ):
        seconds, card = _timed(lambda: SceneCard(studio, scene_id))  # noqa: B023
        markup = sum(
            len(part.value) for part in (card.pictures, card.facts, card.task_strip)
        )
        opened, _editor = _timed(card.edit)
        print(
            f"scene card with a {what}: built in {seconds:.3f} s, "
            f"{markup / 1e3:,.0f} kB of markup; Edit params {opened:.3f} s"
        )
        card.close()


def _document(values: int) -> dict[str, Any]:
    """About ``values`` JSON values, shaped like real params (records in a list)."""
    return {
        "items": [
            {"i": i, "prompt": f"海边写真 {i} " + "x" * 80, "weight": 0.5}
            for i in range(max(1, (values - 2) // 4))
        ]
    }


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = action()
    return time.perf_counter() - start, out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    configure(parser)
    raise SystemExit(run(parser.parse_args()))

"""Every notebook in notebooks/ runs top to bottom on a fresh demo database.

Cells tagged ``needs-worker`` generate a batch and wait for it, so they need
the dispatch layer and a running worker. They are left out of the first test
and run by the second, which starts the demo worker.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from photolab_widgets import processes

NOTEBOOKS = sorted(processes.NOTEBOOKS_DIR.glob("*.ipynb"))
HAS_WORKER = importlib.util.find_spec("photolab_widgets.dispatch.worker") is not None


def _run(
    path: Path, cwd: Path, *, skip_tag: str | None = None
) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    if skip_tag:
        nb.cells = [c for c in nb.cells if skip_tag not in c.metadata.get("tags", [])]
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": cwd}}
    )
    client.execute()
    return nb


def _outputs(nb: nbformat.NotebookNode, output_type: str) -> list[dict]:
    return [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == output_type
    ]


def test_notebooks_are_committed_without_outputs():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_on_fresh_demo(path: Path, demo_home: Path, tmp_path: Path):
    nb = _run(path, tmp_path, skip_tag="needs-worker")
    assert _outputs(nb, "error") == []
    if path.name == "app.ipynb":
        shown = json.dumps(_outputs(nb, "execute_result"))
        assert "application/vnd.jupyter.widget-view+json" in shown
        # The widget state saved with the notebook: the app, not its error page.
        state = json.dumps(nb.metadata["widgets"])
        assert "photolab-app" in state and "photolab-app-error" not in state


@pytest.fixture
def demo_worker(demo_home: Path) -> Iterator[None]:
    from photolab_widgets.dispatch.worker import worker_argv

    proc = processes.start(worker_argv(delay=0.0), log_path=demo_home / "worker.log")
    yield
    processes.stop(proc)


@pytest.mark.slow
@pytest.mark.xfail(
    not HAS_WORKER,
    reason="studio.generate and the demo worker arrive with the dispatch layer",
    strict=True,
    run=False,
)
def test_explore_notebook_generates_and_follows_a_batch(
    request: pytest.FixtureRequest, tmp_path: Path
):
    request.getfixturevalue("demo_worker")
    nb = _run(processes.NOTEBOOKS_DIR / "explore.ipynb", tmp_path)
    assert _outputs(nb, "error") == []

"""What every benchmark needs: a ``--database-url`` option and a Studio on it.

Each benchmark writes into the database it is given, so the default is a
temporary SQLite file in a folder that is deleted afterwards; images point at
the OSS test bucket, so no picture is read by the kernel, as in production.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import func, select

from ..config import OSS_TEST_BUCKET, Settings
from ..studio import Studio


def add_database_url(parser: argparse.ArgumentParser, help: str) -> None:
    """The ``--database-url`` option; ``help`` says what the bench does to it."""
    parser.add_argument("--database-url", help=help)


@contextmanager
def bench_studio(
    database_url: str | None, prefix: str = "photolab-bench-"
) -> Iterator[Studio]:
    """A Studio on ``database_url`` (a temporary SQLite file when empty).

    The Studio is closed, and the temporary folder deleted, on the way out,
    whatever the benchmark raised.
    """
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        settings = Settings.from_env(
            home=tmp,
            database_url=database_url or None,
            image_base_url=OSS_TEST_BUCKET,
        )
        studio = Studio(settings)
        try:
            yield studio
        finally:
            studio.close()


def init_empty(studio: Studio, table: Any, bench: str, rows: str) -> bool:
    """Create the tables; ``False``, after saying why, when ``table`` has rows.

    A benchmark that fills a table and then counts what it built cannot share
    that table with rows that were there before.
    """
    studio.init_db()
    with studio.session() as s:
        if s.scalar(select(func.count()).select_from(table)):
            print(f"{bench}: the database already has {rows}; give it an empty one")
            return False
    return True

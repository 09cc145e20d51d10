"""Deep links: the page's address opens a collection, a scene or a task.

``?collection=summer`` opens the Scenes tab on that collection, ``?scene=12``
opens scene 12 and ``?task=345`` opens the Tasks tab on task 345. Voila hands
the page's query string to the kernel in the ``QUERY_STRING`` environment
variable; :func:`current_link` reads it there. Other parameters (Voila's own
``token``, ``theme``, ``template``) are ignored.

Links the views offer are relative (``?scene=12``): the browser resolves them
against the page it is on, so they stay right behind a reverse proxy or under
a JupyterHub prefix that the kernel cannot see.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

#: The query parameters a deep link uses, in the order they are written.
PARAMS = ("collection", "scene", "task")


@dataclass(frozen=True)
class DeepLink:
    """What the page's address asks to open.

    Attributes
    ----------
    collection:
        A collection name, exactly as given (any text, Chinese and emoji too).
    scene_id, task_id:
        Positive integer ids, or ``None``.
    problems:
        Plain sentences about parameters that could not be understood (an id
        that is not a number); the app shows them instead of failing.
    """

    collection: str | None = None
    scene_id: int | None = None
    task_id: int | None = None
    problems: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return any(
            v is not None for v in (self.collection, self.scene_id, self.task_id)
        )

    @property
    def tab(self) -> str | None:
        """The tab that shows the link's target: the most specific one wins."""
        if self.task_id is not None:
            return "Tasks"
        if self.scene_id is not None or self.collection is not None:
            return "Scenes"
        return None

    @property
    def href(self) -> str:
        """This link as a relative address (``?collection=...&scene=...``)."""
        return link_for(
            collection=self.collection, scene_id=self.scene_id, task_id=self.task_id
        )


def _parse_id(name: str, raw: str) -> tuple[int | None, str | None]:
    value = raw.strip()
    if value.isascii() and value.isdigit() and int(value) > 0:
        return int(value), None
    return None, f"The link's {name} {raw!r} is not a {name} number."


def parse_deep_link(query: str | Mapping[str, list[str]] | None) -> DeepLink:
    """Read a query string (with or without the leading ``?``).

    Never raises: a bad value becomes a sentence in ``problems``. When a
    parameter is repeated the first one counts; an empty one is ignored.
    """
    if query is None:
        return DeepLink()
    if isinstance(query, str):
        values = parse_qs(query.removeprefix("?"), keep_blank_values=True)
    else:
        values = dict(query)

    def first(name: str) -> str | None:
        given = [v for v in values.get(name, []) if v != ""]
        return given[0] if given else None

    problems = []
    scene_id = task_id = None
    if (raw := first("scene")) is not None:
        scene_id, problem = _parse_id("scene", raw)
        problems += [problem] if problem else []
    if (raw := first("task")) is not None:
        task_id, problem = _parse_id("task", raw)
        problems += [problem] if problem else []
    return DeepLink(first("collection"), scene_id, task_id, tuple(problems))


def link_for(
    *,
    collection: str | None = None,
    scene_id: int | None = None,
    task_id: int | None = None,
    base: str = "",
) -> str:
    """The address that opens the given target: ``base`` + ``?...``.

    With the default empty ``base`` the link is relative to the current page.
    """
    pairs = [
        (name, value)
        for name, value in zip(PARAMS, (collection, scene_id, task_id), strict=True)
        if value is not None
    ]
    if not pairs:
        return base or "?"
    return f"{base}?{urlencode(pairs)}"


def current_link(environ: Mapping[str, str] | None = None) -> DeepLink:
    """The deep link of the Voila page this kernel serves (empty elsewhere)."""
    env = os.environ if environ is None else environ
    return parse_deep_link(env.get("QUERY_STRING"))

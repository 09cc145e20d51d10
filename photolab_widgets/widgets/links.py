"""Deep links: the page's address opens a collection, a scene or a task.

``?collection=summer`` opens the Scenes tab on that collection, ``?scene=12``
opens scene 12 and ``?task=345`` opens the Tasks tab on task 345. Voila hands
the page's query string to the kernel in the ``QUERY_STRING`` environment
variable; :func:`current_link` reads it there. Other parameters (Voila's own
``token``, ``theme``, ``template``) are ignored.

Where the views' links point
----------------------------
Each view offers a link to what it shows (the gallery's detail panel
``?task=``, a scene card ``?scene=``, the scene board and the Generate panel
``?collection=``). :func:`link_base` decides where they point:

- On the Voila page they are relative (``?scene=12``): the browser resolves
  them against the page it is on, so they stay right behind a reverse proxy
  or under a JupyterHub prefix that the kernel cannot see.
- In JupyterLab a relative link would resolve against the lab's own address
  and open the notebook in the lab, not the app, so no link is shown, unless
  ``PHOTOLAB_APP_URL`` names the team's app page; then links are absolute
  from it (``https://studio.internal/photolab/?scene=12``). The same holds
  for views a researcher builds in a notebook of their own.
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

#: The query parameters a deep link uses, in the order they are written.
PARAMS = ("collection", "scene", "task")
#: The address of the team's app page, for links shown outside it (JupyterLab).
APP_URL_ENV = "PHOTOLAB_APP_URL"


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
    A ``base`` that has a query already (``...?token=abc``) keeps it.
    """
    pairs = [
        (name, value)
        for name, value in zip(PARAMS, (collection, scene_id, task_id), strict=True)
        if value is not None
    ]
    if not pairs:
        return base or "?"
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}{urlencode(pairs)}"


def app_url(environ: Mapping[str, str] | None = None) -> str | None:
    """``PHOTOLAB_APP_URL``: the team's app page, or ``None`` when unset.

    A view built outside the app (``TaskGallery(studio)`` in a notebook) links
    there when it is set, and shows no link otherwise.
    """
    env = os.environ if environ is None else environ
    return env.get(APP_URL_ENV, "").strip() or None


def link_base(environ: Mapping[str, str] | None = None) -> str | None:
    """Where the app page's links point from this kernel; ``None``: show none.

    ``""`` (relative links) on a Voila page, which Voila marks with
    ``SERVER_SOFTWARE=voila/...``; else :func:`app_url`, because a relative
    link in JupyterLab would open the lab.
    """
    env = os.environ if environ is None else environ
    if env.get("SERVER_SOFTWARE", "").startswith("voila/"):
        return ""
    return app_url(env)


def link_html(
    base: str | None,
    text: str,
    *,
    collection: str | None = None,
    scene_id: int | None = None,
    task_id: int | None = None,
) -> str:
    """An escaped ``<a>`` to the target, opening a new tab; ``""`` without a base.

    A new tab keeps the page the researcher is working on (and its unsaved
    edits); copying the link's address gives a teammate the same view.
    """
    if base is None:
        return ""
    href = link_for(
        collection=collection, scene_id=scene_id, task_id=task_id, base=base
    )
    return (
        f"<a class='photolab-deep-link' href='{html.escape(href, quote=True)}' "
        "target='_blank' rel='noopener' "
        "title='Opens in a new tab; copy the address to share it'>"
        f"🔗 {html.escape(text)}</a>"
    )


def current_link(environ: Mapping[str, str] | None = None) -> DeepLink:
    """The deep link of the Voila page this kernel serves (empty elsewhere)."""
    env = os.environ if environ is None else environ
    return parse_deep_link(env.get("QUERY_STRING"))

"""The app page: a title, one tab per view and deep links, as served by Voila.

:func:`open_app` is what ``notebooks/app.ipynb`` calls: it connects, reads the
page's deep link and builds the page, and when the database cannot be used it
shows one plain sentence instead of a traceback (Voila hides tracebacks, and a
driver's error text may quote the database URL). :func:`build_app` composes
the views for a studio you already have, in a notebook for instance.

Deep links
----------
``?task=`` selects the Tasks tab, ``?scene=`` and ``?collection=`` the Scenes
tab (see :mod:`.links`). The app checks that the target exists and says so in
a notice above the tabs, then hands the link to the tab's view: a view with a
public ``open_link(link)`` method follows it itself (the scene board shows
the collection, or the page holding the scene), and the gallery opens the
task's detail panel through ``select(task_id)``, as its Details button does.
"""

from __future__ import annotations

import html
import logging
import sys
from typing import Any

import ipywidgets as w

from ..health import DatabaseUnavailable, scrub, scrubbed_traceback
from ..studio import Studio, connect
from . import links
from .gallery import TaskGallery
from .generate import GeneratePanel
from .links import DeepLink, current_link
from .scene import SceneBoard
from .style import notice, style_widget

log = logging.getLogger(__name__)

TITLE = "Photolab studio"
SUBTITLE = "Render tasks, generate a collection for a person, edit scenes."
TABS = ("Tasks", "Generate", "Scenes")


def _header() -> list[w.Widget]:
    title = w.HTML(f"<h2 class='photolab-title'>{html.escape(TITLE)}</h2>")
    subtitle = w.HTML(f"<div class='photolab-subtitle'>{html.escape(SUBTITLE)}</div>")
    return [style_widget(), title, subtitle]


class AppPage(w.VBox):
    """The title, a notice area and one tab per view.

    Attributes
    ----------
    studio:
        The studio the views read from.
    tabs:
        The :class:`ipywidgets.Tab` that navigates between the views.
    views:
        Tab title to view, in tab order.
    link_notice:
        :class:`ipywidgets.HTML` saying what the page's deep link opened, or
        why it opened nothing; empty without a link.
    """

    def __init__(self, studio: Studio, views: dict[str, w.Widget]) -> None:
        self.studio = studio
        self.views = views
        self.tabs = w.Tab(children=list(views.values()))
        self.tabs.titles = tuple(views)
        self.link_notice = w.HTML()
        self.link_notice.add_class("photolab-link")
        super().__init__(
            [*_header(), self.link_notice, self.tabs], layout=w.Layout(width="100%")
        )
        self.add_class("photolab-app")

    def close(self) -> None:
        """Close the page and every widget under it (views, layouts, styles).

        Re-running the app cell in JupyterLab would otherwise leave the old
        page's widget models alive in the kernel.
        """
        close_tree(self, keep_self=True)
        super().close()

    def show(self, tab: str) -> None:
        """Switch to the tab titled ``tab`` (``Tasks``, ``Generate``, ``Scenes``)."""
        self.tabs.selected_index = list(self.views).index(tab)

    def open_link(self, link: DeepLink) -> None:
        """Select the link's tab, hand the link to its view, say what happened."""
        messages = list(link.problems)
        try:
            found, sentence = _find_target(self.studio, link)
            if found and link.tab is not None:
                self.show(link.tab)
                _hand_to_view(self.views[link.tab], link)
        except Exception:
            log.exception("could not follow the link %r", link)
            found, sentence = False, "The link could not be followed just now."
        messages.append(sentence)
        kind = "info" if found and not link.problems else "warning"
        self.link_notice.value = notice(" ".join(messages), kind)


def build_app(
    studio: Studio, link: DeepLink | None = None, *, link_base: str | None = None
) -> AppPage:
    """Compose the Tasks, Generate and Scenes views under one title.

    Parameters
    ----------
    studio:
        The connected studio every view reads from.
    link:
        What the page's address asks to open; ``None`` or an empty link opens
        the first tab.
    link_base:
        Where the views' own links point (``""``: relative to the page, as on
        the Voila app; an app address; ``None``: ``PHOTOLAB_APP_URL`` or no
        links). :func:`open_app` passes :func:`.links.link_base`.
    """
    link = DeepLink() if link is None else link
    views = {
        "Tasks": TaskGallery(studio, link_base=link_base),
        "Generate": GeneratePanel(studio, link_base=link_base),
        "Scenes": SceneBoard(studio, link_base=link_base),
    }
    page = AppPage(studio, views)
    if link or link.problems:
        page.open_link(link)
    return page


def _find_target(studio: Studio, link: DeepLink) -> tuple[bool, str]:
    """Whether the link's target exists, and a sentence saying so."""
    if link.task_id is not None:
        if not studio.tasks_by_id([link.task_id]):
            return False, f"Task {link.task_id} does not exist."
        return True, f"Opened task {link.task_id} from the link."
    if link.scene_id is not None:
        if studio.scene(link.scene_id) is None:
            return False, f"Scene {link.scene_id} does not exist."
        return True, f"Opened scene {link.scene_id} from the link."
    if link.collection is not None:
        if link.collection not in studio.collections():
            return False, f"No scene belongs to a collection named {link.collection!r}."
        return True, f"Opened collection {link.collection!r} from the link."
    return False, "The link names nothing to open."


def close_tree(widget: w.Widget, keep_self: bool = False) -> None:
    """Close ``widget``, its descendants, and their layout and style models.

    The widget first: a view's own ``close()`` stops its background threads,
    which must not draw into children already closed.
    """
    children = tuple(getattr(widget, "children", ()))
    if not keep_self:
        widget.close()
    for child in children:
        close_tree(child)
    for name in ("layout", "style"):
        part = getattr(widget, name, None)
        if isinstance(part, w.Widget):
            part.close()


def _hand_to_view(view: Any, link: DeepLink) -> None:
    """Let the view show the link's target through its own public action."""
    open_link = getattr(view, "open_link", None)
    if callable(open_link):  # SceneBoard: the collection, or the scene's page
        open_link(link)
    elif isinstance(view, TaskGallery) and link.task_id is not None:
        view.select(link.task_id)  # the detail panel, as a card's button does


def error_page(message: str) -> w.VBox:
    """The page shown when the app cannot start: the title and one sentence."""
    page = w.VBox([*_header(), w.HTML(notice(message, "error"))])
    page.add_class("photolab-app")
    page.add_class("photolab-app-error")
    return page


def open_app(link: DeepLink | None = None, **overrides: Any) -> w.VBox:
    """Connect with the ``PHOTOLAB_*`` settings and build the page.

    ``link`` defaults to the Voila page's own (``QUERY_STRING``); keywords go
    to :func:`photolab_widgets.connect`. The views offer links to what they
    show where :func:`.links.link_base` says links work. Never raises: a
    failure becomes :func:`error_page` with one sentence that names no password.
    """
    log_to_server()
    link = current_link() if link is None else link
    try:
        studio = connect(**overrides)
    except DatabaseUnavailable as exc:
        log.warning("the app cannot start: %s", exc)
        return error_page(f"{exc} Whoever runs this page can fix the settings.")
    except Exception as exc:
        log.error("the app cannot start:\n%s", _scrubbed(exc, overrides))
        return error_page("The app could not start; the server's log says why.")
    return build_app(studio, link, link_base=links.link_base())


def _scrubbed(exc: BaseException, overrides: dict[str, Any]) -> str:
    from ..config import Settings

    settings = Settings.from_env(**overrides)
    urls = (settings.database_url, settings.broker_url, settings.result_backend)
    return scrubbed_traceback(exc, *urls)


class _ScrubbingFormatter(logging.Formatter):
    """Masks the configured services' passwords in every formatted record."""

    def __init__(self, urls: tuple[str, ...]) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.urls = urls

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record), *self.urls)


def log_to_server() -> None:
    """Send this package's log records to the kernel's own stderr, once.

    In a kernel ``sys.stderr`` is the notebook output: a logged error would
    land on the page as red text. ``sys.__stderr__`` is the process's stderr,
    which Voila's and JupyterLab's server logs collect. Nothing is added when
    logging is already configured (handlers on the root or package logger).
    """
    from ..config import Settings

    package = logging.getLogger("photolab_widgets")
    if package.handlers or logging.getLogger().handlers or sys.__stderr__ is None:
        return
    try:
        settings = Settings.from_env()
        urls = (settings.database_url, settings.broker_url, settings.result_backend)
    except Exception:  # noqa: BLE001 - a bad setting must not stop logging
        urls = ()
    handler = logging.StreamHandler(sys.__stderr__)
    handler.setFormatter(_ScrubbingFormatter(urls))
    package.addHandler(handler)
    package.setLevel(logging.INFO)

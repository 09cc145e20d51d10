"""The app page: a title and one tab per view, as served by Voila."""

from __future__ import annotations

import html

import ipywidgets as w

from ..studio import Studio
from .gallery import TaskGallery
from .generate import GeneratePanel
from .scene import SceneBoard

TITLE = "Photolab studio"


def _not_yet(name: str) -> w.Widget:
    # The view's module does not exist yet; the tab says so instead of failing.
    return w.HTML(f"<p><em>{html.escape(name)} is not built yet.</em></p>")


def build_app(studio: Studio) -> w.VBox:
    """Compose the Tasks, Generate and Scenes views under one title."""
    header = w.HTML(
        f"<h2 class='photolab-title'>{html.escape(TITLE)}</h2>",
        layout=w.Layout(margin="0 0 8px 0"),
    )
    views = {
        "Tasks": TaskGallery(studio),
        "Generate": GeneratePanel(studio),
        "Scenes": SceneBoard(studio),
    }
    tabs = w.Tab(children=list(views.values()))
    tabs.titles = tuple(views)
    app = w.VBox([header, tabs], layout=w.Layout(width="100%"))
    app.add_class("photolab-app")
    return app

"""Jupyter widgets for the photo studio.

The data and dispatch layers import no widget code; the widgets are loaded on
first access so ``import photolab_widgets`` stays light and offline.
"""

from __future__ import annotations

from typing import Any

from .config import Settings
from .images import image_url
from .studio import Studio, connect

__all__ = [
    "GeneratePanel",
    "SceneBoard",
    "SceneCard",
    "Settings",
    "Studio",
    "TaskGallery",
    "connect",
    "image_url",
]

_WIDGETS = {
    "TaskGallery": "photolab_widgets.widgets.gallery",
    "GeneratePanel": "photolab_widgets.widgets.generate",
    "SceneCard": "photolab_widgets.widgets.scene",
    "SceneBoard": "photolab_widgets.widgets.scene",
}


def __getattr__(name: str) -> Any:
    if name in _WIDGETS:
        import importlib

        return getattr(importlib.import_module(_WIDGETS[name]), name)
    raise AttributeError(f"module 'photolab_widgets' has no attribute {name!r}")

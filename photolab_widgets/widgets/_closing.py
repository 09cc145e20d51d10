"""Closing a widget together with everything it owns."""

from __future__ import annotations

import ipywidgets as w


def close_deep(widget: w.Widget) -> None:
    """Close ``widget``, every widget inside it, and their layout and style models.

    ``Widget.close()`` closes one model: a Button leaves its Layout and
    ButtonStyle open, a Box its children, an ipytree Node its child nodes. A
    view that replaces its cards page after page would keep all of those alive
    in the kernel and the browser for as long as the page is open. This walks
    ``children`` (boxes) and ``nodes`` (ipytree) and closes the lot, using the
    plain ``Widget.close`` so that composite widgets can call it from their own
    ``close`` without recursing.
    """
    seen: set[int] = set()
    stack = [widget]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        stack.extend(getattr(item, "children", None) or ())
        stack.extend(getattr(item, "nodes", None) or ())
        for part in (getattr(item, "layout", None), getattr(item, "style", None)):
            if isinstance(part, w.Widget):
                part.close()
        w.Widget.close(item)

"""Argument types the commands share (``argparse`` has no ranged integer)."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def whole_number(
    least: int = 1, most: int | None = None, noun: str = "count"
) -> Callable[[str], int]:
    """An argparse ``type``: a whole number from ``least`` to ``most`` (if given).

    Anything else is a usage error naming the bounds, e.g. ``'0' is not a port
    (1 to 65535)``.
    """
    bounds = f"{least} to {most}" if most is not None else f"{least} or more"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < least or (most is not None and value > most):
            raise argparse.ArgumentTypeError(f"{text!r} is not a {noun} ({bounds})")
        return value

    return parse


#: A TCP port to listen on.
port_number = whole_number(1, 65535, "port")

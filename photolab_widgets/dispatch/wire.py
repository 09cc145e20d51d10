"""Read the task messages waiting on the broker, exactly as they are stored.

The tests check the canvas on what was really published, and the benchmark
counts the bytes the broker holds. Both brokers keep each message as the same
JSON envelope (headers, properties and a base64 body): kombu's filesystem
transport as one file per message, Redis as one list item per message.
Nothing is consumed.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from .app import DEFAULT_QUEUE, is_embedded_broker


@dataclass(frozen=True)
class WireMessage:
    """One published task message.

    ``size`` is the number of bytes the broker stores for it; ``embed`` is
    Celery's canvas part of the body (``callbacks``, ``errbacks``, ``chain``,
    ``chord``).
    """

    task: str
    id: str
    args: list[Any]
    kwargs: dict[str, Any]
    embed: dict[str, Any]
    headers: dict[str, Any]
    size: int

    @classmethod
    def decode(cls, raw: bytes) -> WireMessage:
        envelope = json.loads(raw)
        body = envelope["body"]
        if envelope.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args, kwargs, embed = json.loads(body)
        headers = envelope.get("headers") or {}
        return cls(
            task=headers.get("task", ""),
            id=headers.get("id", ""),
            args=args,
            kwargs=kwargs,
            embed=embed or {},
            headers=headers,
            size=len(raw),
        )


def queued_messages(
    settings: Settings, queue: str = DEFAULT_QUEUE
) -> list[WireMessage]:
    """The messages waiting in ``queue``, oldest first."""
    return [WireMessage.decode(raw) for raw in queued_payloads(settings, queue)]


def queued_payloads(settings: Settings, queue: str = DEFAULT_QUEUE) -> list[bytes]:
    """The raw stored bytes of each waiting message, oldest first."""
    if is_embedded_broker(settings.broker_url):
        folder = settings.broker_folder / "queue"
        if not folder.is_dir():
            return []
        suffix = f".{queue}.msg"
        files = sorted(
            p for p in folder.iterdir() if p.name.partition(".")[2] == suffix[1:]
        )
        return [p.read_bytes() for p in files]
    if settings.broker_url.startswith(("redis://", "rediss://")):
        import redis

        client = redis.Redis.from_url(settings.broker_url)
        try:
            # kombu pushes on the left and pops on the right: oldest is last.
            items: list[bytes] = client.lrange(queue, 0, -1)  # type: ignore[assignment]
        finally:
            client.close()
        return list(reversed(items))
    raise ValueError(f"cannot read messages from {settings.broker_url.split(':')[0]}")


def purge(settings: Settings, queue: str = DEFAULT_QUEUE) -> None:
    """Drop every message waiting in ``queue`` (benchmark and test clean-up)."""
    if is_embedded_broker(settings.broker_url):
        for path in (settings.broker_folder / "queue").glob(f"*.{queue}.msg"):
            path.unlink(missing_ok=True)
        return
    import redis

    client = redis.Redis.from_url(settings.broker_url)
    try:
        client.delete(queue)
    finally:
        client.close()

"""The tables: the studio's existing ``scenes``, and the toolkit's own.

``scenes`` belongs to the studio and already exists in production; the model
mirrors its columns exactly (names, types, nullability, comments) and the
toolkit never alters it. Its index on ``collection_name`` is only created
where the toolkit creates the table itself (the demo database); an existing
table is left as it is. ``users`` and ``tasks`` belong to the toolkit.

Tasks refer to users and scenes by plain indexed ids, without foreign-key
constraints: ``scenes`` is not ours to constrain, and a task must outlive a
deleted person or scene (the views then show the id and "unknown").
"""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from . import jsondoc

ACTION_TYPE_COMMENT = (
    "type包括mj,reface,sd等。如果是mj，直接调用prompt生成图片；"
    "如果是reface，直接与上传的头像图片进行换脸"
)
IMG_TYPE_COMMENT = "图片类型，包括男生、女生、多人、猫、狗"
RATE_COMMENT = "推荐评分，从0-10分，可以有小数点"

#: The documented range of ``scenes.rate``.
RATE_MIN = 0.0
RATE_MAX = 10.0

# Text columns hold Chinese and emoji: utf8mb4 on MySQL/MariaDB.
_MYSQL_TABLE = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}

# JSON that keeps Python None as SQL NULL (not the JSON text ``null``).
NullableJSON = JSON(none_as_null=True)

# Long text for error messages: TEXT is 64 KB on MySQL, tracebacks can be more.
LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


def utcnow() -> datetime:
    """Naive UTC: MySQL DATETIME has no zone, so every timestamp is UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def dumps(value: Any) -> str:
    """JSON text as stored: characters as themselves, never ``\\u`` escapes.

    Except half of a character (a lone surrogate, written by another tool):
    no UTF-8 column holds it, so it stays an escape and reads back the same.
    """
    return jsondoc.escape_surrogates(json.dumps(value, ensure_ascii=False))


class Base(DeclarativeBase):
    pass


class Scene(Base):
    """A row of the studio's ``scenes`` table (not created or altered by us)."""

    __tablename__ = "scenes"
    __table_args__ = (
        Index("ix_scenes_collection_name", "collection_name"),
        _MYSQL_TABLE,
    )

    scene_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    img_url: Mapped[str | None] = mapped_column(String(2000))
    prompt: Mapped[str | None] = mapped_column(Text)
    action_type: Mapped[str] = mapped_column(
        String(255), nullable=False, comment=ACTION_TYPE_COMMENT
    )
    img_type: Mapped[str] = mapped_column(
        String(255), nullable=False, comment=IMG_TYPE_COMMENT
    )
    rate: Mapped[float | None] = mapped_column(Float, comment=RATE_COMMENT)
    name: Mapped[str | None] = mapped_column(String(255))
    base_img_key: Mapped[str | None] = mapped_column(String(2550))
    hint_img_list: Mapped[Any] = mapped_column(NullableJSON, nullable=True)
    setup_status: Mapped[str | None] = mapped_column(String(255))
    roi_list: Mapped[Any] = mapped_column(NullableJSON, nullable=True)
    model_name: Mapped[str | None] = mapped_column(String(2550))
    negative_prompt: Mapped[str | None] = mapped_column(Text)
    params: Mapped[Any] = mapped_column(NullableJSON, nullable=True)
    collection_name: Mapped[str | None] = mapped_column(String(255))
    tags: Mapped[str | None] = mapped_column(String(255))

    @property
    def pose_img_key(self) -> str | None:
        """The pose image: the first key of ``hint_img_list``, if any."""
        hints = self.hint_img_list
        if isinstance(hints, list) and hints and isinstance(hints[0], str):
            return hints[0] or None
        return None

    def __repr__(self) -> str:
        return f"<Scene {self.scene_id} {self.collection_name!r}>"


class User(Base):
    """A person tasks are generated for."""

    __tablename__ = "users"
    __table_args__ = (_MYSQL_TABLE,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.name!r}>"


class TaskStatus(enum.StrEnum):
    """Where a task is in its life.

    ::

        pending ──send──> queued ──set_up_scene──> set_up
           │                 │                       │
           │                 └───worker claims───┬───┘
           │                                     v
           │                                  running ──> done
           │                                     └──────> failed
           └─broker down─> undispatched     (stale: running too long, no worker)
        pending/queued/set_up/undispatched ──cancel──> cancelled
        failed/cancelled/undispatched/stale ──retry──> pending ──send──> ...

    ``set_up`` means the task's scene has been set up and the task waits for
    its render; the Generate panel counts it as "scene set up".
    """

    PENDING = "pending"
    QUEUED = "queued"
    SET_UP = "set_up"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNDISPATCHED = "undispatched"
    STALE = "stale"

    @property
    def finished(self) -> bool:
        return self in FINISHED_STATUSES


FINISHED_STATUSES = frozenset(
    {
        TaskStatus.DONE,
        TaskStatus.FAILED,
        TaskStatus.CANCELLED,
        TaskStatus.UNDISPATCHED,
        TaskStatus.STALE,
    }
)


class Batch(Base):
    """One press of Generate: the tasks it created and the Celery work it sent."""

    __tablename__ = "batches"
    __table_args__ = (_MYSQL_TABLE,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    collection_name: Mapped[str] = mapped_column(String(255), nullable=False)
    person_id: Mapped[int] = mapped_column(Integer, nullable=False)
    task_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    status: Mapped[str] = mapped_column(String(32), nullable=False, default="new")
    celery_id: Mapped[str | None] = mapped_column(String(155))
    error: Mapped[str | None] = mapped_column(LongText)
    created_at: Mapped[datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow, onupdate=utcnow
    )


class Task(Base):
    """One render of one scene for one person."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_scene_id", "scene_id"),
        Index("ix_tasks_collection_id", "collection_name", "id"),
        Index("ix_tasks_person_id", "person_id", "id"),
        Index("ix_tasks_status_id", "status", "id"),
        Index("ix_tasks_batch_id", "batch_id"),
        Index("ix_tasks_created_at", "created_at"),
        _MYSQL_TABLE,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(Integer, nullable=False)
    scene_id: Mapped[int] = mapped_column(Integer, nullable=False)
    collection_name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(
        String(32), nullable=False, default=TaskStatus.PENDING.value
    )
    result_img_key: Mapped[str | None] = mapped_column(String(2550))
    error: Mapped[str | None] = mapped_column(LongText)
    batch_id: Mapped[int | None] = mapped_column(Integer)
    celery_id: Mapped[str | None] = mapped_column(String(155))
    created_at: Mapped[datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow, onupdate=utcnow
    )

    def __repr__(self) -> str:
        return f"<Task {self.id} scene={self.scene_id} {self.status}>"


__all__ = [
    "Base",
    "Batch",
    "FINISHED_STATUSES",
    "RATE_MAX",
    "RATE_MIN",
    "Scene",
    "Task",
    "TaskStatus",
    "User",
]

"""Small helpers that put rows in a studio's database for a test."""

from __future__ import annotations

from typing import Any

from photolab_widgets import Studio
from photolab_widgets.models import Scene, Task, User


def add_user(studio: Studio, name: str = "Ada") -> int:
    with studio.session() as s:
        user = User(name=name)
        s.add(user)
        s.flush()
        return user.id


def add_scene(studio: Studio, **fields: Any) -> int:
    values: dict[str, Any] = {"action_type": "sd", "img_type": "woman"}
    values.update(fields)
    with studio.session() as s:
        scene = Scene(**values)
        s.add(scene)
        s.flush()
        return scene.scene_id


def add_scenes(
    studio: Studio, collection: str, n: int, prompt: str | None = None
) -> list[int]:
    """``n`` scenes in ``collection``, prompts ``"<prompt> 0"``, ``"<prompt> 1"``...

    The prompt defaults to the collection's name, so a worker's log tells the
    scenes of one test apart.
    """
    word = collection if prompt is None else prompt
    return [
        add_scene(studio, collection_name=collection, prompt=f"{word} {i}")
        for i in range(n)
    ]


def add_task(studio: Studio, scene_id: int, person_id: int, **fields: Any) -> int:
    with studio.session() as s:
        scene = s.get(Scene, scene_id)
        task = Task(
            scene_id=scene_id,
            person_id=person_id,
            collection_name=scene.collection_name if scene else None,
            **fields,
        )
        s.add(task)
        s.flush()
        return task.id

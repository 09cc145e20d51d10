"""The Scene edit view: a card per scene, and a board of cards a page at a time.

A card is one full-width row: the base picture at the far left, the pose
picture next to it when the scene has one, then the scene's facts (id,
collection, name, prompt) and its params, the rate with − and +, and on the
right the scene's tasks as a strip of thumbnails with their status.

What a card costs
-----------------
Every widget is a model the kernel and the browser keep in step, and a Button
or HTML is three of them (itself, its layout, its style). Pictures, facts and
tasks are therefore escaped markup in three ``HTML`` widgets, and the params
editor (an ipytree node per JSON value, plus its form and raw text: about 45
models and one per value) is built only when the researcher presses *Edit
params*; until then the card shows the params as read-only text. A closed card
is 30 models whatever its params. Closing an editor, a card or a board's page
closes every model it made (:func:`._closing.close_deep`).

Saving is safe for two researchers on one scene: the save compares the row
with the params the editor loaded and is refused when someone else saved in
between (see :mod:`photolab_widgets.edits`); Reload then fetches their version.
Rate clicks are one atomic ``UPDATE`` each; the card shows the value the
database holds afterwards.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w

from .. import jsondoc
from ..edits import ParamsConflict, SceneNotFound
from ..images import browser_src
from ..models import RATE_MAX, RATE_MIN, Scene
from ..queries import SceneWithTasks, TaskRow
from ..studio import Studio
from ._closing import close_deep
from .json_editor import JsonEditor
from .links import app_url, link_html

log = logging.getLogger(__name__)

PAGE_SIZE = 10
PICTURE_WIDTH = 150
TASK_THUMB_WIDTH = 84
#: Task thumbnails drawn per card; a scene rendered a thousand times shows
#: the newest ones and a count of the rest.
MAX_TASK_THUMBS = 24
PROMPT_FOLD = 220
#: Characters of params shown on a closed card. A 1 MB document would make
#: every page of the board megabytes of markup; the editor shows all of it.
PARAMS_PREVIEW_CHARS = 4_000
ALL_COLLECTIONS = "All collections"

CSS = """
<style>
.plw-scene-card { border: 1px solid #d0d7de; border-radius: 8px; padding: 8px;
  background: #fff; box-sizing: border-box; row-gap: 8px; }
.plw-scene-card.plw-linked { border-color: #2563eb; box-shadow: 0 0 0 2px #2563eb; }
.plw-pics { display: flex; gap: 6px; }
.plw-pics figure, .plw-tasks figure { margin: 0; text-align: center;
  font-size: 11px; color: #57606a; }
.plw-pics img { width: 150px; height: 200px; object-fit: contain; display: block;
  border-radius: 6px; background: #f3f4f6; }
.plw-ph { width: 150px; height: 200px; background: #f3f4f6; border-radius: 6px;
  display: flex; align-items: center; justify-content: center; color: #8c959f; }
.plw-facts { font-size: 13px; line-height: 1.45; overflow-wrap: anywhere; }
.plw-facts h4 { margin: 0 0 4px; font-size: 15px; }
.plw-facts .plw-prompt { white-space: pre-wrap; margin: 4px 0; }
.plw-facts summary { cursor: pointer; }
.plw-facts pre.plw-params { max-height: 11em; overflow: auto; margin: 4px 0 0;
  background: #f6f8fa; padding: 6px; font-size: 11px; white-space: pre-wrap; }
.plw-muted { color: #8c959f; font-style: italic; }
.plw-tasks { display: flex; flex-wrap: nowrap; gap: 6px; overflow-x: auto;
  padding-bottom: 4px; }
.plw-tasks img, .plw-tasks .plw-task-ph { width: 84px; height: 112px;
  object-fit: cover; border-radius: 4px; display: block; }
.plw-task-ph { background: #f3f4f6; display: flex; align-items: center;
  justify-content: center; color: #57606a; }
.plw-badge { display: inline-block; padding: 0 5px; border-radius: 8px;
  background: #eaeef2; color: #24292f; }
.plw-badge-done { background: #dafbe1; color: #116329; }
.plw-badge-failed, .plw-badge-stale, .plw-badge-undispatched {
  background: #ffebe9; color: #b42318; }
.plw-badge-pending, .plw-badge-queued, .plw-badge-running {
  background: #fff8c5; color: #7d4e00; }
.plw-rate { font-size: 15px; min-width: 5.5em; text-align: center; }
.plw-json-raw textarea { font-family: monospace; font-size: 12px; }
.plw-msg-info { color: #116329; }
.plw-msg-warning { color: #7d4e00; }
.plw-msg-error { color: #b42318; }
</style>
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _message(text: str, kind: str = "info") -> str:
    return f"<div class='plw-msg-{kind}'>{_e(text)}</div>" if text else ""


def pictures_html(studio: Studio, scene: Scene) -> str:
    """The base picture and, when the scene has one, the pose picture."""
    figures = [_figure(studio, scene.base_img_key, "base")]
    if scene.pose_img_key:
        figures.append(_figure(studio, scene.pose_img_key, "pose"))
    return f"<div class='plw-pics'>{''.join(figures)}</div>"


def _figure(studio: Studio, key: str | None, caption: str) -> str:
    src = browser_src(studio.image_url(key), width=PICTURE_WIDTH * 2)
    if src is None:
        picture = f"<div class='plw-ph'>no {caption} image</div>"
    else:
        picture = f"<img src='{_e(src)}' alt='{_e(caption)}' title='{_e(key)}'>"
    return f"<figure>{picture}<figcaption>{_e(caption)}</figcaption></figure>"


def facts_html(
    scene: Scene, *, show_params: bool = True, link_base: str | None = None
) -> str:
    """Id, collection, name and prompt (long prompts folded), and the params.

    With a ``link_base`` (see :func:`.links.link_base`) the title carries a
    link to the scene (``?scene=ID``).
    """
    title = f"Scene #{scene.scene_id}"
    if scene.name:
        title += f" · {scene.name}"
    collection = (
        _e(scene.collection_name)
        if scene.collection_name
        else "<span class='plw-muted'>no collection</span>"
    )
    parts = [
        f"<h4>{_e(title)} {link_html(link_base, 'link', scene_id=scene.scene_id)}</h4>",
        f"<div>collection: <b>{collection}</b></div>",
        _prompt_html(scene.prompt),
    ]
    if show_params:
        parts.append(params_html(scene.params))
    return f"<div class='plw-facts'>{''.join(parts)}</div>"


def _prompt_html(prompt: str | None) -> str:
    if not prompt:
        return "<div class='plw-prompt plw-muted'>no prompt</div>"
    if len(prompt) <= PROMPT_FOLD and prompt.count("\n") < 4:
        return f"<div class='plw-prompt'>{_e(prompt)}</div>"
    head = prompt[:PROMPT_FOLD].split("\n")[0]
    return (
        f"<details class='plw-prompt'><summary>{_e(head)}… "
        f"({len(prompt)} characters)</summary>{_e(prompt)}</details>"
    )


def params_html(params: Any) -> str:
    if params is None:
        return "<div>params: <span class='plw-muted'>empty (NULL)</span></div>"
    text = jsondoc.dumps(params)
    if len(text) <= PARAMS_PREVIEW_CHARS:
        return f"<pre class='plw-params'>{_e(text)}</pre>"
    rest = len(text) - PARAMS_PREVIEW_CHARS
    return (
        f"<pre class='plw-params'>{_e(text[:PARAMS_PREVIEW_CHARS])}\n"
        f"<span class='plw-muted'>… {rest:,} more characters; Edit params shows "
        "them all.</span></pre>"
    )


def tasks_html(studio: Studio, tasks: Sequence[TaskRow]) -> str:
    """The scene's tasks, newest first, as a horizontal strip of thumbnails."""
    if not tasks:
        return "<div class='plw-muted'>No tasks for this scene yet.</div>"
    shown = tasks[:MAX_TASK_THUMBS]
    figures = [_task_figure(studio, t) for t in shown]
    rest = len(tasks) - len(shown)
    if rest:
        figures.append(f"<div class='plw-muted'>and {rest} older</div>")
    head = f"<div>{len(tasks)} task{'s' if len(tasks) != 1 else ''}</div>"
    return f"{head}<div class='plw-tasks'>{''.join(figures)}</div>"


def _task_figure(studio: Studio, task: TaskRow) -> str:
    src = browser_src(studio.image_url(task.result_img_key), width=TASK_THUMB_WIDTH)
    person = task.person_name if task.person_name is not None else "unknown"
    hover = f"task {task.id} for {person} (#{task.person_id}): {task.status}"
    if task.error:
        hover += f"\n{task.error[:300]}"
    if src is None:
        picture = f"<div class='plw-task-ph'>{_e(task.status)}</div>"
    else:
        picture = f"<img src='{_e(src)}' alt='task {task.id}'>"
    badge = (
        f"<span class='plw-badge plw-badge-{_e(task.status)}'>{_e(task.status)}</span>"
    )
    return (
        f"<figure title='{_e(hover)}'>{picture}"
        f"<figcaption>#{task.id} {badge}</figcaption></figure>"
    )


def rate_html(rate: float | None) -> str:
    if rate is None:
        return "<div class='plw-rate'><span class='plw-muted'>unrated</span></div>"
    return f"<div class='plw-rate'><b>{rate:g}</b> / {RATE_MAX:g}</div>"


class SceneCard(w.HBox):
    """One scene as a row: pictures, facts, params, rate and tasks.

    Parameters
    ----------
    studio:
        The studio to read from and write to.
    scene_id:
        The scene shown. A missing scene gives a card that says so.
    data:
        The scene and its tasks when already loaded (the board passes them so
        a page costs three queries, not three per card).
    with_style:
        Include the card's CSS (a board includes it once for all its cards).
    link_base:
        Where the title's link to the scene (``?scene=ID``) points: ``""`` for
        a link relative to the page, or an app address; ``None``:
        ``PHOTOLAB_APP_URL``, or no link when it is unset (see :mod:`.links`).

    Attributes
    ----------
    scene : Scene or None
        A detached snapshot of the row, ``None`` when it does not exist.
    tasks : tuple of TaskRow
        The scene's tasks, newest first.
    rate_value : float or None
        The rate as the database last reported it.
    editor : JsonEditor or None
        The params editor while open (:meth:`edit`), else ``None``.
    minus_button, plus_button, edit_button : ipywidgets.Button
        − and + change the rate by 1; *Edit params* opens and closes the editor.
    save_button, revert_button, reload_button : ipywidgets.Button or None
        The editor's Save, Revert and Reload, while it is open.
    status : ipywidgets.HTML
        One plain sentence about the last action (saved, refused, failed).
    """

    def __init__(
        self,
        studio: Studio,
        scene_id: int,
        *,
        data: SceneWithTasks | None = None,
        with_style: bool = True,
        link_base: str | None = None,
    ) -> None:
        self.studio = studio
        self.link_base = app_url() if link_base is None else link_base
        self.scene_id = int(scene_id)
        self.scene: Scene | None = None
        self.tasks: tuple[TaskRow, ...] = ()
        self.rate_value: float | None = None
        self.editor: JsonEditor | None = None
        self.save_button: w.Button | None = None
        self.revert_button: w.Button | None = None
        self.reload_button: w.Button | None = None
        self._toolbar: w.HBox | None = None
        self._style = CSS if with_style else ""
        self._notice = ""

        self.pictures = w.HTML(layout=w.Layout(flex="0 0 auto"))
        self.facts = w.HTML()
        self.minus_button = w.Button(
            description="−", tooltip="Lower the rate by 1", layout=_small()
        )
        self.rate_label = w.HTML()
        self.plus_button = w.Button(
            description="+", tooltip="Raise the rate by 1", layout=_small()
        )
        self.edit_button = w.Button(
            description="Edit params", icon="pencil", layout=w.Layout(width="auto")
        )
        self.status = w.HTML()
        controls = w.HBox(
            [self.minus_button, self.rate_label, self.plus_button, self.edit_button],
            layout=w.Layout(align_items="center"),
        )
        # The row wraps where it is narrow (a notebook in JupyterLab): the
        # tasks go under the facts, then the facts under the pictures, so the
        # params editor keeps at least 360px instead of being squeezed.
        self.middle = w.VBox(
            [self.facts, controls, self.status],
            layout=w.Layout(flex="1 1 360px", min_width="0", padding="0 8px"),
        )
        self.task_strip = w.HTML(layout=w.Layout(flex="1 1 260px", min_width="0"))
        super().__init__(
            [self.pictures, self.middle, self.task_strip],
            layout=w.Layout(width="100%", margin="0 0 8px 0", flex_flow="row wrap"),
        )
        self.middle.add_class("plw-card-main")
        self.task_strip.add_class("plw-card-tasks")
        self.add_class("plw-scene-card")

        self.minus_button.on_click(lambda _b: self.rate(-1))
        self.plus_button.on_click(lambda _b: self.rate(+1))
        self.edit_button.on_click(lambda _b: self._toggle_editor())

        if data is None:
            data = self._fetch()
        self._show(data)

    # -- actions ----------------------------------------------------------

    def rate(self, delta: float) -> float | None:
        """Change the rate by ``delta`` (the − and + buttons send -1 and +1).

        Returns the rate the database holds afterwards, or ``None`` when the
        change failed (the status says why).
        """
        try:
            value = self.studio.bump_rate(self.scene_id, delta)
        except SceneNotFound:
            self._say("This scene no longer exists; the rate was not changed.", "error")
            return None
        except Exception as exc:
            log.exception("rate change of scene %s failed", self.scene_id)
            self._say(f"The rate could not be changed: {_short(exc)}", "error")
            return None
        self._show_rate(value)
        self._say("")
        return value

    def edit(self) -> JsonEditor | None:
        """Open the params editor (Save, Revert, Reload); returns it.

        ``None`` when it cannot open (the status says why).
        """
        if self.editor is not None or self.scene is None:
            return self.editor
        try:
            editor = JsonEditor(self.scene.params)
        except (RecursionError, jsondoc.JsonValueError) as exc:
            # Params the database holds but no editor can walk: nested
            # hundreds of levels deep, or not JSON an editor can store.
            log.warning("cannot edit the params of scene %s: %r", self.scene_id, exc)
            self._say(
                "These params cannot be opened in the editor (nested too deeply "
                "or not plain JSON); they are shown above as they are.",
                "error",
            )
            return None
        editor.on_change(self._on_editor_change)
        self.save_button = w.Button(
            description="Save", icon="save", button_style="primary", layout=_auto()
        )
        self.revert_button = w.Button(
            description="Revert",
            icon="undo",
            layout=_auto(),
            tooltip="Drop unsaved edits",
        )
        self.reload_button = w.Button(
            description="Reload",
            icon="refresh",
            layout=_auto(),
            tooltip="Load the params the database holds now (drops your edits)",
        )
        self.save_button.on_click(lambda _b: self.save())
        self.revert_button.on_click(lambda _b: self.revert())
        self.reload_button.on_click(lambda _b: self.reload())
        self._toolbar = w.HBox(
            [self.save_button, self.revert_button, self.reload_button]
        )
        self.editor = editor
        self.facts.value = self._style + self._facts(self.scene, show_params=False)
        facts, controls, status = self.middle.children[:3]
        self.middle.children = (facts, controls, editor, self._toolbar, status)
        self.edit_button.description = "Close editor"
        self.edit_button.icon = "times"
        return editor

    def close_editor(self, *, discard: bool = False) -> bool:
        """Close the editor; refused while it holds unsaved edits unless ``discard``."""
        editor = self.editor
        if editor is None:
            return True
        if (editor.dirty or editor.error) and not discard:
            self._say(
                "The params have unsaved edits: Save or Revert them first.", "warning"
            )
            return False
        facts, controls = self.middle.children[:2]
        self.middle.children = (facts, controls, self.status)
        if self._toolbar is not None:
            close_deep(self._toolbar)
        editor.close()
        self.editor = self._toolbar = None
        self.save_button = self.revert_button = self.reload_button = None
        self.edit_button.description = "Edit params"
        self.edit_button.icon = "pencil"
        if self.scene is not None:
            self.facts.value = self._style + self._facts(self.scene)
        self._say("")
        return True

    def save(self) -> bool:
        """Save the edited params; refused with a message when that is not safe.

        Not saved: a field or the raw text holds invalid input, or someone
        else saved this scene's params since they were loaded (then Reload
        shows theirs). Returns whether the database was written.
        """
        editor = self.editor
        if editor is None:
            return False
        if editor.error:
            self._say(f"Not saved: {editor.error} Fix it or press Revert.", "error")
            return False
        try:
            saved = self.studio.save_params(
                self.scene_id, editor.value, base=editor.base
            )
        except ParamsConflict:
            self._say(
                "Not saved: someone else changed this scene's params after you "
                "opened them. Your edits are still here (copy them from the raw "
                "text if you need them); press Reload to load the saved version.",
                "warning",
                notice="conflict",
            )
            self._mark_reload(True)
            return False
        except SceneNotFound:
            self._say("Not saved: this scene no longer exists.", "error")
            return False
        except jsondoc.JsonValueError as exc:
            self._say(f"Not saved: {exc}", "error")
            return False
        except Exception as exc:
            log.exception("saving the params of scene %s failed", self.scene_id)
            self._say(f"Not saved: {_short(exc)}", "error")
            return False
        if self.scene is not None:
            self.scene.params = saved
        editor.load(saved)
        self._mark_reload(False)
        self._say("Saved.")
        return True

    def revert(self) -> None:
        """Drop unsaved edits in the editor."""
        if self.editor is not None:
            self.editor.revert()
            self._say("Reverted to the params as loaded.")

    def reload(self) -> None:
        """Read the scene again and load its saved params into the editor.

        Drops the editor's unsaved edits: this is what a researcher presses
        after a refused save, to start again from the other person's version.
        """
        try:
            data = self._fetch()
        except Exception as exc:
            log.exception("reloading scene %s failed", self.scene_id)
            self._say(f"Could not reload: {_short(exc)}", "error")
            return
        self._show(data)
        if self.editor is not None and data is not None:
            self.editor.load(data.scene.params)
            self._mark_reload(False)
            self._say("Reloaded the params the database holds now.")

    def refresh(self) -> None:
        """Read the scene, its rate and its tasks again; open edits are kept."""
        try:
            self._show(self._fetch())
        except Exception as exc:
            log.exception("refreshing scene %s failed", self.scene_id)
            self._say(f"Could not refresh: {_short(exc)}", "error")

    def close(self) -> None:
        if self.editor is not None:
            self.editor.close()
        close_deep(self)

    # -- drawing ------------------------------------------------------------

    def _fetch(self) -> SceneWithTasks | None:
        return self.studio.scene(self.scene_id)

    def _show(self, data: SceneWithTasks | None) -> None:
        if data is None:
            self.scene, self.tasks = None, ()
            self.pictures.value = ""
            self.facts.value = self._style + (
                f"<div class='plw-facts'><h4>Scene #{self.scene_id}</h4>"
                "This scene does not exist (it may have been deleted).</div>"
            )
            self.task_strip.value = ""
            self.rate_label.value = ""
            for button in (self.minus_button, self.plus_button, self.edit_button):
                button.disabled = True
            return
        self.scene, self.tasks = data.scene, data.tasks
        self.pictures.value = pictures_html(self.studio, data.scene)
        self.facts.value = self._style + self._facts(
            data.scene, show_params=self.editor is None
        )
        self.task_strip.value = tasks_html(self.studio, data.tasks)
        self.edit_button.disabled = False
        self._show_rate(data.scene.rate)

    def _facts(self, scene: Scene, *, show_params: bool = True) -> str:
        return facts_html(scene, show_params=show_params, link_base=self.link_base)

    def _show_rate(self, rate: float | None) -> None:
        self.rate_value = rate
        if self.scene is not None:
            self.scene.rate = rate
        self.rate_label.value = rate_html(rate)
        level = RATE_MIN if rate is None else rate
        self.minus_button.disabled = level <= RATE_MIN
        self.plus_button.disabled = level >= RATE_MAX

    def _toggle_editor(self) -> None:
        if self.editor is None:
            self.edit()
        else:
            self.close_editor()

    def _on_editor_change(self, editor: JsonEditor) -> None:
        # A refused save's message stays until Reload; otherwise say whether
        # there is something to save.
        if self._notice == "conflict":
            return
        if editor.dirty:
            self._say("Unsaved edits.", "warning", notice="unsaved")
        elif self._notice == "unsaved":
            self._say("")

    def _mark_reload(self, needed: bool) -> None:
        if self.reload_button is not None:
            self.reload_button.button_style = "warning" if needed else ""

    def _say(self, text: str, kind: str = "info", *, notice: str = "") -> None:
        self._notice = notice
        self.status.value = _message(text, kind)


class SceneBoard(w.VBox):
    """The scenes of a collection (all scenes when none is chosen), a page at a time.

    A page is three queries whatever its size: the scenes, the tasks of all of
    them, and the count. Changing page or collection closes the old cards;
    it is refused while a card has unsaved params edits, so nothing typed is
    lost by a stray click.

    Parameters
    ----------
    studio:
        The studio to read from and write to.
    collection_name:
        The collection shown first; ``None`` for all scenes.
    page_size:
        Cards per page.
    link_base:
        Where the links to the collection (``?collection=NAME``, beside the
        position) and to each scene point, as for :class:`SceneCard`.

    Attributes
    ----------
    collection_name : str or None
        The collection shown.
    page : int
        The page shown, from 0.
    total : int
        Scenes in the collection.
    cards : list of SceneCard
        The cards on the page.
    collection_field : ipywidgets.Dropdown
        *All collections* first, then the distinct collection names.
    previous_button, next_button, refresh_button : ipywidgets.Button
    position, status : ipywidgets.HTML
        Which scenes are shown; a sentence about the last action.
    """

    def __init__(
        self,
        studio: Studio,
        collection_name: str | None = None,
        *,
        page_size: int = PAGE_SIZE,
        link_base: str | None = None,
    ) -> None:
        self.studio = studio
        self.link_base = app_url() if link_base is None else link_base
        self.page_size = max(1, int(page_size))
        self.page = 0
        self.total = 0
        self.cards: list[SceneCard] = []
        self._collections: list[str | None] = [None]
        self._quiet = False
        self._callbacks: list[Callable[[SceneBoard], None]] = []

        self.collection_field = w.Dropdown(
            description="Collection", layout=w.Layout(width="360px")
        )
        self.previous_button = w.Button(description="Previous", icon="arrow-left")
        self.next_button = w.Button(description="Next", icon="arrow-right")
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.position = w.HTML()
        self.status = w.HTML()
        self.cards_box = w.VBox(layout=w.Layout(width="100%"))
        bar = w.HBox(
            [
                self.collection_field,
                self.previous_button,
                self.position,
                self.next_button,
                self.refresh_button,
            ],
            layout=w.Layout(align_items="center", flex_flow="row wrap"),
        )
        super().__init__(
            [w.HTML(CSS), bar, self.status, self.cards_box],
            layout=w.Layout(width="100%"),
        )
        self.add_class("plw-scene-board")

        self.collection_field.observe(self._on_collection_field_change, "value")
        self.previous_button.on_click(lambda _b: self.previous_page())
        self.next_button.on_click(lambda _b: self.next_page())
        self.refresh_button.on_click(lambda _b: self.refresh())

        self.collection_name = collection_name
        self._safely(self._load_collections)
        self._safely(self._load)

    # -- actions ----------------------------------------------------------

    def show_collection(self, name: str | None, *, discard: bool = False) -> bool:
        """Show the first page of a collection (``None``: every scene)."""
        if not self._may_leave(discard):
            self._set_field(self.collection_name)
            return False
        self.collection_name = name
        self.page = 0
        if name not in self._collections:
            self._safely(self._load_collections)
        self._set_field(name)
        self._safely(self._load)
        return True

    def go_to_page(self, page: int, *, discard: bool = False) -> bool:
        """Show page ``page`` (from 0), clamped to the pages there are."""
        last = max(0, (self.total - 1) // self.page_size)
        page = min(max(0, int(page)), last)
        if page == self.page:
            return True
        if not self._may_leave(discard):
            return False
        self.page = page
        self._safely(self._load)
        return True

    def next_page(self) -> bool:
        return self.go_to_page(self.page + 1)

    def previous_page(self) -> bool:
        return self.go_to_page(self.page - 1)

    def refresh(self, *, discard: bool = False) -> bool:
        """Read the collections and the page again (refused over unsaved edits)."""
        if not self._may_leave(discard):
            return False
        self._safely(self._load_collections)
        self._safely(self._load)
        return True

    def show_scene(self, scene_id: int, *, discard: bool = False) -> bool:
        """Show the page of the scene's collection that holds the scene."""
        found = self.studio.scene(scene_id)
        if found is None:
            self.status.value = _message(f"Scene {scene_id} does not exist.", "error")
            return False
        collection = found.scene.collection_name
        if not self.show_collection(collection, discard=discard):
            return False
        offset = self.studio.scene_offset(scene_id, collection)
        if not self.go_to_page(offset // self.page_size, discard=discard):
            return False
        for card in self.cards:  # outlined until the page changes
            if card.scene_id == scene_id:
                card.add_class("plw-linked")
        return True

    def open_link(self, link: Any) -> None:
        """Follow an app deep link (its ``scene_id`` or ``collection``)."""
        scene_id = getattr(link, "scene_id", None)
        collection = getattr(link, "collection", None)
        if scene_id is not None:
            self.show_scene(scene_id)
        elif collection is not None:
            self.show_collection(collection)

    def on_page(self, callback: Callable[[SceneBoard], None]) -> None:
        """Call ``callback(board)`` after every page is drawn."""
        self._callbacks.append(callback)

    def close(self) -> None:
        for card in self.cards:
            card.close()
        self.cards = []
        self._callbacks.clear()
        close_deep(self)

    # -- loading ------------------------------------------------------------

    def _load_collections(self) -> None:
        names: list[str | None] = [None, *self.studio.collections()]
        if self.collection_name is not None and self.collection_name not in names:
            names.append(self.collection_name)
        self._collections = names
        labels = [ALL_COLLECTIONS, *(str(n) for n in names[1:])]
        self._quiet = True
        try:
            self.collection_field.options = [
                (label, i) for i, label in enumerate(labels)
            ]
            self.collection_field.value = names.index(self.collection_name)
        finally:
            self._quiet = False

    def _load(self) -> None:
        rows, total = self.studio.scenes(
            self.collection_name,
            offset=self.page * self.page_size,
            limit=self.page_size,
        )
        if not rows and total and self.page:
            self.page = max(0, (total - 1) // self.page_size)
            rows, total = self.studio.scenes(
                self.collection_name,
                offset=self.page * self.page_size,
                limit=self.page_size,
            )
        self.total = total
        old = self.cards
        self.cards = [
            SceneCard(
                self.studio,
                row.scene.scene_id,
                data=row,
                with_style=False,
                link_base=self.link_base,
            )
            for row in rows
        ]
        self.cards_box.children = tuple(self.cards)
        for card in old:
            card.close()
        self._draw_position()
        self.status.value = (
            "" if rows else _message("No scenes in this collection.", "warning")
        )
        for callback in list(self._callbacks):
            callback(self)

    def _draw_position(self) -> None:
        first = self.page * self.page_size
        shown = len(self.cards)
        if shown:
            text = f"Scenes {first + 1}–{first + shown} of {self.total}"
        else:
            text = "No scenes"
        link = ""
        if self.collection_name is not None:
            name = self.collection_name
            link = " " + link_html(
                self.link_base, "link to this collection", collection=name
            )
        self.position.value = f"<span>{_e(text)}</span>{link}"
        self.previous_button.disabled = self.page == 0
        self.next_button.disabled = first + shown >= self.total

    def _may_leave(self, discard: bool) -> bool:
        if discard:
            return True
        unsaved = [
            c.scene_id
            for c in self.cards
            if c.editor is not None and (c.editor.dirty or c.editor.error)
        ]
        if unsaved:
            ids = ", ".join(f"#{i}" for i in unsaved)
            self.status.value = _message(
                f"Scene {ids} has unsaved params edits: Save or Revert them "
                "before leaving this page.",
                "warning",
            )
        return not unsaved

    def _on_collection_field_change(self, change: dict[str, Any]) -> None:
        if self._quiet or change["new"] is None:
            return
        name = self._collections[change["new"]]
        if name != self.collection_name:
            self.show_collection(name)

    def _set_field(self, name: str | None) -> None:
        self._quiet = True
        try:
            self.collection_field.value = self._collections.index(name)
        finally:
            self._quiet = False

    def _safely(self, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception as exc:
            log.exception("the scene board could not load")
            self.status.value = _message(
                f"The scenes could not be loaded: {_short(exc)}", "error"
            )


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def _small() -> w.Layout:
    return w.Layout(width="36px")


def _auto() -> w.Layout:
    return w.Layout(width="auto")

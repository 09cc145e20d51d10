"""TaskGallery: every task as a card in two columns, newest first, a page at a time.

How it stays fast at 100,000 tasks
----------------------------------
A card built from widgets (a box, an image, labels, a button) costs about seven
widget models, and every model is a comm the browser must open: 10,000 such
cards took 10 s before anything showed. Here a card is one ``HTML`` widget (the
picture and the data panel as escaped markup) and one small ``Button`` in a
``VBox``, and all cards share one layout and one style object, so a card costs
three models. Only one page is built (``page_size`` cards, 20 by default and at
most 100), and the card widgets are reused from page to page: paging and
refreshing change the cards' ``value`` and create no widget at all. A page is
one query for its rows plus one count (:mod:`photolab_widgets.task_pages`
explains the keyset paging that keeps deep pages as fast as the first).

Why a button per card
---------------------
An ``HTML`` widget cannot send a click back to Python, and markup with
``onclick`` or ``<script>`` is a custom front end that Voila and JupyterLab
treat differently. A plain ``Button`` under each card works everywhere, costs
one model with the shared layout and style, and its click runs the same
:meth:`TaskGallery.select` a notebook calls.

Refreshing
----------
:meth:`TaskGallery.refresh` (and the Refresh button) reads the tasks on the
page again by id and rewrites only the cards whose task changed, so the page,
the filters and the scroll position stay; on the first page, when more tasks
match than before (a Generate), it reads the newest page again so they show at
the top. While a task on the page (or the
selected one) is unfinished, a background thread refreshes every
``refresh_interval`` seconds, backing off to ``max_refresh_interval`` while
nothing changes; it stops by itself when every task there is finished, and at
:meth:`TaskGallery.close`. Closing the gallery closes every widget it made.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import ipywidgets as w
from ipywidgets.widgets.widget_string import HTMLStyle

from ..health import DatabaseUnavailable
from ..images import browser_src
from ..models import FINISHED_STATUSES, TaskStatus
from ..queries import TaskFilter, TaskRow
from ..studio import Studio
from ..task_pages import FilterOptions, TaskDetail
from .links import app_url, link_html

log = logging.getLogger(__name__)

PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
THUMB_WIDTH = 360
DETAIL_WIDTH = 768
#: Characters of an error shown folded on a card; the detail panel shows more
#: and the CSV export has all of it. Tracebacks can run to megabytes.
CARD_ERROR_CHARS = 1_500
DETAIL_ERROR_CHARS = 20_000
ERROR_SUMMARY_CHARS = 120

_UNFINISHED = frozenset(s.value for s in TaskStatus) - {
    s.value for s in FINISHED_STATUSES
}
_ANY = "(any)"
# What "(any)" holds in each filter. Not None: ipywidgets takes a None value
# for "nothing selected" and blanks the box when a person picks "(any)".
# No collection is named "" (the choices leave it out) and ids start at 1.
ANY_COLLECTION = ""
ANY_PERSON = 0
ANY_STATUS = ""

_CSS = """
<style>
.plg-gallery { container-type: inline-size; }
.plg-gallery .plg-grid { align-items: start; }
/* Two columns of cards where they have room; one in a narrow window or side
   panel, or beside the detail panel when that leaves a column too little. */
@container (max-width: 600px) {
  .plg-gallery .plg-grid { grid-template-columns: minmax(0, 1fr) !important; }
}
@container (max-width: 1100px) {
  .plg-main.plg-with-detail .plg-grid {
    grid-template-columns: minmax(0, 1fr) !important; }
}
@container (max-width: 560px) {
  .plg-gallery .plg-main { flex-direction: column !important; }
  .plg-gallery .plg-main .plg-detail { width: 100% !important;
    flex: 0 0 auto !important; position: static; }
}
.plg-gallery .plg-download a { color: #0969da; text-decoration: underline; }
.plg-card { border: 1px solid #d0d7de; border-radius: 8px; padding: 8px;
  background: #fff; box-sizing: border-box; min-width: 0; }
.plg-card.plg-selected { border-color: #2563eb; box-shadow: 0 0 0 2px #2563eb; }
.plg-body { display: flex; gap: 10px; align-items: flex-start; }
.plg-body .plg-frame { flex: 0 0 40%; }
.plg-gallery .plg-body dl.plg-data { flex: 1 1 0; margin: 0; }
.plg-frame { aspect-ratio: 3 / 4; background: #f3f4f6; border-radius: 6px;
  display: flex; align-items: center; justify-content: center; overflow: hidden; }
.plg-frame img { width: 100%; height: 100%; object-fit: contain; display: block; }
.plg-ph { color: #57606a; text-align: center; padding: 16px; font-size: 13px;
  line-height: 1.4; overflow-wrap: anywhere; }
.plg-ph b { display: block; font-size: 15px; color: #24292f; margin-bottom: 4px; }
.plg-ph-failed b { color: #b42318; }
.plg-gallery dl.plg-data { display: grid;
  grid-template-columns: max-content minmax(0, 1fr);
  gap: 1px 10px; margin: 8px 0 0; font-size: 12px; line-height: 1.45; }
.plg-gallery dl.plg-data > dt { float: none; width: auto; color: #57606a;
  margin: 0; font-weight: 600; }
.plg-gallery dl.plg-data > dd { float: none; width: auto; margin: 0;
  overflow-wrap: anywhere; color: #24292f; }
.plg-muted { color: #8c959f; font-style: italic; }
.plg-badge { display: inline-block; padding: 0 6px; border-radius: 9px;
  font-size: 11px; background: #eaeef2; color: #24292f; }
.plg-badge-done { background: #dafbe1; color: #116329; }
.plg-badge-failed, .plg-badge-stale, .plg-badge-undispatched {
  background: #ffebe9; color: #b42318; }
.plg-badge-pending, .plg-badge-queued, .plg-badge-running {
  background: #fff8c5; color: #7d4e00; }
.plg-error summary { cursor: pointer; color: #b42318; overflow-wrap: anywhere; }
.plg-error pre { white-space: pre-wrap; overflow-wrap: anywhere; max-height: 14em;
  overflow: auto; background: #f6f8fa; padding: 6px; margin: 4px 0 0;
  font-size: 11px; }
.plg-detail { position: sticky; top: 8px; border: 1px solid #d0d7de;
  border-radius: 8px; padding: 10px; background: #fff; box-sizing: border-box; }
.plg-detail .plg-frame { aspect-ratio: auto; min-height: 240px; }
.plg-detail .plg-frame:has(img) { aspect-ratio: 3 / 4; max-height: 560px; }
.plg-detail h3 { margin: 0 0 8px; font-size: 16px; }
.plg-gallery .plg-detail dl.plg-data { font-size: 13px; }
.plg-detail .plg-error pre { max-height: 30em; }
.plg-position { font-size: 13px; color: #24292f; }
.plg-status-error { color: #b42318; }
</style>
"""


def _e(value: object) -> str:
    """Escape anything for HTML text or a quoted attribute."""
    return html.escape(str(value), quote=True)


def _when(value: datetime | None, *, seconds: bool = True) -> str:
    """Stored times are naive UTC (see models.utcnow); say so."""
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def _optional(value: str | None, missing: str = "none") -> str:
    if value is None or value == "":
        return f"<span class='plg-muted'>{_e(missing)}</span>"
    return _e(value)


def _person(row: TaskRow) -> str:
    if row.person_name is None:
        return f"<span class='plg-muted'>unknown person</span> (#{row.person_id})"
    return f"{_e(row.person_name)} (#{row.person_id})"


def _badge(status: str) -> str:
    return f"<span class='plg-badge plg-badge-{_e(status)}'>{_e(status)}</span>"


def _error(text: str | None, limit: int) -> str:
    """The error folded: its first line as the summary, the text when opened."""
    if not text:
        return ""
    first = text.strip().splitlines()[0] if text.strip() else "(blank error text)"
    if len(first) > ERROR_SUMMARY_CHARS:
        first = first[:ERROR_SUMMARY_CHARS] + "…"
    body = _e(text[:limit])
    if len(text) > limit:
        body += _e(f"\n… {len(text) - limit:,} more characters (the CSV has all).")
    return (
        f"<details class='plg-error'><summary>{_e(first)}</summary>"
        f"<pre>{body}</pre></details>"
    )


def _picture(row: TaskRow, src: str | None, *, alt: str) -> str:
    """The image, or a placeholder that says why there is none."""
    if src is not None:
        return f"<img src='{_e(src)}' alt='{_e(alt)}'>"
    key = (row.result_img_key or "").strip()
    if row.status in _UNFINISHED:
        title, note, kind = f"{row.status}…", "The picture shows when it is done.", ""
    elif row.status == TaskStatus.FAILED:
        title, note, kind = "Render failed", "See the error text.", "failed"
    elif row.status != TaskStatus.DONE:
        title, note, kind = row.status.capitalize(), "No picture was made.", ""
    elif not key:
        title, note, kind = "No image key", "The task finished without one.", ""
    else:
        title, note, kind = "Image not found", f"Key: {key}", "failed"
    # The class is one of ours, never the status: workers may write any text.
    return (
        f"<div class='plg-ph plg-ph-{kind or 'note'}'>"
        f"<b>{_e(title)}</b>{_e(note)}</div>"
    )


def render_card(row: TaskRow, src: str | None) -> str:
    """A card's markup: the picture and the data panel. Every value escaped."""
    error = ""
    if row.error:
        error = f"<dt>Error</dt><dd>{_error(row.error, CARD_ERROR_CHARS)}</dd>"
    return (
        "<div class='plg-body'><div class='plg-frame'>"
        f"{_picture(row, src, alt=f'task #{row.id}')}</div>"
        "<dl class='plg-data'>"
        f"<dt>Task</dt><dd>#{row.id}</dd>"
        f"<dt>Status</dt><dd>{_badge(row.status)}</dd>"
        f"<dt>Person</dt><dd>{_person(row)}</dd>"
        f"<dt>Scene</dt><dd>#{row.scene_id}</dd>"
        f"<dt>Collection</dt><dd>{_optional(row.collection_name)}</dd>"
        f"<dt>Created</dt><dd>{_e(_when(row.created_at, seconds=False))}</dd>"
        f"<dt>Updated</dt><dd>{_e(_when(row.updated_at, seconds=False))}</dd>"
        f"{error}</dl></div>"
    )


def render_gone_card(task_id: int) -> str:
    return (
        "<div class='plg-body'><div class='plg-frame'><div class='plg-ph'>"
        f"<b>Deleted</b>Task #{task_id} no longer exists.</div></div></div>"
    )


def render_detail(
    detail: TaskDetail,
    src: str | None,
    url: str | None,
    link_base: str | None = None,
) -> str:
    """The detail panel: the larger picture, every field, and a link to it."""
    row = detail.task
    if detail.scene_exists:
        scene = f"#{row.scene_id} {_optional(detail.scene_name, 'unnamed')}"
        prompt = _optional(detail.prompt)
    else:
        scene = f"#{row.scene_id} <span class='plg-muted'>(scene deleted)</span>"
        prompt = "<span class='plg-muted'>unknown</span>"
    link = "<span class='plg-muted'>none</span>"
    if url is not None and url.startswith("file:"):
        link = _e(url)  # the embedded store: no page served over HTTP opens it
    elif url is not None:
        link = f"<a href='{_e(url)}' target='_blank' rel='noopener'>{_e(url)}</a>"
    fields = [
        ("Status", _badge(row.status)),
        ("Person", _person(row)),
        ("Scene", scene),
        ("Prompt", prompt),
        ("Collection", _optional(row.collection_name)),
        ("Image key", _optional(row.result_img_key)),
        ("Image URL", link),
        ("Batch", _optional(None if row.batch_id is None else str(row.batch_id))),
        ("Celery id", _optional(detail.celery_id)),
        ("Created", _e(_when(row.created_at))),
        ("Updated", _e(_when(row.updated_at))),
    ]
    if row.error:
        fields.append(("Error", _error(row.error, DETAIL_ERROR_CHARS)))
    if link_base is not None:
        fields.append(("Link", link_html(link_base, "this task", task_id=row.id)))
    rows = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in fields)
    picture = _picture(row, src, alt=f"task #{row.id}, larger")
    return (
        f"<h3>Task #{row.id}</h3><div class='plg-frame'>{picture}</div>"
        f"<dl class='plg-data'>{rows}</dl>"
    )


class TaskNotFound(LookupError):
    """The task asked for is not in the database (deleted, or a wrong id)."""


@dataclasses.dataclass
class _Slot:
    """One card's widgets, reused for whichever task the page puts there."""

    box: w.VBox
    html: w.HTML
    button: w.Button
    row: TaskRow | None = None
    gone: bool = False


class TaskGallery(w.VBox):
    """Every task as a card in two columns, newest first, one page at a time.

    Parameters
    ----------
    studio:
        Where the tasks are read from.
    page_size:
        Cards per page (1 to 100). Each card is three widget models.
    auto_refresh:
        Refresh in the background while tasks on the page are unfinished.
    refresh_interval, max_refresh_interval:
        Seconds between background refreshes; the pause doubles up to the
        maximum while nothing changes and starts over when a card changes.
    link_base:
        Where the detail panel's link to its task (``?task=ID``) points: ``""``
        for a link relative to the page (the Voila app) or an app address;
        ``None``: ``PHOTOLAB_APP_URL``, or no link when it is unset (see
        :mod:`.links`).

    Attributes
    ----------
    collection_filter, person_filter, status_filter : ipywidgets.Dropdown
        The filters; "(any)" is ``ANY_COLLECTION``, ``ANY_PERSON`` and
        ``ANY_STATUS``. Changing one shows the newest page. :attr:`filter`
        reads them as a ``TaskFilter``; :meth:`set_filters` sets all three.
    refresh_button, newest_button, newer_button, older_button : ipywidgets.Button
    export_button : ipywidgets.Button
        Builds the CSV of the filtered tasks and offers it in ``download_link``.
    position_label, status_area, download_link : ipywidgets.HTML
    grid : ipywidgets.GridBox
        The cards, two columns (one where the gallery is narrower than 600
        px, or narrower than 1100 px with the detail panel open).
    detail_panel : ipywidgets.VBox
        Hidden until a task is selected; holds ``detail_html`` (the larger
        picture and every field) and ``close_detail_button``.
    main : ipywidgets.HBox
        ``grid`` and ``detail_panel`` side by side (stacked below 560 px).
    rows : tuple of TaskRow
        The tasks on the page, newest first.
    total : int
        How many tasks match the filters.
    filter : TaskFilter
        The filters as the data layer takes them.
    page_number, position : int, (int, int)
        1 for the newest page; the places of the first and last card shown.
    selected : tuple of TaskRow
        The selected task (empty when none), as the last refresh saw it.
    auto_refreshing : bool
        Whether the background refresher is running.

    Every button has a public method that does the same:
    :meth:`show_newest`, :meth:`show_newer`, :meth:`show_older`,
    :meth:`refresh`, :meth:`select` (a card's Details), :meth:`clear_selection`
    and :meth:`export_csv`; :meth:`on_select` registers a callback.
    """

    def __init__(
        self,
        studio: Studio,
        *,
        page_size: int = PAGE_SIZE,
        auto_refresh: bool = True,
        refresh_interval: float = 3.0,
        max_refresh_interval: float = 60.0,
        link_base: str | None = None,
    ) -> None:
        self.studio = studio
        self.link_base = app_url() if link_base is None else link_base
        self.page_size = page_size
        self.auto_refresh = auto_refresh
        self.refresh_interval = refresh_interval
        self.max_refresh_interval = max_refresh_interval
        self.total = 0
        self._has_more = False
        # The keyset of every page walked so far: [None, last id of page 1, ...].
        self._cursors: list[int | None] = [None]
        self._slots: list[_Slot] = []
        self._detail: TaskDetail | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        # Set when the view changes (a page, a filter, a selection) or closes:
        # the refresher drops its back-off and watches the new view closely.
        self._wake = threading.Event()
        self._refresher: threading.Thread | None = None
        self._quiet = False  # set while filters are changed from Python
        self._made: list[w.Widget] = []
        self._callbacks: list[Callable[[TaskRow | None], None]] = []
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1 to {MAX_PAGE_SIZE}: {page_size}")

        # Shared by every card: one model each instead of one per card.
        self._card_layout = self._own(w.Layout(width="auto", min_width="0"))
        self._html_layout = self._own(w.Layout(width="auto"))
        self._html_style = self._own(HTMLStyle())
        self._button_layout = self._own(w.Layout(width="auto", margin="6px 0 0 0"))
        self._button_style = self._own(w.ButtonStyle())

        self.status_area = self._own(w.HTML())
        choices = FilterOptions((), ())
        try:
            choices = studio.task_filter_options()
        except Exception:
            # The page still builds; _load below says the one sentence.
            log.exception("TaskGallery could not read the filter choices")
        wide = self._own(w.Layout(width="auto", min_width="220px"))
        self.collection_filter = self._own(
            w.Dropdown(
                description="Collection",
                options=[
                    (_ANY, ANY_COLLECTION),
                    *((c, c) for c in choices.collections),
                ],
                layout=wide,
            )
        )
        self.person_filter = self._own(
            w.Dropdown(
                description="Person",
                options=[
                    (_ANY, ANY_PERSON),
                    *((p.label, p.id) for p in choices.persons),
                ],
                layout=wide,
            )
        )
        self.status_filter = self._own(
            w.Dropdown(
                description="Status",
                options=[(_ANY, ANY_STATUS), *((s.value, s.value) for s in TaskStatus)],
                layout=wide,
            )
        )
        for dropdown in self._filters:
            dropdown.observe(self._on_filter_change, "value")

        self.refresh_button = self._button("Refresh", "refresh", self._on_refresh)
        self.newest_button = self._button("Newest", "angle-double-left", self._on_new)
        self.newer_button = self._button("Newer", "angle-left", self._on_newer)
        self.older_button = self._button("Older", "angle-right", self._on_older)
        self.export_button = self._button("Export CSV", "download", self._on_export)
        self.position_label = self._own(w.HTML())
        self.position_label.add_class("plg-position")
        self.download_link = self._own(w.HTML())
        self.download_link.add_class("plg-download")

        self.grid = self._own(
            w.GridBox(
                layout=w.Layout(
                    grid_template_columns="repeat(2, minmax(0, 1fr))",
                    grid_gap="12px",
                    width="100%",
                )
            )
        )
        self.grid.add_class("plg-grid")
        self.detail_html = self._own(w.HTML(layout=w.Layout(width="auto")))
        self.close_detail_button = self._button("Close", "times", self._on_close)
        self.detail_panel = self._own(
            w.VBox(
                [self.detail_html, self.close_detail_button],
                layout=w.Layout(width="38%", flex="0 0 38%", display="none"),
            )
        )
        self.detail_panel.add_class("plg-detail")
        self.main = self._own(
            w.HBox(
                [self.grid, self.detail_panel],
                layout=w.Layout(align_items="flex-start", grid_gap="12px"),
            )
        )
        self.main.add_class("plg-main")

        super().__init__(
            [
                self._own(w.HTML(_CSS)),
                self._own(
                    w.HBox(
                        [*self._filters, self.refresh_button],
                        layout=w.Layout(flex_flow="row wrap"),
                    )
                ),
                self._own(
                    w.HBox(
                        [
                            self.newest_button,
                            self.newer_button,
                            self.older_button,
                            self.position_label,
                            self.export_button,
                        ],
                        layout=w.Layout(align_items="center", flex_flow="row wrap"),
                    )
                ),
                self.status_area,
                self.download_link,
                self.main,
            ],
            layout=self._own(w.Layout(width="100%")),
        )
        self.add_class("plg-gallery")
        self._guard("load the tasks", self._load)

    # -- public actions ---------------------------------------------------

    @property
    def rows(self) -> tuple[TaskRow, ...]:
        return tuple(s.row for s in self._slots if s.row is not None)

    @property
    def selected(self) -> tuple[TaskRow, ...]:
        return () if self._detail is None else (self._detail.task,)

    @property
    def filter(self) -> TaskFilter:
        """The filters as the data layer takes them (``None`` is any)."""
        return TaskFilter(
            self.collection_filter.value or None,
            self.person_filter.value or None,
            self.status_filter.value or None,
        )

    @property
    def page_number(self) -> int:
        """1 for the newest page."""
        return len(self._cursors)

    @property
    def position(self) -> tuple[int, int]:
        """The first and last place (1-based, newest first) shown; (0, 0) if none.

        Counted from the newest task when the page was read: tasks created
        since then shift the true place by their number until Newest is pressed.
        """
        n = len(self.rows)
        if n == 0:
            return (0, 0)
        first = (self.page_number - 1) * self.page_size + 1
        return (first, first + n - 1)

    @property
    def auto_refreshing(self) -> bool:
        """Whether the background refresher is running."""
        thread = self._refresher
        return thread is not None and thread.is_alive()

    def set_filters(
        self,
        *,
        collection_name: str | None = None,
        person_id: int | None = None,
        status: str | None = None,
    ) -> None:
        """Set all three filters (``None`` is any), then show the newest page once."""
        wanted = (
            ANY_COLLECTION if collection_name is None else collection_name,
            ANY_PERSON if person_id is None else person_id,
            ANY_STATUS if status is None else status,
        )
        with self._lock:
            self._quiet = True
            try:
                for dropdown, value in zip(self._filters, wanted, strict=True):
                    if value not in [v for _, v in dropdown.options]:
                        # A collection only tasks still name, or a new person.
                        dropdown.options = [*dropdown.options, (str(value), value)]
                    dropdown.value = value
            finally:
                self._quiet = False
            self.show_newest()

    def show_newest(self) -> None:
        """The first page: the newest tasks that match the filters."""
        with self._lock:
            self._cursors = [None]
            self._load()

    def show_older(self) -> None:
        """The next page of older tasks; stays put on the last page."""
        with self._lock:
            rows = self.rows
            if not self._has_more or not rows:
                self._say("This is the last page.")
                return
            self._cursors.append(rows[-1].id)
            self._load()

    def show_newer(self) -> None:
        """The previous page; stays put on the first page."""
        with self._lock:
            if len(self._cursors) == 1:
                self._say("This is the newest page.")
                return
            self._cursors.pop()
            self._load()

    def refresh(self) -> int:
        """Read the page's tasks again; rewrite only the cards that changed.

        Returns how many cards changed. Two queries: the page's tasks by id,
        and the filtered count.
        """
        with self._lock:
            changed = self._refresh_page()
            cards = (
                "no card" if not changed else f"{changed} card" + "s" * (changed > 1)
            )
            self._say(f"Refreshed at {datetime.now():%H:%M:%S}: {cards} changed.")
            self._sync_refresher()
            return changed

    def select(self, task_id: int) -> TaskRow:
        """Open the detail panel on a task and make it the selection."""
        with self._lock:
            detail = self.studio.task_detail(task_id)
            if detail is None:
                raise TaskNotFound(f"task #{task_id} does not exist")
            self._show_detail(detail)
            self._sync_refresher()
        for callback in self._callbacks:
            callback(detail.task)
        return detail.task

    def clear_selection(self) -> None:
        """Close the detail panel."""
        with self._lock:
            self._show_detail(None)
        for callback in self._callbacks:
            callback(None)

    def on_select(self, callback: Callable[[TaskRow | None], None]) -> None:
        """Call ``callback(row)`` when a task is selected, ``(None)`` when cleared."""
        self._callbacks.append(callback)

    def export_csv(self, path: str | Path | None = None) -> str:
        """The filtered tasks (all pages) as CSV text, image URLs included.

        With ``path``, the text is also written there (UTF-8).
        """
        out = io.StringIO()
        self.studio.export_tasks_csv(out, self.filter)
        text = out.getvalue()
        if path is not None:
            Path(path).write_text(text, encoding="utf-8", newline="")
        return text

    def close(self) -> None:
        """Stop the refresher and close every widget the gallery made."""
        self._stop.set()
        self._wake.set()
        with self._lock:
            thread = self._refresher
            for widget in self._made:
                widget.close()
            self._made.clear()
            self._slots.clear()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        super().close()

    # -- loading and drawing ----------------------------------------------

    def _load(self) -> None:
        page = self.studio.task_slice(
            self.filter, before_id=self._cursors[-1], limit=self.page_size
        )
        self.total = page.total
        self._has_more = page.has_more
        self._show_rows(page.rows)
        self._sync_refresher()

    def _show_rows(self, rows: Sequence[TaskRow]) -> None:
        while len(self._slots) < len(rows):
            self._slots.append(self._new_slot(len(self._slots)))
        for slot, row in zip(self._slots, rows, strict=False):
            slot.row, slot.gone = row, False
            self._draw(slot)
        for slot in self._slots[len(rows) :]:
            slot.row, slot.gone = None, False
        self.grid.children = tuple(s.box for s in self._slots[: len(rows)])
        self._draw_position()
        if not rows:
            self._say("No tasks match these filters.")
        else:
            self._say("")

    def _refresh_page(self) -> int:
        known = self.total
        ids = [s.row.id for s in self._slots if s.row is not None]
        if self._detail is not None:
            ids.append(self._detail.task.id)
        now = self.studio.tasks_by_id(ids)
        self.total, newest = self.studio.count_and_newest(self.filter)
        top = self._slots[0].row if self._slots else None
        grew = self.total > known or (
            newest is not None and (top is None or newest > top.id)
        )
        if self.page_number == 1 and grew:
            changed = self._reread_newest()
        else:
            changed = self._redraw_changed(now)
        if self._detail is not None:
            fresh = now.get(self._detail.task.id)
            if fresh is not None and fresh != self._detail.task:
                self._show_detail(dataclasses.replace(self._detail, task=fresh))
        self._draw_position()
        return changed

    def _reread_newest(self) -> int:
        """Show the newest page again: tasks were created (a Generate) or now match.

        On the first page a researcher expects Refresh to show new tasks; on
        a later page new tasks would shift every card, so they wait for Newest.
        """
        before = [(s.row, s.gone) for s in self._slots]
        page = self.studio.task_slice(self.filter, limit=self.page_size)
        self.total, self._has_more = page.total, page.has_more
        self._show_rows(page.rows)
        return sum(
            1
            for i, row in enumerate(page.rows)
            if i >= len(before) or before[i] != (row, False)
        )

    def _redraw_changed(self, now: dict[int, TaskRow]) -> int:
        changed = 0
        for slot in self._slots:
            if slot.row is None:
                continue
            fresh = now.get(slot.row.id)
            if fresh is None and not slot.gone:
                slot.gone = True
                slot.html.value = render_gone_card(slot.row.id)
                changed += 1
            elif fresh is not None and fresh != slot.row:
                slot.row, slot.gone = fresh, False
                self._draw(slot)
                changed += 1
        return changed

    def _new_slot(self, index: int) -> _Slot:
        html_widget = self._own(
            w.HTML(layout=self._html_layout, style=self._html_style)
        )
        button = self._own(
            w.Button(
                description="Details",
                icon="search",
                layout=self._button_layout,
                style=self._button_style,
            )
        )
        box = self._own(w.VBox([html_widget, button], layout=self._card_layout))
        box.add_class("plg-card")
        button.on_click(lambda _b, i=index: self._on_card_click(i))
        return _Slot(box, html_widget, button)

    def _draw(self, slot: _Slot) -> None:
        row = slot.row
        assert row is not None
        src = browser_src(self.studio.image_url(row.result_img_key), THUMB_WIDTH)
        slot.html.value = render_card(row, src)
        slot.button.tooltip = f"Show task #{row.id} in the detail panel"
        selected = self._detail is not None and self._detail.task.id == row.id
        if selected:
            slot.box.add_class("plg-selected")
        else:
            slot.box.remove_class("plg-selected")

    def _show_detail(self, detail: TaskDetail | None) -> None:
        before = self._detail.task.id if self._detail is not None else None
        self._detail = detail
        if detail is None:
            self.detail_panel.layout.display = "none"
            self.detail_html.value = ""
            self.main.remove_class("plg-with-detail")
        else:
            self.main.add_class("plg-with-detail")
            url = self.studio.image_url(detail.task.result_img_key)
            src = browser_src(url, DETAIL_WIDTH)
            self.detail_html.value = render_detail(detail, src, url, self.link_base)
            self.detail_panel.layout.display = "flex"
        after = detail.task.id if detail is not None else None
        for slot in self._slots:
            if slot.row is not None and slot.row.id in (before, after):
                if slot.row.id == after:
                    slot.box.add_class("plg-selected")
                else:
                    slot.box.remove_class("plg-selected")

    def _draw_position(self) -> None:
        first, last = self.position
        if last == 0:
            text = f"No tasks on this page · {self.total:,} in all"
        else:
            text = f"Tasks {first:,}–{last:,} of {self.total:,}, newest first"
        self.position_label.value = f"<span>{_e(text)}</span>"
        self.newer_button.disabled = len(self._cursors) == 1
        self.newest_button.disabled = len(self._cursors) == 1
        self.older_button.disabled = not self._has_more

    def _say(self, sentence: str, *, error: bool = False) -> None:
        css = "plg-status-error" if error else ""
        self.status_area.value = (
            f"<span class='{css}'>{_e(sentence)}</span>" if sentence else ""
        )

    # -- the background refresher -----------------------------------------

    def _unfinished(self) -> bool:
        rows = [s.row for s in self._slots if s.row is not None and not s.gone]
        rows += list(self.selected)
        return any(row.status in _UNFINISHED for row in rows)

    def _sync_refresher(self) -> None:
        """Start the refresher when the page has unfinished tasks (lock held)."""
        if not self.auto_refresh or self._stop.is_set() or not self._unfinished():
            return
        if self.auto_refreshing:
            self._wake.set()
            return
        self._refresher = threading.Thread(
            target=self._refresh_loop, name="TaskGallery-refresh", daemon=True
        )
        self._refresher.start()

    def _refresh_loop(self) -> None:
        pause = self.refresh_interval
        while True:
            if self._wake.wait(pause):
                self._wake.clear()
                if self._stop.is_set():
                    break
                pause = self.refresh_interval  # a new view: no back-off
                continue
            with self._lock:
                if self._stop.is_set() or not self._unfinished():
                    self._refresher = None
                    return
                try:
                    changed = self._refresh_page()
                except DatabaseUnavailable as exc:
                    log.warning("TaskGallery: background refresh failed: %s", exc)
                    self._say(f"Could not refresh the tasks: {exc}", error=True)
                    changed = 0
                except Exception:
                    log.exception("TaskGallery: background refresh failed")
                    self._say(
                        "Could not refresh the tasks; trying again. "
                        "The kernel log has the details.",
                        error=True,
                    )
                    changed = 0
            pause = (
                self.refresh_interval
                if changed
                else min(pause * 2, self.max_refresh_interval)
            )
        with self._lock:
            if self._refresher is threading.current_thread():
                self._refresher = None

    # -- callbacks: errors stop here, logged, as one sentence -------------

    def _guard(self, doing: str, action: Callable[..., Any], *args: Any) -> None:
        try:
            action(*args)
        except TaskNotFound as exc:
            self._say(f"Could not {doing}: {exc}.", error=True)
        except DatabaseUnavailable as exc:
            log.warning("TaskGallery could not %s", doing, exc_info=True)
            self._say(f"Could not {doing}: {exc}", error=True)
        except Exception:
            log.exception("TaskGallery could not %s", doing)
            self._say(f"Could not {doing}. The kernel log has the details.", error=True)

    def _on_filter_change(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self._guard("load the tasks", self.show_newest)

    def _on_refresh(self, _button: w.Button) -> None:
        self._guard("refresh the tasks", self.refresh)

    def _on_new(self, _button: w.Button) -> None:
        self._guard("load the newest tasks", self.show_newest)

    def _on_newer(self, _button: w.Button) -> None:
        self._guard("load newer tasks", self.show_newer)

    def _on_older(self, _button: w.Button) -> None:
        self._guard("load older tasks", self.show_older)

    def _on_close(self, _button: w.Button) -> None:
        self._guard("close the detail panel", self.clear_selection)

    def _on_card_click(self, index: int) -> None:
        row = self._slots[index].row if index < len(self._slots) else None
        if row is not None:
            self._guard(f"open task #{row.id}", self.select, row.id)

    def _on_export(self, _button: w.Button) -> None:
        self._guard("export the tasks", self._offer_download)

    def _offer_download(self) -> None:
        out = io.StringIO()
        n = self.studio.export_tasks_csv(out, self.filter)
        # The byte-order mark lets Excel read Chinese names as UTF-8. A data:
        # URI needs no file server, so the link works in Voila and JupyterLab.
        body = ("\ufeff" + out.getvalue()).encode("utf-8")
        data = base64.b64encode(body).decode("ascii")
        name = f"tasks-{datetime.now():%Y%m%d-%H%M%S}.csv"
        kb = len(body) / 1000
        size = f"{kb / 1000:.1f} MB" if kb >= 1000 else f"{max(kb, 1):.0f} KB"
        self.download_link.value = (
            f"<a download='{_e(name)}' href='data:text/csv;base64,{data}'>"
            f"Download {_e(name)}</a> ({n:,} tasks, {size})"
        )

    # -- helpers ----------------------------------------------------------

    @property
    def _filters(self) -> tuple[w.Dropdown, w.Dropdown, w.Dropdown]:
        return (self.collection_filter, self.person_filter, self.status_filter)

    def _own(self, widget: Any) -> Any:
        """Remember a widget (and its own layout and style) to close it later."""
        self._made.append(widget)
        for part in ("layout", "style"):
            sub = getattr(widget, part, None)
            if isinstance(sub, w.Widget):
                self._made.append(sub)
        return widget

    def _button(
        self, description: str, icon: str, handler: Callable[[w.Button], None]
    ) -> w.Button:
        button = self._own(w.Button(description=description, icon=icon))
        button.on_click(handler)
        return button

"""A JSON editor: an ipytree of the value, a form for the selected node, raw text.

The rules (types, conversions, paths) live in :mod:`photolab_widgets.jsondoc`;
this module only draws them and turns clicks and typing into calls to them.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from copy import deepcopy
from typing import Any

import ipywidgets as w
from ipytree import Node, Tree

from .. import jsondoc
from ..jsondoc import BRANCH_TYPES, TYPES, JsonValueError, Key, Path
from ._closing import close_deep

log = logging.getLogger(__name__)

#: Font Awesome 4 icon per JSON type (what ipytree draws in front of a label).
ICONS = {
    "object": "folder",
    "array": "list",
    "string": "font",
    "integer": "hashtag",
    "number": "hashtag",
    "boolean": "check-square-o",
    "null": "ban",
}
ROOT_NAME = "params"
_KEY_LIMIT = 40
#: Above this many values the tree is not drawn and the document is edited as
#: raw text. Each value is an ipytree node, a widget model the kernel and the
#: browser keep in step: 1,000 take about 0.4 s to build, 10,000 about 5 s and
#: a 1 MB document (some 100,000 values) most of a minute, with the kernel
#: busy all that time. Real params hold a few dozen.
MAX_TREE_VALUES = 1_000


def node_label(key: Key | None, value: Any) -> str:
    """A node's label as markup, escaped: jstree renders labels as HTML.

    ``steps: 30``, ``style: "胶片"``, ``size {2}``, ``loras [2]``, ``[0]: 1``;
    the root is ``params``, and an empty root says it saves as NULL.
    """
    if key is None:
        head = ROOT_NAME
        if value is None:
            return html.escape(f"{head}: empty (saves as NULL)")
    elif isinstance(key, int):
        head = f"[{key}]"
    else:
        head = key if len(key) <= _KEY_LIMIT else key[: _KEY_LIMIT - 1] + "…"
        head = head or '""'
    kind = jsondoc.type_of(value)
    sep = " " if kind in BRANCH_TYPES else ": "
    return html.escape(f"{head}{sep}{jsondoc.summary(value)}")


def _note_html(message: str) -> str:
    return (
        "<div class='photolab-note' style='color:#57606a;white-space:normal'>"
        f"ⓘ {html.escape(message)}</div>"
    )


def _error_html(message: str) -> str:
    if not message:
        return ""
    return (
        "<div class='photolab-error' style='color:#b3261e;white-space:normal'>"
        f"⚠ {html.escape(message)}</div>"
    )


class JsonEditor(w.VBox):
    """Edit any JSON value: a tree to pick a node, a form to change it, raw text.

    Objects and arrays are branches, scalars are leaves labelled with their
    key and value. Selecting a node fills the form: its key (object members
    only), its type, and its value as text. A change to any field is applied
    when the field loses focus (or on Enter in the key); a field that does not
    hold its type (letters in a number) shows a message beside the form, keeps
    the text for fixing and leaves the value alone. The raw text below is the
    same value as JSON and is kept in step both ways; while it does not parse,
    the tree is locked so that the researcher's text is not overwritten.

    Integers are edited as text, so integers beyond 2**53 (which a browser
    number would round) stay exact. The value is never changed in place: each
    edit builds a new one (see :mod:`photolab_widgets.jsondoc`).

    A document of more than ``max_tree_values`` values (``MAX_TREE_VALUES``),
    or nested deeper than ``jsondoc.MAX_DEPTH``, gets no tree: the notice
    says so and the raw text is the editor. Typing a smaller document into
    the raw text brings the tree back.

    Attributes
    ----------
    value : Any
        The value being edited (``None``: empty, which saves as SQL NULL).
    base : Any
        The value last loaded; :meth:`revert` returns to it, and a save
        compares the database against it.
    dirty : bool
        Whether ``value`` differs from ``base`` (types included).
    error : str or None
        Why the form or the raw text is not applied, if one of them is not.
    selected_path : tuple or None
        The selected node's path (``()`` is the root).
    text_only : bool
        Whether the document is too big for the tree and is edited as text.
    notice : ipywidgets.HTML
        Says why the tree is not shown, when it is not.
    tree : ipytree.Tree
        The tree; each node's label is escaped markup.
    key_field, type_field, value_field, raw_field : ipywidgets widgets
        The form and the raw text, as a person types into them.
    """

    def __init__(
        self,
        value: Any = None,
        *,
        max_tree_values: int = MAX_TREE_VALUES,
        **kwargs: Any,
    ) -> None:
        self.max_tree_values = max_tree_values
        self.notice = w.HTML()
        self.tree = Tree(
            multiple_selection=False,
            layout=w.Layout(
                width="55%", max_height="340px", overflow="auto", padding="0 4px"
            ),
        )
        self.key_field = w.Text(
            description="Key", continuous_update=False, layout=w.Layout(width="98%")
        )
        self.type_field = w.Dropdown(
            description="Type", options=list(TYPES), layout=w.Layout(width="98%")
        )
        self.value_field = w.Textarea(
            description="Value",
            continuous_update=False,
            rows=2,
            layout=w.Layout(width="98%"),
        )
        self.add_button = w.Button(
            description="Add",
            icon="plus",
            tooltip="Add a key or item under the selected object or array",
            layout=w.Layout(width="auto"),
        )
        self.delete_button = w.Button(
            description="Delete",
            icon="trash",
            tooltip="Delete the selected node (the root: empty the params)",
            layout=w.Layout(width="auto"),
        )
        self.field_message = w.HTML()
        self.raw_field = w.Textarea(
            continuous_update=False,
            rows=8,
            placeholder="Blank: no params (saved as NULL)",
            layout=w.Layout(width="99%"),
        )
        self.raw_field.add_class("plw-json-raw")
        self.raw_message = w.HTML()
        form = w.VBox(
            [
                self.key_field,
                self.type_field,
                self.value_field,
                w.HBox([self.add_button, self.delete_button]),
                self.field_message,
            ],
            layout=w.Layout(width="45%"),
        )
        self._tree_and_form = w.HBox([self.tree, form])
        super().__init__(
            [self.notice, self._tree_and_form, self.raw_field, self.raw_message],
            **kwargs,
        )
        self.add_class("photolab-json-editor")

        self._doc: Any = None
        self._base: Any = None
        self._nodes: dict[Path, Node] = {}
        self._paths: dict[str, Path] = {}
        self._opened: dict[Path, bool] = {}
        self._selected: Path | None = None
        self._field_error: str | None = None
        self._raw_error: str | None = None
        self._quiet = 0
        self._text_only = False
        self._callbacks: list[Callable[[JsonEditor], None]] = []

        self.tree.observe(self._on_selected_nodes_change, "selected_nodes")
        self.key_field.observe(self._on_key_change, "value")
        self.type_field.observe(self._on_type_change, "value")
        self.value_field.observe(self._on_value_change, "value")
        self.raw_field.observe(self._on_raw_change, "value")
        self.add_button.on_click(lambda _b: self._safely(self.add))
        self.delete_button.on_click(lambda _b: self._safely(self.delete))
        self.load(value)

    # -- state ------------------------------------------------------------

    @property
    def value(self) -> Any:
        return self._doc

    @property
    def base(self) -> Any:
        return self._base

    @property
    def dirty(self) -> bool:
        return not jsondoc.same(self._doc, self._base)

    @property
    def error(self) -> str | None:
        return self._field_error or self._raw_error

    @property
    def selected_path(self) -> Path | None:
        return self._selected

    @property
    def text_only(self) -> bool:
        return self._text_only

    def on_change(self, callback: Callable[[JsonEditor], None]) -> None:
        """Call ``callback(editor)`` after every edit, load and error change."""
        self._callbacks.append(callback)

    # -- actions ----------------------------------------------------------

    def load(self, value: Any) -> None:
        """Start over from ``value``: it becomes both the base and the value.

        Unapplied text and messages are dropped. When ``value`` equals what is
        shown, the tree is kept as it is (open branches, selection).
        """
        jsondoc.check(value)
        value = deepcopy(value)
        redraw = not jsondoc.same(value, self._doc) or not self._nodes
        self._base = value
        self._doc = value
        self._field_error = self._raw_error = None
        self.raw_message.value = ""
        if redraw:
            self._rebuild(())
        self._sync_raw()
        self._reselect(self._selected)
        self._changed()

    def revert(self) -> None:
        """Drop every unsaved edit: back to the value last loaded or saved."""
        self.load(self._base)

    def select(self, path: Sequence[Key], *, force: bool = False) -> None:
        """Select the node at ``path`` (as a click on it does) and fill the form."""
        path = tuple(path)
        node = self._nodes.get(path)
        if node is None:
            raise KeyError(f"there is no {jsondoc.format_path(path)}")
        if path == self._selected and not force:
            return
        previous = self._nodes.get(self._selected) if self._selected else None
        if previous is not None and previous is not node:
            previous.selected = False
        node.selected = True
        self._selected = path
        with self._quietly():
            self.tree.set_trait("selected_nodes", (node,))
        self._bind_form()

    def edit(
        self,
        path: Sequence[Key] | None = None,
        *,
        key: str | None = None,
        kind: str | None = None,
        text: str | None = None,
    ) -> bool:
        """Select ``path`` (default: the selected node) and change its fields.

        The same as typing into the form: ``key`` renames an object member,
        ``kind`` is one of the types, ``text`` is the value as typed. Returns
        whether the change was applied; if not, :attr:`error` says why.
        """
        if path is not None:
            self.select(path)
        with self._quietly():
            if key is not None:
                self.key_field.value = key
            if kind is not None:
                self.type_field.value = kind
            if text is not None:
                self.value_field.value = text
        return self._apply_form()

    def add(self) -> Path | None:
        """Add a key or item to the selected object or array (or the leaf's parent).

        An empty editor becomes an object with one key. The new node holds an
        empty string and is selected, ready for its key, type and value.
        """
        if self._locked_by_raw() or self._text_only:
            return None
        path = self._selected if self._selected is not None else ()
        target = jsondoc.get(self._doc, path)
        doc = self._doc
        if jsondoc.type_of(target) not in BRANCH_TYPES:
            if path:
                path = path[:-1]
            elif target is None:
                doc = {}
            else:
                self._say_field(
                    "A single value has no keys or items; change its type to "
                    "object or array first."
                )
                return None
        try:
            doc, new_path = jsondoc.add(doc, path, "")
        except JsonValueError as exc:
            self._say_field(str(exc))
            return None
        self._doc = doc
        self._rebuild(path)
        self._after_edit(new_path)
        return new_path

    def delete(self) -> None:
        """Delete the selected node; deleting the root empties the editor."""
        if self._locked_by_raw() or self._selected is None or self._text_only:
            return
        path = self._selected
        self._doc = jsondoc.delete(self._doc, path)
        parent = path[:-1] if path else ()
        self._rebuild(parent)
        self._after_edit(parent)

    def set_raw(self, text: str) -> bool:
        """Replace the raw text (as typing into it does); returns whether it parsed."""
        self.raw_field.value = text
        return self._raw_error is None

    def close(self) -> None:
        self._callbacks.clear()
        close_deep(self)

    # -- observers ----------------------------------------------------------

    def _on_selected_nodes_change(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        paths = [self._paths.get(n.model_id) for n in change["new"]]
        picked = [p for p in paths if p is not None and p != self._selected]
        if picked:
            self._safely(lambda: self.select(picked[-1]))

    def _on_key_change(self, _change: dict[str, Any]) -> None:
        if not self._quiet:
            self._safely(self._apply_form)

    def _on_type_change(self, _change: dict[str, Any]) -> None:
        if not self._quiet:
            self._safely(self._apply_form)

    def _on_value_change(self, _change: dict[str, Any]) -> None:
        if not self._quiet:
            self._safely(self._apply_form)

    def _on_raw_change(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self._safely(lambda: self._apply_raw(change["new"]))

    # -- applying edits -----------------------------------------------------

    def _apply_form(self) -> bool:
        path = self._selected
        if path is None or self._locked_by_raw():
            return False
        old = jsondoc.get(self._doc, path)
        key = self.key_field.value
        try:
            new = jsondoc.convert(old, self.type_field.value, self.value_field.value)
            doc = jsondoc.replace(self._doc, path, new)
            new_path = path
            if path and isinstance(path[-1], str) and key != path[-1]:
                doc = jsondoc.rename(doc, path, key)
                new_path = (*path[:-1], key)
        except JsonValueError as exc:
            self._say_field(str(exc))
            return False
        retyped = jsondoc.type_of(new) != jsondoc.type_of(old)
        self._doc = doc
        if new_path != path:
            self._rebuild(path[:-1])
        elif retyped or jsondoc.type_of(new) in BRANCH_TYPES:
            self._rebuild(path)
        else:
            self._nodes[path].name = node_label(path[-1] if path else None, new)
        self._after_edit(new_path)
        lost = jsondoc.dropped(old, new)
        if lost:  # said, not refused: the change is what was asked for
            self.field_message.value = _note_html(lost)
        return True

    def _apply_raw(self, text: str) -> None:
        try:
            value = jsondoc.loads(text)
        except JsonValueError as exc:
            self._raw_error = str(exc)
            self.raw_message.value = _error_html(
                f"{exc} The tree is locked until the text is fixed or reverted."
            )
            self._changed()
            return
        self._raw_error = None
        self.raw_message.value = ""
        if not jsondoc.same(value, self._doc) or self._text_only:
            self._doc = value
            self._rebuild(())
        self._reselect(self._selected)
        self._changed()

    def _after_edit(self, select: Path) -> None:
        self._field_error = None
        self._sync_raw()
        self._reselect(select)
        self._changed()

    def _reselect(self, path: Path | None) -> None:
        """Select ``path`` if it is still drawn, else the root (none without a tree)."""
        if self._text_only:
            self._selected = None
            self._bind_form()
            return
        self.select(path if path in self._nodes else (), force=True)

    def _locked_by_raw(self) -> bool:
        if self._raw_error is None:
            return False
        self._say_field("Fix the raw text below first (or Revert): it is not JSON.")
        return True

    # -- drawing ------------------------------------------------------------

    def _rebuild(self, path: Path) -> None:
        """Draw the node at ``path`` afresh and close the one it replaces."""
        if not path and self._too_big_for_tree():
            self._drop_tree()
            return
        if self._text_only:
            self._show_tree()
        old = self._nodes.get(path)
        for stale in [p for p in self._nodes if p[: len(path)] == path]:
            gone = self._nodes.pop(stale)
            self._opened[stale] = gone.opened
            self._paths.pop(gone.model_id, None)
        key = path[-1] if path else None
        new = self._make_node(path, key, jsondoc.get(self._doc, path))
        if path:
            parent = self._nodes[path[:-1]]
            parent.nodes = tuple(new if n is old else n for n in parent.nodes)
        else:
            self.tree.nodes = (new,)
        if old is not None:
            close_deep(old)

    def _too_big_for_tree(self) -> bool:
        limit = self.max_tree_values
        if jsondoc.count_values(self._doc, limit) > limit:
            return True
        return jsondoc.nesting(self._doc) > jsondoc.MAX_DEPTH

    def _drop_tree(self) -> None:
        """Edit as text only: close every node and say why there is no tree."""
        old = self.tree.nodes
        self.tree.nodes = ()
        for node in old:
            close_deep(node)
        self._nodes.clear()
        self._paths.clear()
        self._selected = None
        self._text_only = True
        self._tree_and_form.layout.display = "none"
        self.notice.value = _error_html(
            f"This document has more than {self.max_tree_values:,} values or "
            f"nests more than {jsondoc.MAX_DEPTH} levels deep, too much to draw "
            "as a tree without stalling the page. Edit it as text below; a "
            "smaller document gets its tree back."
        )

    def _show_tree(self) -> None:
        self._text_only = False
        self._tree_and_form.layout.display = None
        self.notice.value = ""

    def _make_node(self, path: Path, key: Key | None, value: Any) -> Node:
        kind = jsondoc.type_of(value)
        children: list[Node] = []
        if kind == "object":
            children = [self._make_node((*path, k), k, v) for k, v in value.items()]
        elif kind == "array":
            children = [self._make_node((*path, i), i, v) for i, v in enumerate(value)]
        node = Node(
            node_label(key, value),
            children,
            icon=ICONS[kind],
            opened=self._opened.get(path, len(path) < 2),
        )
        self._nodes[path] = node
        self._paths[node.model_id] = path
        return node

    def _bind_form(self) -> None:
        """Show the selected node in the form without applying anything."""
        path = self._selected
        self._field_error = None
        self.field_message.value = ""
        with self._quietly():
            if path is None:
                for field in (self.key_field, self.type_field, self.value_field):
                    field.disabled = True
                return
            value = jsondoc.get(self._doc, path)
            kind = jsondoc.type_of(value)
            key = path[-1] if path else None
            self.key_field.value = (
                key
                if isinstance(key, str)
                else (ROOT_NAME if key is None else f"[{key}]")
            )
            self.key_field.disabled = not isinstance(key, str)
            self.type_field.disabled = False
            self.type_field.value = kind
            self.value_field.value = jsondoc.value_text(value)
            self.value_field.disabled = kind in (*BRANCH_TYPES, "null")
            self.value_field.placeholder = {
                "object": "an object: add keys to it",
                "array": "an array: add items to it",
                "null": "null: pick a type to give it a value",
            }.get(kind, "")

    def _sync_raw(self) -> None:
        with self._quietly():
            self.raw_field.value = jsondoc.dumps(self._doc)

    def _say_field(self, message: str) -> None:
        self._field_error = message
        self.field_message.value = _error_html(message)
        self._changed()

    def _changed(self) -> None:
        for callback in list(self._callbacks):
            try:
                callback(self)
            except Exception:
                log.exception("a JsonEditor on_change callback failed")

    def _safely(self, action: Callable[[], Any]) -> None:
        """Run a callback's work; a failure is logged and shown, never raised."""
        try:
            action()
        except Exception as exc:
            log.exception("JSON editor action failed")
            self._say_field(f"That did not work: {exc}")

    @contextmanager
    def _quietly(self) -> Iterator[None]:
        # Fields set by the editor itself must not be applied back as edits.
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

"""Hostile input: any JSON, any key, SQL and markup in every text, oversized values.

What a person types and what the database holds are data: stored as given,
shown as text, never run as SQL or rendered as markup. The views' HTML is
parsed here (``html.parser``) and compared with the same view built on plain
text: the tags and attribute names must be the same, so nothing a value holds
can add an element or an attribute. Oversized values get a clear limit or a
view that still works, never a frozen kernel.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ipytree import Node
from ipywidgets.widgets.widget import _instances
from sqlalchemy import text

from photolab_widgets import Studio, jsondoc
from photolab_widgets.config import OSS_TEST_BUCKET
from photolab_widgets.images import browser_src, image_url
from photolab_widgets.queries import TaskRow
from photolab_widgets.widgets.gallery import THUMB_WIDTH, TaskGallery, render_card
from photolab_widgets.widgets.json_editor import MAX_TREE_VALUES, JsonEditor
from photolab_widgets.widgets.scene import (
    CSS,
    PARAMS_PREVIEW_CHARS,
    SceneBoard,
    SceneCard,
)
from tests.factories import add_scene, add_task, add_user
from tests.test_jsondoc import json_values

HOSTILE = [
    "'; DROP TABLE scenes; --",
    "Robert'); DELETE FROM tasks WHERE ('1'='1",
    '" OR "1"="1',
    "%",
    "_",
    "a%b_c\\d\\'e",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "' onmouseover='alert(1)' x='",
    '" onclick="alert(1)" x="',
    "</textarea></pre></details><b>out</b>",
    "&lt;b&gt;already escaped&amp;",
    "{{7*7}} ${7*7} <%= 7*7 %>",
    "line one\nline two\r\n\ttabbed",
    "胶片 🎞️ \u202e RTL",
    "nul \x00 byte",
]
PLAIN = "plain words"


# -- reading markup ---------------------------------------------------------------


@dataclass
class Markup:
    """A view's HTML as the browser would parse it."""

    skeleton: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    attributes: list[dict[str, str | None]] = field(default_factory=list)
    text: str = ""

    @property
    def tags(self) -> set[str]:
        return {tag for tag, _ in self.skeleton}


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.markup = Markup()
        self.chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.markup.skeleton.append((tag, tuple(name for name, _ in attrs)))
        self.markup.attributes.append(dict(attrs))

    def handle_startendtag(self, tag: str, attrs: list) -> None:  # noqa: ANN001
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)


def parse(markup: str) -> Markup:
    parser = _Parser()
    parser.feed(markup)
    parser.close()
    parser.markup.text = "".join(parser.chunks)
    return parser.markup


def assert_inert(markup: str, plain: str) -> Markup:
    """``markup`` has exactly the elements and attributes of ``plain``."""
    hostile, reference = parse(markup), parse(plain)
    assert "script" not in hostile.tags
    for attrs in hostile.attributes:
        assert not [name for name in attrs if name.startswith("on")], attrs
    assert hostile.skeleton == reference.skeleton
    return hostile


# -- the JSON editor: tree -> save -> load ---------------------------------------


def click(editor: JsonEditor, node: Node) -> None:
    """What the browser sends when a person clicks a tree node."""
    editor.tree.set_state({"selected_nodes": [f"IPY_MODEL_{node.model_id}"]})


def read_tree(editor: JsonEditor) -> Any:
    """The value as a person reads it off the tree: click every node, read the form.

    Branches give their children in the tree's order (a member's key from the
    Key field); a leaf's value is its Value field read as its Type.
    """

    def read(node: Node) -> tuple[str, Any]:
        assert "<" not in node.name and ">" not in node.name  # labels escaped
        click(editor, node)
        kind, key = editor.type_field.value, editor.key_field.value
        shown = editor.value_field.value
        if kind == "object":
            members = [read(child) for child in node.nodes]
            assert len({k for k, _ in members}) == len(members)
            return key, dict(members)
        if kind == "array":
            return key, [read(child)[1] for child in node.nodes]
        assert not node.nodes
        return key, jsondoc.parse_value(kind, shown)

    (root,) = editor.tree.nodes
    return read(root)[1]


def all_nodes(editor: JsonEditor) -> list[Node]:
    out: list[Node] = []
    stack = list(editor.tree.nodes)
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node.nodes)
    return out


_scenes: dict[int, int] = {}


def scratch_scene(studio: Studio) -> int:
    if id(studio) not in _scenes:
        _scenes[id(studio)] = add_scene(studio, params=None)
    return _scenes[id(studio)]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(value=json_values)
def test_any_json_value_survives_tree_save_and_load(studio: Studio, value: Any) -> None:
    scene_id = scratch_scene(studio)
    card = SceneCard(studio, scene_id)
    try:
        editor = card.edit()
        assert editor is not None
        assert editor.set_raw(jsondoc.dumps(value))  # typed into the raw text
        assert jsondoc.same(read_tree(editor), value)

        card.save_button.click()  # type: ignore[union-attr]
        assert "Saved." in card.status.value, card.status.value
        found = studio.scene(scene_id)
        assert found is not None
        assert jsondoc.same(found.scene.params, value)

        fresh = JsonEditor(found.scene.params)
        assert jsondoc.same(read_tree(fresh), value)
        fresh.close()
    finally:
        card.close()


@given(key=st.text())
def test_any_image_key_reaches_the_page_as_its_own_url(key: str) -> None:
    def card_for(image_key: str) -> tuple[str, str | None]:
        row = TaskRow(1, "done", 1, "Ada", 1, "c", image_key, None, None, _NOW, _NOW)
        src = browser_src(image_url(image_key, OSS_TEST_BUCKET), THUMB_WIDTH)
        return render_card(row, src), src

    markup, src = card_for(key)
    reference, reference_src = card_for("plain.jpg" if key.strip() else key)
    page = assert_inert(markup, reference)
    images = [
        a
        for (tag, _), a in zip(page.skeleton, page.attributes, strict=True)
        if tag == "img"
    ]
    if src is None:
        assert not images and reference_src is None
    else:
        assert [a["src"] for a in images] == [src]


_NOW = datetime(2024, 1, 1)


# -- SQL metacharacters and markup in every text ---------------------------------


def _world(studio: Studio, s: str) -> dict[str, int]:
    """Every text a person or the database supplies set to ``s``, and a decoy."""
    person = add_user(studio, s)
    scene = add_scene(
        studio,
        collection_name=s,
        name=s,
        prompt=s,
        negative_prompt=s,
        tags=s,
        base_img_key=s,
        hint_img_list=[s],
        params={s: s, "list": [s], "nested": {s: [s, 1]}},
    )
    task = add_task(studio, scene, person, status="failed", error=s, result_img_key=s)
    decoy = add_scene(studio, collection_name="decoy")
    add_task(studio, decoy, add_user(studio, "Decoy"), status="done")
    return {"person": person, "scene": scene, "task": task}


def _views(studio: Studio, ids: dict[str, int], s: str) -> dict[str, Any]:
    """Everything the views show for the world, as markup and plain values."""
    gallery = TaskGallery(studio, auto_refresh=False)
    board = SceneBoard(studio, s)
    card = board.cards[0] if board.cards else None
    try:
        gallery.set_filters(collection_name=s)
        gallery.select(ids["task"])
        assert card is not None
        editor = card.edit()
        assert editor is not None
        return {
            "gallery rows": [row.id for row in gallery.rows],
            "board scenes": [c.scene_id for c in board.cards],
            "card": gallery.grid.children[0].children[0].value,  # type: ignore[attr-defined]
            "detail": gallery.detail_html.value,
            "pictures": card.pictures.value,
            "facts": card.facts.value,
            "tasks": card.task_strip.value,
            "labels": [node.name for node in all_nodes(editor)],
            "raw": editor.raw_field.value,
            "filter labels": [label for label, _ in gallery.collection_filter.options],
            "person labels": [label for label, _ in gallery.person_filter.options],
            "board labels": [label for label, _ in board.collection_field.options],
            "editor value": editor.value,
        }
    finally:
        gallery.close()
        board.close()


@pytest.mark.parametrize("s", HOSTILE, ids=range(len(HOSTILE)))
def test_sql_and_markup_are_stored_and_shown_literally(studio: Studio, s: str) -> None:
    ids = _world(studio, s)
    hostile = _views(studio, ids, s)

    # Stored as given, and no statement ran but ours.
    with studio.session() as session:
        row = session.execute(
            text(
                "SELECT collection_name, name, prompt, negative_prompt, tags, "
                "base_img_key FROM scenes WHERE scene_id = :i"
            ),
            {"i": ids["scene"]},
        ).one()
        assert tuple(row) == (s,) * 6
        assert (
            session.execute(
                text("SELECT name FROM users WHERE id = :i"), {"i": ids["person"]}
            ).scalar_one()
            == s
        )
        assert (
            session.execute(
                text("SELECT error FROM tasks WHERE id = :i"), {"i": ids["task"]}
            ).scalar_one()
            == s
        )
        counts = session.execute(
            text(
                "SELECT (SELECT COUNT(*) FROM scenes), (SELECT COUNT(*) FROM users), "
                "(SELECT COUNT(*) FROM tasks)"
            )
        ).one()
        assert tuple(counts) == (2, 2, 2)
    assert set(studio.collections()) == {s, "decoy"}

    # A filter on the name finds exactly its own rows: '%' is not a wildcard.
    assert hostile["gallery rows"] == [ids["task"]]
    assert hostile["board scenes"] == [ids["scene"]]
    assert s in hostile["filter labels"] and s in hostile["board labels"]
    assert f"{s} (#{ids['person']})" in hostile["person labels"]

    # Shown as text: the same elements as with plain words, the text intact.
    plain_studio_ids = _world(studio, PLAIN)
    plain = _views(studio, plain_studio_ids, PLAIN)
    for part in ("card", "detail", "pictures", "facts", "tasks"):
        assert_inert(hostile[part], plain[part])
    for part in ("card", "detail", "facts"):
        assert s in parse(hostile[part]).text, part
    hover = [a.get("title") for a in parse(hostile["tasks"]).attributes]
    assert any(s in (title or "") for title in hover)  # the error, on hover
    for label in hostile["labels"]:
        assert not parse(label).tags
    assert any(html.unescape(label).startswith(s[:39]) for label in hostile["labels"])
    assert json.loads(hostile["raw"]) == hostile["editor value"]
    assert hostile["editor value"][s] == s


# -- oversized input ----------------------------------------------------------------


def one_megabyte_document() -> dict[str, Any]:
    items = [
        {"i": i, "prompt": f"海边写真 {i} " + "x" * 80, "weights": [0.25, 0.5]}
        for i in range(8_000)
    ]
    doc = {"items": items}
    assert len(json.dumps(doc, ensure_ascii=False)) > 1_000_000
    return doc


def test_a_one_megabyte_document_is_edited_as_text_not_as_a_tree(
    studio: Studio,
) -> None:
    doc = one_megabyte_document()
    scene_id = add_scene(studio, params=None)
    studio.save_params(scene_id, doc)
    before = len(_instances)

    card = SceneCard(studio, scene_id)
    assert len(card.facts.value) < len(CSS) + PARAMS_PREVIEW_CHARS + 2_000
    assert "more characters" in card.facts.value
    editor = card.edit()
    assert editor is not None

    assert editor.text_only and not editor.tree.nodes
    assert f"more than {MAX_TREE_VALUES:,} values" in editor.notice.value
    assert len(_instances) - before < 120  # no node per value
    assert jsondoc.same(jsondoc.loads(editor.raw_field.value), doc)

    edited = json.loads(editor.raw_field.value)
    edited["items"][0]["i"] = -1
    assert editor.set_raw(json.dumps(edited, ensure_ascii=False))
    card.save_button.click()  # type: ignore[union-attr]
    assert "Saved." in card.status.value
    found = studio.scene(scene_id)
    assert found is not None and found.scene.params["items"][0]["i"] == -1
    card.close()
    assert len(_instances) == before


def test_the_tree_comes_back_when_the_text_shrinks() -> None:
    editor = JsonEditor({"items": list(range(MAX_TREE_VALUES + 5))})
    assert editor.text_only and "Edit it as text" in editor.notice.value
    assert editor.add() is None and editor.value["items"][-1] == MAX_TREE_VALUES + 4

    assert editor.set_raw('{"steps": 30}')
    assert not editor.text_only and editor.notice.value == ""
    assert read_tree(editor) == {"steps": 30}
    editor.close()


def test_one_huge_string_stays_one_node_with_a_short_label() -> None:
    editor = JsonEditor({"blob": "胶" * 1_000_000})
    assert not editor.text_only
    assert all(len(node.name) < 200 for node in all_nodes(editor))
    assert read_tree(editor) == {"blob": "胶" * 1_000_000}
    editor.close()


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def test_text_nested_too_deeply_is_refused_with_a_sentence() -> None:
    editor = JsonEditor({"a": 1})
    assert not editor.set_raw("[" * 100_000 + "]" * 100_000)
    assert "nested too deeply" in editor.raw_message.value
    assert not editor.set_raw(json.dumps(nested(jsondoc.MAX_DEPTH + 1)))
    assert f"more than {jsondoc.MAX_DEPTH} levels" in editor.raw_message.value
    assert editor.value == {"a": 1}
    assert editor.set_raw(json.dumps(nested(jsondoc.MAX_DEPTH)))
    editor.close()


def test_deep_params_from_the_database_open_as_text_or_say_why(
    sqlite_studio: Studio,
) -> None:
    studio = sqlite_studio
    deep = add_scene(studio, params={"a": nested(150)})
    deeper = add_scene(studio, params={"a": nested(700)})

    card = SceneCard(studio, deep)
    editor = card.edit()
    assert editor is not None and editor.text_only
    assert f"more than {jsondoc.MAX_DEPTH} levels" in editor.notice.value
    card.close()

    card = SceneCard(studio, deeper)
    assert card.edit() is None
    assert "cannot be opened in the editor" in card.status.value
    assert "[" in card.facts.value  # still shown, as text
    card.close()


def test_a_ten_thousand_character_prompt_is_folded_and_kept(studio: Studio) -> None:
    prompt = ("海边写真, golden hour <b>, " * 500)[:10_000]
    assert len(prompt) == 10_000
    scene_id = add_scene(studio, prompt=prompt, collection_name="long")
    task = add_task(studio, scene_id, add_user(studio), status="done")
    found = studio.scene(scene_id)
    assert found is not None and found.scene.prompt == prompt

    card = SceneCard(studio, scene_id)
    facts = parse(card.facts.value)
    assert "details" in facts.tags and "(10000 characters)" in facts.text
    assert prompt in facts.text
    gallery = TaskGallery(studio, auto_refresh=False)
    gallery.select(task)
    assert prompt in parse(gallery.detail_html.value).text
    card.close()
    gallery.close()


def test_the_limits_bench_shows_the_tree_limit_at_work(capsys) -> None:
    from argparse import Namespace

    from photolab_widgets.bench import limits

    assert limits.run(Namespace(sizes="50,1200")) == 0
    out = capsys.readouterr().out
    assert "with the limit: tree" in out and "with the limit: raw text" in out
    assert "1.0 MB params: built in" in out and "10,000-character prompt" in out


def _panel_markup(studio: Studio, s: str) -> dict[str, str]:
    """The Generate panel's summary and status for a batch whose task failed with s."""
    from photolab_widgets import GeneratePanel
    from photolab_widgets.models import Batch

    ids = _world(studio, s)
    with studio.session() as session:
        batch = Batch(collection_name=s, person_id=ids["person"], status="sent")
        session.add(batch)
        session.flush()
        session.execute(
            text("UPDATE tasks SET batch_id = :b WHERE id = :t"),
            {"b": batch.id, "t": ids["task"]},
        )
        batch_id = batch.id
    panel = GeneratePanel(studio, poll_interval=60)
    try:
        panel.collection.value = s
        panel.person.value = ids["person"]
        panel.batch_id = batch_id
        panel.refresh_progress()
        return {"summary": panel.summary.value, "status": panel.status.value}
    finally:
        panel.close()


@pytest.mark.parametrize("s", HOSTILE, ids=range(len(HOSTILE)))
def test_the_generate_panel_shows_names_and_errors_as_text(
    studio: Studio, s: str
) -> None:
    hostile = _panel_markup(studio, s)
    plain = _panel_markup(studio, PLAIN)

    for part in ("summary", "status"):
        assert_inert(hostile[part], plain[part])
    assert s in parse(hostile["summary"]).text
    assert s.splitlines()[0] in parse(hostile["status"]).text  # the first error line


def test_a_status_no_view_knows_is_shown_as_text(studio: Studio) -> None:
    # Workers are the studio's own: any text can reach tasks.status (32 chars).
    evil, plain = "x'><img src=x onerror=alert(1)>", "archived"
    scene = add_scene(studio, collection_name="c")
    person = add_user(studio)
    ids = {s: add_task(studio, scene, person, status=s) for s in (evil, plain)}
    gallery = TaskGallery(studio, auto_refresh=False)
    try:
        cards = {
            row.id: card.children[0].value  # type: ignore[attr-defined]
            for row, card in zip(gallery.rows, gallery.grid.children, strict=False)
        }
        page = assert_inert(cards[ids[evil]], cards[ids[plain]])
        assert evil.capitalize() in page.text
    finally:
        gallery.close()

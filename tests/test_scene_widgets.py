"""The Scene edit view driven like a person would, without a browser.

A person clicks buttons (``Button.click()`` runs the same handlers), types into
fields and picks tree nodes; here that is ``set_state`` with what the browser
would send. Every test runs on SQLite and on MariaDB through ``studio``.
"""

from __future__ import annotations

import html

import ipywidgets as w
import pytest
from ipywidgets.widgets.widget import _instances
from sqlalchemy import text

from photolab_widgets import jsondoc
from photolab_widgets.widgets.json_editor import JsonEditor
from photolab_widgets.widgets.scene import SceneBoard, SceneCard
from tests.factories import add_scene, add_task, add_user
from tests.test_edits import ROUND_TRIP

MARKUP = "<b>bold</b><script>alert(1)</script>"


# -- a person's hands ----------------------------------------------------------


def type_into(field: w.Widget, value) -> None:
    """What the browser sends when a person types into a field and leaves it."""
    field.set_state({"value": value})


def choose(dropdown: w.Dropdown, label: str) -> None:
    """What the browser sends when a person picks an option (its index)."""
    labels = [
        option[0] if isinstance(option, tuple) else option
        for option in dropdown.options
    ]
    dropdown.set_state({"index": labels.index(label)})


def pick(editor: JsonEditor, path) -> None:
    """What the browser sends when a person clicks a tree node."""
    node = editor._nodes[tuple(path)]
    editor.tree.set_state({"selected_nodes": [f"IPY_MODEL_{node.model_id}"]})
    assert editor.selected_path == tuple(path)


def open_editor(card: SceneCard) -> JsonEditor:
    card.edit_button.click()
    assert card.editor is not None
    return card.editor


def db_params(studio, scene_id: int):
    found = studio.scene(scene_id)
    assert found is not None
    return found.scene.params


def is_null(studio, scene_id: int) -> bool:
    with studio.session() as s:
        return bool(
            s.execute(
                text("SELECT params IS NULL FROM scenes WHERE scene_id = :i"),
                {"i": scene_id},
            ).scalar_one()
        )


def raw_params(studio, scene_id: int):
    with studio.session() as s:
        return s.execute(
            text("SELECT params FROM scenes WHERE scene_id = :i"), {"i": scene_id}
        ).scalar_one()


def labels(editor: JsonEditor) -> list[str]:
    return [node.name for node in editor._nodes.values()]


# -- the params editor -----------------------------------------------------------


def test_a_person_selects_edits_adds_deletes_and_saves(studio):
    sid = add_scene(
        studio,
        params={
            "steps": 30,
            "size": {"width": 768},
            "loras": [{"name": "film"}],
            "drop me": True,
        },
    )
    card = SceneCard(studio, sid)
    editor = open_editor(card)

    pick(editor, ("size", "width"))
    type_into(editor.value_field, "1024")
    assert "width: 1024" in labels(editor)
    assert '"width": 1024' in editor.raw_field.value

    pick(editor, ("steps",))
    choose(editor.type_field, "number")

    pick(editor, ("loras",))
    editor.add_button.click()
    assert editor.selected_path == ("loras", 1)
    choose(editor.type_field, "object")
    editor.add_button.click()
    assert editor.selected_path == ("loras", 1, "new key")
    type_into(editor.key_field, "name")
    type_into(editor.value_field, "柔光 🎞️")

    pick(editor, ("drop me",))
    editor.delete_button.click()
    assert editor.selected_path == ()

    pick(editor, ())
    editor.add_button.click()
    type_into(editor.key_field, "seed")
    choose(editor.type_field, "integer")
    type_into(editor.value_field, str(2**60 + 1))

    assert "Unsaved" in card.status.value
    card.save_button.click()
    assert "Saved" in card.status.value, card.status.value
    expected = {
        "steps": 30.0,
        "size": {"width": 1024},
        "loras": [{"name": "film"}, {"name": "柔光 🎞️"}],
        "seed": 2**60 + 1,
    }
    assert jsondoc.same(db_params(studio, sid), expected)
    assert "柔光 🎞️" in raw_params(studio, sid)
    assert not editor.dirty
    card.close()


def test_every_type_round_trips_through_the_editor(studio):
    sid = add_scene(studio)
    for value in ROUND_TRIP:
        studio.save_params(sid, value)
        card = SceneCard(studio, sid)
        editor = open_editor(card)
        assert jsondoc.same(editor.value, value)
        assert jsondoc.same(jsondoc.loads(editor.raw_field.value), value)
        # Saving what was loaded changes nothing, not even 1.0 into 1.
        assert card.save()
        assert jsondoc.same(db_params(studio, sid), value), value
        card.close()


def test_big_integers_are_edited_as_text(studio):
    sid = add_scene(studio, params={"seed": 2**60 + 1})
    editor = open_editor(SceneCard(studio, sid))
    pick(editor, ("seed",))
    assert editor.value_field.value == "1152921504606846977"
    type_into(editor.value_field, "1152921504606846979")
    assert editor.value["seed"] == 2**60 + 3


def test_types_change_as_a_person_picks_them():
    editor = JsonEditor({"a": "1", "b": 1, "c": {"x": 1}})
    pick(editor, ("a",))
    choose(editor.type_field, "integer")
    assert jsondoc.same(editor.value["a"], 1)
    choose(editor.type_field, "boolean")
    assert editor.error and "not a boolean" in editor.field_message.value
    type_into(editor.value_field, "true")
    assert editor.value["a"] is True and editor.error is None
    choose(editor.type_field, "string")
    assert editor.value["a"] == "true"
    choose(editor.type_field, "null")
    assert editor.value["a"] is None
    pick(editor, ("c",))
    choose(editor.type_field, "array")
    assert editor.value["c"] == [1]
    pick(editor, ("b",))
    choose(editor.type_field, "number")
    assert jsondoc.same(editor.value["b"], 1.0)
    editor.close()


def test_letters_in_a_number_field_leave_the_row_alone(studio):
    sid = add_scene(studio, params={"steps": 30})
    before = raw_params(studio, sid)
    card = SceneCard(studio, sid)
    editor = open_editor(card)
    pick(editor, ("steps",))
    type_into(editor.value_field, "30abc")

    assert "not a whole number" in editor.field_message.value
    assert editor.value_field.value == "30abc"  # kept for fixing
    assert editor.value == {"steps": 30}
    card.save_button.click()
    assert "Not saved" in card.status.value
    assert raw_params(studio, sid) == before

    type_into(editor.value_field, "31")
    assert card.save()
    assert db_params(studio, sid) == {"steps": 31}


def test_raw_text_that_is_not_json_is_kept_and_not_saved(studio):
    sid = add_scene(studio, params={"steps": 30})
    before = raw_params(studio, sid)
    card = SceneCard(studio, sid)
    editor = open_editor(card)
    broken = '{"steps": 31, "cfg": 7.5,}'
    type_into(editor.raw_field, broken)

    assert "not valid JSON" in editor.raw_message.value
    assert editor.raw_field.value == broken
    editor.add_button.click()  # the tree is locked, the text stays
    assert editor.raw_field.value == broken
    assert "raw text" in editor.field_message.value
    assert not card.save()
    assert raw_params(studio, sid) == before

    type_into(editor.raw_field, '{"steps": 31, "cfg": 7.5}')
    assert editor.error is None
    assert "cfg: 7.5" in labels(editor)
    assert card.save()
    assert jsondoc.same(db_params(studio, sid), {"steps": 31, "cfg": 7.5})


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ('{"style": "film \\ud83c"}', "half of a character"),  # an emoji cut
        ('{"seed": 1e400}', "too large"),
    ],
)
def test_raw_text_the_database_cannot_hold_is_refused_where_typed(studio, typed, said):
    sid = add_scene(studio, params={"steps": 30})
    before = raw_params(studio, sid)
    card = SceneCard(studio, sid)
    editor = open_editor(card)
    type_into(editor.raw_field, typed)

    assert said in editor.raw_message.value
    assert editor.raw_field.value == typed
    assert not card.save()
    assert raw_params(studio, sid) == before


def test_a_type_change_that_drops_values_says_so(studio):
    sid = add_scene(studio, params={"size": {"width": 768, "height": 1024}})
    card = SceneCard(studio, sid)
    editor = open_editor(card)

    assert editor.edit(("size",), kind="array")
    assert "keys width, height" in editor.field_message.value
    assert editor.edit(("size",), kind="boolean")
    assert "Its 2 items" in editor.field_message.value
    assert "Revert" in editor.field_message.value
    editor.edit(("size",), kind="boolean", text="true")
    assert editor.field_message.value == ""  # nothing dropped by this one


def test_params_with_half_a_character_from_elsewhere_open_and_save(sqlite_studio):
    # Another tool stored the escape of a lone surrogate: valid JSON to
    # SQLite (MariaDB's JSON_VALID refuses it, so no row there holds one).
    studio = sqlite_studio
    sid = add_scene(studio)
    with studio.session() as s:
        s.execute(
            text("UPDATE scenes SET params = :p WHERE scene_id = :i"),
            {"p": '{"style": "film \\ud83c", "steps": 30}', "i": sid},
        )
    card = SceneCard(studio, sid)
    editor = open_editor(card)
    assert editor.value == {"style": "film \ud83c", "steps": 30}
    card.reload()
    assert "Reloaded" in card.status.value, card.status.value

    editor.edit(("steps",), kind="integer", text="31")
    assert card.save(), card.status.value
    assert db_params(studio, sid) == {"style": "film \ud83c", "steps": 31}
    assert "\\ud83c" in raw_params(studio, sid)  # stored as its escape


@pytest.mark.parametrize("how", ["blank raw text", "delete the root"])
def test_an_empty_editor_saves_sql_null(studio, how):
    sid = add_scene(studio, params={"steps": 30})
    card = SceneCard(studio, sid)
    editor = open_editor(card)
    if how == "blank raw text":
        type_into(editor.raw_field, "  \n")
    else:
        pick(editor, ())
        editor.delete_button.click()
    assert editor.value is None
    assert "saves as NULL" in labels(editor)[0]
    assert card.save()
    assert is_null(studio, sid)

    # An empty editor can be filled again from its root.
    editor.add_button.click()
    assert editor.value == {"new key": ""}


def test_revert_drops_unsaved_edits(studio):
    sid = add_scene(studio, params={"a": [1, 2], "b": "x"})
    card = SceneCard(studio, sid)
    editor = open_editor(card)
    original_text = editor.raw_field.value
    pick(editor, ("a", 0))
    editor.delete_button.click()
    type_into(editor.raw_field, "{oops")
    card.revert_button.click()

    assert editor.value == {"a": [1, 2], "b": "x"}
    assert editor.raw_field.value == original_text
    assert editor.error is None and not editor.dirty
    assert db_params(studio, sid) == {"a": [1, 2], "b": "x"}


def test_a_stale_save_is_refused_and_reload_recovers(studio):
    sid = add_scene(studio, params={"steps": 30, "cfg": 7.0})
    ada, bob = SceneCard(studio, sid), SceneCard(studio, sid)
    ada_editor, bob_editor = open_editor(ada), open_editor(bob)

    pick(ada_editor, ("steps",))
    type_into(ada_editor.value_field, "40")
    ada.save_button.click()
    pick(bob_editor, ("cfg",))
    type_into(bob_editor.value_field, "9")
    bob.save_button.click()

    assert "someone else changed" in bob.status.value
    assert bob.reload_button.button_style == "warning"
    assert bob_editor.value == {"steps": 30, "cfg": 9.0}  # Bob's edit is not lost
    assert jsondoc.same(db_params(studio, sid), {"steps": 40, "cfg": 7.0})

    bob.reload_button.click()
    assert jsondoc.same(bob_editor.value, {"steps": 40, "cfg": 7.0})
    pick(bob_editor, ("cfg",))
    type_into(bob_editor.value_field, "9")
    assert bob.save()
    assert jsondoc.same(db_params(studio, sid), {"steps": 40, "cfg": 9.0})


def test_markup_in_keys_and_values_is_shown_as_text(studio):
    sid = add_scene(studio, params={MARKUP: MARKUP, "list": [MARKUP]})
    editor = open_editor(SceneCard(studio, sid))
    names = " ".join(labels(editor))
    assert "<b>" not in names and "<script>" not in names
    assert html.escape(MARKUP) in names
    pick(editor, (MARKUP,))
    assert editor.key_field.value == MARKUP  # the field holds the text itself
    type_into(editor.key_field, "<i>renamed</i>")
    assert "&lt;i&gt;renamed&lt;/i&gt;" in " ".join(labels(editor))


def test_closing_the_editor_refuses_to_drop_edits(studio):
    sid = add_scene(studio, params={"a": 1})
    card = SceneCard(studio, sid)
    editor = open_editor(card)
    pick(editor, ("a",))
    type_into(editor.value_field, "2")
    card.edit_button.click()
    assert card.editor is editor and "unsaved" in card.status.value
    assert card.close_editor(discard=True)
    assert card.editor is None
    assert db_params(studio, sid) == {"a": 1}


# -- the rate --------------------------------------------------------------------


def test_rate_buttons_move_by_one_and_stop_at_the_ends(studio):
    sid = add_scene(studio, rate=9.5)
    card = SceneCard(studio, sid)
    assert "9.5" in card.rate_label.value
    card.plus_button.click()
    assert card.rate_value == 10.0 and card.plus_button.disabled
    card.minus_button.click()
    assert card.rate_value == 9.0 and not card.plus_button.disabled

    unrated = SceneCard(studio, add_scene(studio, rate=None))
    assert "unrated" in unrated.rate_label.value and unrated.minus_button.disabled
    unrated.plus_button.click()
    assert unrated.rate_value == 1.0 and not unrated.minus_button.disabled
    unrated.minus_button.click()
    assert unrated.rate_value == 0.0 and unrated.minus_button.disabled


def test_rate_shows_what_the_database_holds(studio):
    sid = add_scene(studio, rate=3.0)
    mine, theirs = SceneCard(studio, sid), SceneCard(studio, sid)
    theirs.rate(+1)
    assert mine.rate(+1) == 5.0  # both clicks count, and mine shows the sum
    assert "<b>5</b>" in mine.rate_label.value


# -- the card ----------------------------------------------------------------------


def test_card_shows_pictures_facts_and_tasks_escaped(studio):
    long_prompt = MARKUP + " a long prompt" * 40
    sid = add_scene(
        studio,
        prompt=long_prompt,
        collection_name="<i>夏日</i> 🐾",
        name="<u>n</u>",
        base_img_key="demo/base/a.jpg",
        hint_img_list=["https://example.com/pose.png?a=1&b=<2>"],
    )
    person = add_user(studio, "<b>Bob</b>")
    add_task(studio, sid, person, status="failed", error="<img src=x onerror=alert(1)>")
    add_task(studio, sid, person, status="done", result_img_key="r/1.jpg")
    card = SceneCard(studio, sid)

    for part in (card.facts.value, card.task_strip.value, card.pictures.value):
        assert "<script>" not in part and "<b>bold" not in part
        assert "<i>夏日" not in part and "<img src=x" not in part
    assert html.escape("<i>夏日</i> 🐾") in card.facts.value
    assert "<details" in card.facts.value  # long prompts fold
    assert "https://example.com/pose.png?a=1&amp;b=&lt;2&gt;" in card.pictures.value
    assert "no base image" in card.pictures.value  # the local file is missing
    assert "2 tasks" in card.task_strip.value
    assert "plw-badge-failed" in card.task_strip.value
    assert "&lt;img src=x" in card.task_strip.value
    card.close()


def test_a_missing_scene_says_so(studio):
    card = SceneCard(studio, 424242)
    assert "does not exist" in card.facts.value
    assert card.plus_button.disabled and card.edit_button.disabled
    assert card.edit() is None


def test_a_deleted_scene_refuses_rate_and_save(studio):
    sid = add_scene(studio, params={"a": 1}, rate=1)
    card = SceneCard(studio, sid)
    editor = open_editor(card)
    with studio.session() as s:
        s.execute(text("DELETE FROM scenes WHERE scene_id = :i"), {"i": sid})
    assert card.rate(+1) is None and "no longer exists" in card.status.value
    pick(editor, ("a",))
    type_into(editor.value_field, "2")
    assert not card.save() and "no longer exists" in card.status.value


def test_cards_and_editors_close_every_model_they_made(studio):
    sid = add_scene(studio, params={"a": {"b": [1, 2, {"c": None}]}, "d": "x"})
    before = len(_instances)
    card = SceneCard(studio, sid)
    closed_card = len(_instances) - before
    editor = open_editor(card)
    with_editor = len(_instances) - before
    for n in range(10):  # rebuilding nodes must not leak them
        pick(editor, ("a", "b", 0))
        type_into(editor.value_field, str(n))
        pick(editor, ("a",))
        choose(editor.type_field, "array")
        card.revert_button.click()
    assert len(_instances) - before == with_editor
    card.close_editor(discard=True)
    assert len(_instances) - before == closed_card
    card.close()
    assert len(_instances) == before
    assert closed_card <= 32


# -- the board -----------------------------------------------------------------------


def _fill(studio, collections=("c1", "c2"), per=7) -> dict[str, list[int]]:
    person = add_user(studio)
    out: dict[str, list[int]] = {}
    for name in collections:
        out[name] = [
            add_scene(studio, collection_name=name, params={"i": i}) for i in range(per)
        ]
        for sid in out[name][:3]:
            add_task(studio, sid, person)
    return out


def test_board_pages_through_a_collection(studio, count_queries):
    ids = _fill(studio)
    board = SceneBoard(studio, "c1", page_size=3)
    assert [c.scene_id for c in board.cards] == ids["c1"][:3]
    assert "1–3 of 7" in board.position.value
    assert board.previous_button.disabled
    assert all(len(c.tasks) == 1 for c in board.cards)

    with count_queries(studio) as q:
        board.next_button.click()
    assert q.count <= 3  # scenes, their tasks, the count: not one per card
    assert [c.scene_id for c in board.cards] == ids["c1"][3:6]
    board.go_to_page(99)
    assert [c.scene_id for c in board.cards] == ids["c1"][6:]
    assert board.next_button.disabled
    board.close()


def test_board_collection_dropdown(studio):
    ids = _fill(studio, collections=("c1", "<b>c2</b>"), per=2)
    board = SceneBoard(studio)
    labels_shown = [label for label, _ in board.collection_field.options]
    assert labels_shown == ["All collections", "<b>c2</b>", "c1"]
    assert board.total == 4

    choose(board.collection_field, "<b>c2</b>")
    assert board.collection_name == "<b>c2</b>"
    assert [c.scene_id for c in board.cards] == ids["<b>c2</b>"]
    choose(board.collection_field, "All collections")
    assert board.collection_name is None and board.total == 4

    board.show_collection("nobody")
    assert board.cards == [] and "No scenes" in board.status.value
    board.close()


def test_board_keeps_unsaved_edits_when_leaving_the_page(studio):
    ids = _fill(studio, collections=("c1", "c2"), per=3)
    board = SceneBoard(studio, "c1", page_size=2)
    card = board.cards[0]
    editor = open_editor(card)
    pick(editor, ("i",))
    type_into(editor.value_field, "99")

    board.next_button.click()
    assert board.page == 0 and board.cards[0] is card
    assert "unsaved" in board.status.value
    choose(board.collection_field, "c2")
    assert board.collection_name == "c1" and board.collection_field.value == 1

    card.save_button.click()
    board.next_button.click()
    assert board.page == 1
    assert db_params(studio, ids["c1"][0]) == {"i": 99}
    board.close()


def test_board_closes_the_cards_it_replaces(studio):
    _fill(studio, collections=("c1",), per=9)
    before = len(_instances)
    board = SceneBoard(studio, page_size=3)
    first_page = len(_instances) - before
    open_editor(board.cards[0])
    board.next_page()
    board.next_page()
    board.previous_page()
    assert len(_instances) - before == first_page
    board.close()
    assert len(_instances) == before


def test_board_opens_the_page_of_a_linked_scene(studio):
    ids = _fill(studio, collections=("c1", "c2"), per=7)
    board = SceneBoard(studio, page_size=3)

    class Link:  # what the app's deep link carries
        scene_id = ids["c2"][5]
        collection = None

    board.open_link(Link)
    assert board.collection_name == "c2" and board.page == 1
    outlined = [c.scene_id for c in board.cards if "plw-linked" in c._dom_classes]
    assert outlined == [Link.scene_id]  # the linked card stands out on its page
    board.next_page()
    assert not any("plw-linked" in c._dom_classes for c in board.cards)
    assert not board.show_scene(987654)
    assert "does not exist" in board.status.value
    board.close()

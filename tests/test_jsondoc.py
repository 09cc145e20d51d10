"""The editor's JSON rules: types, text, paths. No database, no widgets."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from photolab_widgets import jsondoc
from photolab_widgets.jsondoc import JsonValueError

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**130), max_value=2**130)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_raw_text_round_trips_every_value(value):
    text = jsondoc.dumps(value)
    assert jsondoc.same(jsondoc.loads(text), value)


@given(scalars.filter(lambda v: v is not None))
def test_value_field_round_trips_every_scalar(value):
    kind = jsondoc.type_of(value)
    assert jsondoc.same(jsondoc.parse_value(kind, jsondoc.value_text(value)), value)


def test_same_tells_json_types_apart():
    assert not jsondoc.same(1, 1.0)
    assert not jsondoc.same(1, True)
    assert not jsondoc.same("1", 1)
    assert not jsondoc.same({}, [])
    assert not jsondoc.same(None, {})
    assert jsondoc.same({"a": 1, "b": 2}, {"b": 2, "a": 1})
    assert not jsondoc.same([1, 2], [2, 1])


def test_blank_text_is_no_value_and_characters_stay_characters():
    assert jsondoc.loads("  \n") is None
    assert jsondoc.loads("null") is None
    assert jsondoc.dumps(None) == ""
    assert "🎞️" in jsondoc.dumps({"风格": "胶片 🎞️"})
    assert jsondoc.loads(str(2**200)) == 2**200


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{'a': 1}", "not valid JSON"),
        ('{"a": 1,}', "not valid JSON"),
        ('{"a": NaN}', "no NaN"),
        ("[Infinity]", "no Infinity"),
        ('{"a": 1, "a": 2}', "appears twice"),
        ("9" * 5000, "too long"),
        ("[1, 2", "line 1, column 6"),
        ('{"a": 1e400}', "too large"),
        ("-1e400", "too large"),
        ('{"a": "\\ud800"}', "half of a character"),
        ('{"\\ud83d": 1}', "half of a character"),
    ],
)
def test_bad_raw_text_says_what_is_wrong(text, words):
    with pytest.raises(JsonValueError, match=words):
        jsondoc.loads(text)


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("integer", "42", 42),
        ("integer", " -7 ", -7),
        ("integer", str(2**64 + 1), 2**64 + 1),
        ("number", "1", 1.0),
        ("number", "7.5", 7.5),
        ("number", "1e-4", 1e-4),
        ("boolean", "True", True),
        ("boolean", "false", False),
        ("string", " keep spaces ", " keep spaces "),
        ("string", "", ""),
        ("null", "anything", None),
    ],
)
def test_value_fields_read_their_type(kind, text, expected):
    assert jsondoc.same(jsondoc.parse_value(kind, text), expected)


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("integer", "12abc"),
        ("integer", "1.5"),
        ("integer", ""),
        ("number", "seven"),
        ("number", "1_000"),
        ("number", "nan"),
        ("number", "1e999"),
        ("boolean", "yes"),
        ("string", "half an emoji \ud83d"),
    ],
)
def test_letters_in_a_number_field_are_refused(kind, text):
    with pytest.raises(JsonValueError):
        jsondoc.parse_value(kind, text)


def test_type_changes():
    assert jsondoc.convert(1, "string", "1") == "1"
    assert jsondoc.same(jsondoc.convert("1", "integer", "1"), 1)
    assert jsondoc.same(jsondoc.convert(1, "number", "1"), 1.0)
    assert jsondoc.convert("x", "null", "x") is None
    assert jsondoc.convert(5, "object", "5") == {}
    assert jsondoc.convert(None, "array", "") == []
    assert jsondoc.same(jsondoc.convert(None, "integer", ""), 0)
    assert jsondoc.same(jsondoc.convert(None, "integer", "5"), 5)
    assert jsondoc.convert(None, "string", "") == ""
    assert jsondoc.convert({"a": 1, "b": 2}, "array", "") == [1, 2]
    assert jsondoc.convert([1, 2], "object", "") == {"0": 1, "1": 2}
    assert jsondoc.same(jsondoc.convert({"a": 1}, "number", ""), 0.0)
    with pytest.raises(JsonValueError):
        jsondoc.convert("abc", "integer", "abc")


def test_a_type_change_says_what_it_drops():
    assert "Its 2 members" in jsondoc.dropped({"a": 1, "b": [2]}, False)
    assert "Its 1 item" in jsondoc.dropped([7], None)
    assert "keys width, height" in jsondoc.dropped({"width": 1, "height": 2}, [1, 2])
    for old, new in (({}, 0), ([1], {"0": 1}), (5, "5"), ({"a": 1}, {"a": 1})):
        assert jsondoc.dropped(old, new) is None


def test_edits_return_new_values_and_leave_the_old_alone():
    doc = {"a": {"b": [1, 2, 3]}, "c": "x", "d": None}
    frozen = json.dumps(doc)

    assert jsondoc.replace(doc, ("a", "b", 1), 9) == {
        "a": {"b": [1, 9, 3]},
        "c": "x",
        "d": None,
    }
    renamed = jsondoc.rename(doc, ("c",), "新 key")
    assert list(renamed) == ["a", "新 key", "d"]  # order kept
    shorter = jsondoc.delete(doc, ("a", "b", 0))
    assert shorter == {"a": {"b": [2, 3]}, "c": "x", "d": None}
    assert jsondoc.delete(doc, ()) is None

    added, path = jsondoc.add(doc, ("a", "b"))
    assert path == ("a", "b", 3) and added["a"]["b"] == [1, 2, 3, None]
    added, path = jsondoc.add(doc, ())
    assert path == ("new key",)
    added, path = jsondoc.add(added, ())
    assert path == ("new key 2",)

    assert json.dumps(doc) == frozen


def test_bad_edits_are_refused():
    doc = {"a": 1, "b": [1]}
    with pytest.raises(JsonValueError, match="already has the key"):
        jsondoc.rename(doc, ("a",), "b")
    with pytest.raises(JsonValueError):
        jsondoc.rename(doc, ("b", 0), "x")
    with pytest.raises(JsonValueError):
        jsondoc.add(doc, ("a",))
    with pytest.raises(JsonValueError, match="half of a character"):
        jsondoc.rename(doc, ("a",), "x\ud800")


def test_check_refuses_what_json_cannot_hold():
    for bad in (
        float("nan"),
        [float("-inf")],
        {1: "a"},
        {"a": {1, 2}},
        b"x",
    ):
        with pytest.raises(JsonValueError):
            jsondoc.check(bad)
    jsondoc.check({"a": [1, 1.5, "x", None, True, {"b": []}]})


def test_half_a_character_stored_elsewhere_keeps_its_escape():
    # Another tool may store "\ud83d"; it is a value, shown and saved as such.
    value = {"a\ud800": ["\udc00 x", "🎞️"]}
    jsondoc.check(value)
    text = jsondoc.dumps(value)
    assert text.encode("utf-8")  # encodes: no lone surrogate left in the text
    assert "\\ud800" in text and "🎞️" in text
    assert json.loads(text) == value


def test_paths_and_labels_for_messages():
    assert jsondoc.format_path(("loras", 1, "name")) == "params.loras[1].name"
    assert jsondoc.summary({"a": 1}) == "{1}"
    assert jsondoc.summary([]) == "[]"
    assert jsondoc.summary("1") == '"1"'
    assert jsondoc.summary(2**60) == str(2**60)
    assert jsondoc.summary("x" * 100).endswith("…")

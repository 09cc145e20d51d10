"""Deep links: parsing the page's query string and building links back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from photolab_widgets.widgets.links import (
    DeepLink,
    current_link,
    link_for,
    parse_deep_link,
)


@pytest.mark.parametrize(
    "query, expected",
    [
        ("", DeepLink()),
        ("?", DeepLink()),
        ("collection=summer", DeepLink(collection="summer")),
        (
            "?collection=cats+%26+dogs+%F0%9F%90%BE",
            DeepLink(collection="cats & dogs 🐾"),
        ),
        ("collection=%E5%A4%8F%E6%97%A5", DeepLink(collection="夏日")),
        ("scene=12", DeepLink(scene_id=12)),
        ("task=345&token=abc&theme=dark", DeepLink(task_id=345)),
        ("scene= 7 ", DeepLink(scene_id=7)),
        ("collection=&scene=", DeepLink()),
        ("scene=3&scene=4", DeepLink(scene_id=3)),
        ("collection=a&scene=2&task=9", DeepLink("a", 2, 9)),
    ],
)
def test_parse(query, expected):
    assert parse_deep_link(query) == expected


@pytest.mark.parametrize("raw", ["abc", "-1", "0", "1.5", "١٢", "1e3", "<b>2</b>"])
def test_bad_ids_become_sentences_not_errors(raw):
    link = parse_deep_link(link_for(collection="c") + "&scene=" + raw)
    assert link.scene_id is None
    assert link.collection == "c"
    assert len(link.problems) == 1 and "is not a scene number" in link.problems[0]


def test_tab_prefers_the_most_specific_target():
    assert DeepLink().tab is None
    assert DeepLink(collection="c").tab == "Scenes"
    assert DeepLink(collection="c", scene_id=1).tab == "Scenes"
    assert DeepLink(scene_id=1, task_id=2).tab == "Tasks"


def test_link_for_is_relative_by_default_and_takes_a_base():
    assert link_for(scene_id=12) == "?scene=12"
    assert link_for(task_id=3, base="/voila/") == "/voila/?task=3"
    assert link_for() == "?"
    assert DeepLink(collection="a b", task_id=1).href == "?collection=a+b&task=1"


def test_current_link_reads_voilas_query_string():
    assert current_link({"QUERY_STRING": "scene=5"}) == DeepLink(scene_id=5)
    assert current_link({}) == DeepLink()


@given(
    collection=st.none() | st.text(min_size=1),
    scene_id=st.none() | st.integers(min_value=1, max_value=2**63),
    task_id=st.none() | st.integers(min_value=1, max_value=2**63),
)
def test_link_round_trips(collection, scene_id, task_id):
    href = link_for(collection=collection, scene_id=scene_id, task_id=task_id)
    assert parse_deep_link(href) == DeepLink(collection, scene_id, task_id)


@given(st.text())
def test_any_query_string_parses_without_raising(query):
    link = parse_deep_link(query)
    assert isinstance(link, DeepLink)

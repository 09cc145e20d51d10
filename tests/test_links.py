"""Deep links: parsing the page's query string and building links back."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from photolab_widgets.widgets.links import (
    APP_URL_ENV,
    DeepLink,
    current_link,
    link_base,
    link_for,
    link_html,
    parse_deep_link,
)

#: Names that must survive a link: markup, quotes, URL syntax, Chinese, emoji.
AWKWARD_NAMES = [
    "<b>bold</b> & 'quoted' \"names\"",
    "a=1&b=2?#fragment /path% +plus",
    "summer-portraits 夏日写真",
    "cats & dogs 🐾",
]


def href_of(markup: str) -> str:
    """The address in an ``<a href='...'>`` as the browser reads it."""
    found = re.search(r"href='([^']*)'", markup)
    assert found, markup
    return html.unescape(found[1])


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


def test_link_for_keeps_a_query_the_base_already_has():
    assert link_for(scene_id=1, base="https://x/app/?token=t") == (
        "https://x/app/?token=t&scene=1"
    )


def test_links_are_relative_on_voila_absolute_from_the_app_url_else_none():
    voila = {"SERVER_SOFTWARE": "voila/0.5.13", "QUERY_STRING": ""}
    assert link_base(voila) == ""
    assert link_base({**voila, APP_URL_ENV: "https://studio/app/"}) == ""
    # JupyterLab: a relative link would open the lab, so only the app URL helps.
    assert link_base({}) is None
    assert link_base({APP_URL_ENV: " https://studio/app/ "}) == "https://studio/app/"
    assert link_base({APP_URL_ENV: ""}) is None


def test_no_base_no_link():
    assert link_html(None, "link", scene_id=3) == ""


@pytest.mark.parametrize("name", AWKWARD_NAMES)
def test_link_html_escapes_the_text_and_encodes_the_address(name):
    markup = link_html("", f"open {name}", collection=name)
    assert "<b>" not in markup and '"names' not in markup
    assert html.escape(f"open {name}") in markup
    href = href_of(markup)
    assert href.startswith("?collection=") and " " not in href
    assert parse_deep_link(href) == DeepLink(collection=name)
    absolute = href_of(link_html("https://studio/app/", "x", collection=name))
    assert absolute == "https://studio/app/" + href

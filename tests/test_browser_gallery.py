"""The task gallery in the Voila app, in headless Chromium, on the demo data."""

from __future__ import annotations

import pytest

from tests.browser import screenshot, wait_for_widgets

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LOADED = "els => els.map(e => e.complete ? e.naturalWidth : -1)"


def _wait_images(page, selector: str) -> list[int]:
    page.wait_for_function(
        f"() => [...document.querySelectorAll({selector!r})].every(e => e.complete)",
        timeout=30_000,
    )
    return page.locator(selector).evaluate_all(LOADED)


def test_cards_flow_in_two_columns_with_images_and_data(demo_server, page):
    page.goto(demo_server.url)
    wait_for_widgets(page)
    page.wait_for_selector(".plg-card .plg-data")
    cards = page.locator(".plg-card")
    assert cards.count() == 20

    boxes = [cards.nth(i).bounding_box() for i in range(4)]
    assert abs(boxes[0]["y"] - boxes[1]["y"]) < 2  # side by side
    assert boxes[1]["x"] > boxes[0]["x"] + boxes[0]["width"] - 2
    assert abs(boxes[2]["x"] - boxes[0]["x"]) < 2  # the flow goes down
    assert boxes[2]["y"] > boxes[0]["y"] + boxes[0]["height"] - 2

    widths = _wait_images(page, ".plg-card img")
    assert widths and all(w > 0 for w in widths), widths
    assert page.locator(".plg-card .plg-ph").count() > 0  # pending and failed
    first = cards.nth(0).locator(".plg-data").inner_text()
    for field in ("Task", "Status", "Person", "Scene", "Collection", "Created"):
        assert field in first
    assert "Tasks 1–20 of 24" in page.locator(".plg-position").inner_text()

    with_image = page.locator(".plg-card", has=page.locator("img")).first
    task = with_image.locator(".plg-data dd").first.inner_text()
    with_image.locator("button").click()
    panel = page.locator(".plg-detail")
    panel.wait_for(state="visible")
    page.wait_for_function(
        "t => document.querySelector('.plg-detail h3')?.textContent.includes(t)",
        arg=task,
    )
    assert _wait_images(page, ".plg-detail img")[0] > 0
    assert "Image URL" in panel.inner_text()
    page.wait_for_timeout(300)
    screenshot(page, "gallery.png", docs="screenshot-gallery.png")


def test_a_filter_chosen_in_the_page_reloads_the_cards(demo_server, page):
    page.goto(demo_server.url)
    wait_for_widgets(page)
    page.wait_for_selector(".plg-card .plg-data")
    status = page.locator(".widget-dropdown", has_text="Status").locator("select")
    status.select_option("failed")
    page.wait_for_function(
        "() => document.querySelector('.plg-position').textContent.includes('of 7,')",
        timeout=30_000,
    )
    badges = page.locator(".plg-card .plg-badge").all_inner_texts()
    assert badges and set(badges) == {"failed"}
    assert page.locator(".plg-card details.plg-error").count() == len(badges)

    status.select_option("(any)")  # back to every task, and the box says so
    page.wait_for_function(
        "() => document.querySelector('.plg-position').textContent.includes('of 24,')",
        timeout=30_000,
    )
    page.wait_for_timeout(500)  # let any echo from the kernel arrive
    assert status.evaluate("e => e.options[e.selectedIndex]?.text") == "(any)"

"""The Voila app on the demo data renders in headless Chromium."""

from __future__ import annotations

import pytest

from tests.browser import screenshot, wait_for_widgets

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_app_renders_with_images(demo_server, page):
    page.goto(demo_server.url)
    wait_for_widgets(page)
    page.wait_for_timeout(1500)
    images = page.locator(".photolab-app img")
    widths = images.evaluate_all(
        "els => els.map(e => e.complete ? e.naturalWidth : -1)"
    )
    if widths:  # the views that show images have to load them
        assert all(w > 0 for w in widths), widths
    screenshot(page, "app.png", docs="screenshot-app.png")

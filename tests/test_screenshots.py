"""Browser tests write their screenshots to artifacts/; docs/ only on request."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import browser


class FakePage:
    """What ``screenshot`` needs of a Playwright page: it writes a file."""

    def screenshot(self, *, path: str, full_page: bool) -> None:
        Path(path).write_bytes(b"\x89PNG fake")


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    artifacts, docs = tmp_path / "artifacts", tmp_path / "docs"
    monkeypatch.setattr(browser, "ARTIFACTS", artifacts)
    monkeypatch.setattr(browser, "DOCS", docs)
    return artifacts, docs


def test_a_test_run_leaves_docs_alone(folders, monkeypatch):
    artifacts, docs = folders
    monkeypatch.delenv(browser.UPDATE_SCREENSHOTS, raising=False)
    path = browser.screenshot(FakePage(), "app.png", docs="screenshot-app.png")
    assert path == artifacts / "app.png" and path.exists()
    assert not (docs / "screenshot-app.png").exists()


def test_the_variable_copies_the_readme_pictures_into_docs(folders, monkeypatch):
    artifacts, docs = folders
    monkeypatch.setenv(browser.UPDATE_SCREENSHOTS, "1")
    browser.screenshot(FakePage(), "app.png", docs="screenshot-app.png")
    browser.screenshot(FakePage(), "extra.png")  # not a README picture
    assert (docs / "screenshot-app.png").read_bytes() == b"\x89PNG fake"
    assert sorted(p.name for p in docs.iterdir()) == ["screenshot-app.png"]

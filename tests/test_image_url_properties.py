"""Any key gives a valid URL (Hypothesis)."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from photolab_widgets import image_url

BASES = st.sampled_from(
    [
        "https://photolab-test.oss-cn-shenzhen.aliyuncs.com/",
        "https://cdn.example/images",
        "file:///tmp/photolab%20home/images/",
    ]
)


@given(key=st.text(), base=BASES)
def test_any_key_gives_a_valid_url_or_none(key: str, base: str) -> None:
    url = image_url(key, base)
    cleaned = key.strip()
    if not cleaned:
        assert url is None
        return
    if cleaned.lower().startswith(("http://", "https://")):
        assert url == cleaned
        return
    assert url is not None
    assert url.startswith(base.rstrip("/") + "/")
    tail = url[len(base.rstrip("/")) + 1 :]
    assert tail.isascii() and tail.isprintable() and " " not in tail
    assert "?" not in tail and "#" not in tail
    assert unquote(tail) == cleaned.lstrip("/")
    parts = urlsplit(url)
    assert parts.scheme in ("https", "file") and not parts.query

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from photolab_widgets import image_url
from photolab_widgets.images import browser_src, key_path, thumbnail_url

OSS = "https://photolab-test.oss-cn-shenzhen.aliyuncs.com/"


@pytest.mark.parametrize(
    ("key", "base", "expected"),
    [
        ("a/b.png", None, OSS + "a/b.png"),
        ("/a/b.png", None, OSS + "a/b.png"),
        ("a/b.png", "https://cdn.example/x", "https://cdn.example/x/a/b.png"),
        ("a/b.png", "https://cdn.example/x/", "https://cdn.example/x/a/b.png"),
        ("my scene/1.png", OSS, OSS + "my%20scene/1.png"),
        ("场景/图 1.jpg", OSS, OSS + "%E5%9C%BA%E6%99%AF/%E5%9B%BE%201.jpg"),
        ("a#b?c.png", OSS, OSS + "a%23b%3Fc.png"),
        ("100%.png", OSS, OSS + "100%25.png"),
        ("https://other.example/x.png", OSS, "https://other.example/x.png"),
        ("HTTP://other.example/x.png", OSS, "HTTP://other.example/x.png"),
        (None, OSS, None),
        ("", OSS, None),
        ("   ", OSS, None),
    ],
)
def test_image_url(key, base, expected):
    assert image_url(key, base) == expected


def test_thumbnail_only_where_the_store_resizes():
    assert thumbnail_url(OSS + "a.png", 200) == (
        OSS + "a.png?x-oss-process=image/resize,w_200"
    )
    assert thumbnail_url("https://cdn.example/a.png", 200) == (
        "https://cdn.example/a.png"
    )
    assert thumbnail_url(None, 200) is None


def test_local_images_are_inlined_and_missing_ones_give_none(tmp_path: Path):
    folder = tmp_path / "images"
    path = key_path("dir/场景 1.png", folder)
    path.parent.mkdir(parents=True)
    Image.new("RGB", (640, 480), "red").save(path)
    url = image_url("dir/场景 1.png", folder.as_uri() + "/")
    assert url is not None and url.startswith("file://")
    src = browser_src(url, width=100)
    assert src is not None and src.startswith("data:image/jpeg;base64,")
    assert browser_src(folder.as_uri() + "/missing.png") is None
    assert browser_src(OSS + "a.png", 100) == thumbnail_url(OSS + "a.png", 100)


def test_key_cannot_leave_the_image_folder(tmp_path: Path):
    with pytest.raises(ValueError, match="leaves the image folder"):
        key_path("../../etc/passwd", tmp_path)


@pytest.mark.parametrize(
    "key", ["../outside.png", "a/../../outside.png", "%2E%2E/outside.png"]
)
def test_the_views_read_no_file_outside_the_image_folder(tmp_path: Path, key: str):
    # A scene's keys come from the database: "../" must not reach the disk.
    folder = tmp_path / "images"
    folder.mkdir()
    Image.new("RGB", (64, 64), "red").save(tmp_path / "outside.png")
    url = image_url(key, folder.as_uri() + "/")
    assert url is not None
    assert browser_src(url, width=32) is None

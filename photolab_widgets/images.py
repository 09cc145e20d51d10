"""Image keys to URLs, and URLs to something a browser can show.

The kernel never downloads remote images: an ``http(s)`` URL goes to the
browser as it is (with a resize query where the store supports one). Only a
``file://`` URL, the embedded demo store, is read by the kernel, shrunk with
Pillow and sent as a ``data:`` URI, since a page served over HTTP cannot load
``file://`` and the demo has to work offline in Voila and JupyterLab alike.
"""

from __future__ import annotations

import base64
import io
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

from .config import OSS_TEST_BUCKET

DEFAULT_IMAGE_BASE_URL = OSS_TEST_BUCKET


def image_url(key: str | None, base_url: str | None = None) -> str | None:
    """Join an object key to the image base URL.

    Each path segment of the key is percent-encoded (spaces, Chinese, ``#``,
    ``?``), slashes are kept and exactly one slash joins base and key. A key
    that is already an absolute ``http(s)`` URL is returned unchanged. ``None``
    or an empty key gives ``None``; views show a placeholder for it.
    """
    if key is None:
        return None
    key = key.strip()
    if not key:
        return None
    if key.lower().startswith(("http://", "https://")):
        return key
    base = base_url or DEFAULT_IMAGE_BASE_URL
    return base.rstrip("/") + "/" + quote(key.lstrip("/"), safe="/")


def key_path(key: str, folder: Path) -> Path:
    """Where a key lives in a local image folder; refuses to leave the folder."""
    target = (folder / key.lstrip("/")).resolve()
    if not target.is_relative_to(folder.resolve()):
        raise ValueError(f"image key leaves the image folder: {key!r}")
    return target


def thumbnail_url(url: str | None, width: int) -> str | None:
    """Ask the store for a smaller picture where it can resize (Aliyun OSS)."""
    if url is None:
        return None
    parsed = urlparse(url)
    if (
        parsed.scheme in ("http", "https")
        and parsed.hostname
        and (parsed.hostname.endswith(".aliyuncs.com"))
    ):
        sep = "&" if parsed.query else "?"
        return f"{url}{sep}x-oss-process=image/resize,w_{int(width)}"
    return url


def browser_src(url: str | None, width: int = 320) -> str | None:
    """A ``src`` the browser can load: remote URLs as they are, local files inline.

    Returns ``None`` when there is no image, or a local file is missing, not
    an image or outside its folder (a ``..`` in the key), so the caller shows
    its placeholder.
    """
    if url is None:
        return None
    if url.startswith("file://"):
        path = Path(unquote(urlparse(url).path))
        if ".." in path.parts:
            # A key from the database ("../../home/...") must not make the
            # kernel read, and send, a picture from outside the image folder.
            return None
        try:
            stat = path.stat()
        except (OSError, ValueError):  # missing, or a key with a NUL byte
            return None
        return _inline(str(path), stat.st_mtime_ns, int(width))
    return thumbnail_url(url, width)


@lru_cache(maxsize=2048)
def _inline(path: str, mtime_ns: int, width: int) -> str | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as source:
            img = source.convert("RGB")
        img.thumbnail((width, width * 4))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=82)
    except (OSError, UnidentifiedImageError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()

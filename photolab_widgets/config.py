"""Settings: the ``PHOTOLAB_*`` environment variables and their embedded defaults.

Nothing has to be running for the demo. With no variable set, the database is a
SQLite file, the Celery broker is kombu's filesystem transport and the result
backend is a second SQLite file, all under ``PHOTOLAB_HOME`` (``~/.photolab``).

The image base URL has one rule more than the table in DESIGN.md: when the
database is the embedded SQLite default and ``PHOTOLAB_IMAGE_BASE_URL`` is not
set, images live in ``PHOTOLAB_HOME/images`` (a ``file://`` base), because the
demo data and the demo worker write their pictures there and the demo must show
them without internet. As soon as a database URL is configured, the default is
the studio's OSS test bucket.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy.engine import make_url

#: Where the studio's test images live when nothing else is configured.
OSS_TEST_BUCKET = "https://photolab-test.oss-cn-shenzhen.aliyuncs.com/"

_ENV = {
    "home": "PHOTOLAB_HOME",
    "database_url": "PHOTOLAB_DATABASE_URL",
    "broker_url": "PHOTOLAB_BROKER_URL",
    "result_backend": "PHOTOLAB_RESULT_BACKEND",
    "image_base_url": "PHOTOLAB_IMAGE_BASE_URL",
}


@dataclass(frozen=True)
class Settings:
    """Where the studio's state lives.

    Attributes
    ----------
    home:
        Folder for embedded state (SQLite files, the filesystem queue, images).
    database_url:
        SQLAlchemy URL; ``mysql+pymysql://...`` in production.
    broker_url:
        Celery broker; ``redis://...`` in production, ``filesystem://`` embedded.
    result_backend:
        Celery result backend. Chords (the generate canvas) need one.
    image_base_url:
        Prefix that turns an object key into an image URL.
    """

    home: Path
    database_url: str
    broker_url: str
    result_backend: str
    image_base_url: str

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: str | Path | None
    ) -> Settings:
        """Read the environment, then apply keyword overrides (``None`` = unset)."""
        env = os.environ if environ is None else environ
        unknown = set(overrides) - set(_ENV)
        if unknown:
            raise TypeError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        given: dict[str, str] = {}
        for field, var in _ENV.items():
            value = overrides.get(field)
            if value is None:
                value = env.get(var) or None
            if value is not None:
                given[field] = str(value)

        home = Path(given.get("home") or Path.home() / ".photolab").expanduser()
        database_url = given.get("database_url") or sqlite_url(home / "photolab.db")
        broker_url = given.get("broker_url") or "filesystem://"
        result_backend = given.get("result_backend") or (
            "db+" + sqlite_url(home / "celery-results.db")
        )
        image_base_url = given.get("image_base_url")
        if image_base_url is None:
            if "database_url" in given:
                image_base_url = OSS_TEST_BUCKET
            else:
                image_base_url = (home / "images").resolve().as_uri() + "/"
        return cls(
            home=home,
            database_url=database_url,
            broker_url=broker_url,
            result_backend=result_backend,
            image_base_url=image_base_url,
        )

    def with_overrides(self, **overrides: str | Path) -> Settings:
        return replace(self, **overrides)  # type: ignore[arg-type]

    @property
    def images_dir(self) -> Path | None:
        """The local folder behind a ``file://`` image base, else ``None``."""
        if not self.image_base_url.startswith("file://"):
            return None
        from urllib.parse import unquote, urlparse

        return Path(unquote(urlparse(self.image_base_url).path))

    @property
    def broker_folder(self) -> Path:
        """Folder of kombu's filesystem transport (used when broker is embedded)."""
        return self.home / "broker"

    def redacted_database_url(self) -> str:
        """The database URL with its password masked, for messages and logs."""
        return redact_url(self.database_url)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.expanduser().resolve()}"


def redact_url(url: str) -> str:
    """Hide the password of a URL; leave anything unparsable as a bare scheme."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        scheme, sep, _rest = url.partition("://")
        # Keep a scheme only when it is one: a string without "://" may be a
        # password pasted in the wrong place.
        return f"{scheme}://***" if sep and re.fullmatch(_SCHEME, scheme) else "***"


_SCHEME = r"[A-Za-z][A-Za-z0-9+.\-]*"

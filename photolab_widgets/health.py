"""Can the studio reach its services? Plain sentences, never a password.

``serve`` checks the database before it starts Voila, and :func:`connect`
turns a failed first connection into :class:`DatabaseUnavailable`. Both must
say what is wrong without echoing the password of the database URL: the text
of a SQLAlchemy or PyMySQL error can carry the URL (an unparsable URL is
quoted whole), and tracebacks end up in notebooks, Voila pages and logs. So
every message is built from the *redacted* URL, and any text that comes from
a driver goes through :func:`scrub` first.

No widget code here: the data layer, ``serve`` and the app page all use it.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any
from urllib.parse import quote, unquote

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from .config import redact_url

log = logging.getLogger(__name__)

MASK = "***"

# MySQL/MariaDB client error numbers worth a sentence of their own.
_MYSQL_HINTS = {
    1044: "the user may not use this database",
    1045: "access denied: check the user name and password",
    1049: "the database does not exist (create it, then run init-db)",
    1698: "access denied: check the user name and password",
    2003: "no server answers at that host and port",
    2005: "the host name is unknown",
    2013: "the server closed the connection while connecting",
}


class DatabaseUnavailable(RuntimeError):
    """The database cannot be used; the message names no password."""


def secrets_of(url: str) -> list[str]:
    """The strings to hide for ``url``: its password, raw and decoded, and itself.

    The URL is parsed leniently by hand as well as by SQLAlchemy, because the
    URLs most likely to leak are the ones SQLAlchemy cannot parse.
    """
    found = {url}
    try:
        password = make_url(url).password
    except Exception:  # noqa: BLE001 - unparsable URLs are handled below
        password = None
    if password:
        found.update({str(password), quote(str(password), safe="")})
    netloc = url.split("://", 1)[-1].split("/", 1)[0]
    userinfo, at, _host = netloc.rpartition("@")
    if at and ":" in userinfo:
        raw = userinfo.split(":", 1)[1]
        if raw:
            found.update({raw, unquote(raw)})
    # Longest first, so a URL is masked whole before its password is.
    return sorted((s for s in found if s), key=len, reverse=True)


def scrub(message: str, *urls: str) -> str:
    """``message`` with every secret of ``urls`` replaced by ``***``.

    Short passwords are masked too even if that also masks an innocent word:
    a garbled sentence is better than a leaked password.
    """
    for url in urls:
        for secret in secrets_of(url):
            replacement = redact_url(url) if secret == url else MASK
            message = message.replace(secret, replacement)
    return message


def scrubbed_traceback(exc: BaseException, *urls: str) -> str:
    """The formatted traceback of ``exc`` with the secrets of ``urls`` masked."""
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return scrub("".join(lines), *urls)


def describe_database_error(exc: BaseException, url: str) -> str:
    """One plain sentence: which database, and what went wrong."""
    where = redact_url(url)
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        args: tuple[Any, ...] = tuple(getattr(exc.orig, "args", ()))
        code = args[0] if args and isinstance(args[0], int) else None
        detail = str(args[1]) if code is not None and len(args) > 1 else str(exc.orig)
        hint = _MYSQL_HINTS.get(code) if code is not None else None
        reason = f"{hint} ({detail})" if hint else detail
    elif isinstance(exc, ArgumentError | ValueError):
        reason = "the database URL is not valid (expected dialect+driver://...)"
    else:
        reason = str(exc) or type(exc).__name__
    return scrub(f"Cannot use the database {where}: {reason}.", url)


def check_database(url: str) -> None:
    """Connect once and run ``SELECT 1``; raise :class:`DatabaseUnavailable`.

    The original exception is not chained (``from None``) because its text may
    hold the password; it is logged here with the password masked.
    """
    from .db import make_engine

    engine = None
    try:
        engine = make_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - every failure gets a sentence
        log.debug("database check failed:\n%s", scrubbed_traceback(exc, url))
        raise DatabaseUnavailable(describe_database_error(exc, url)) from None
    finally:
        if engine is not None:
            engine.dispose()


def check_broker(url: str, timeout_s: float = 3.0) -> str | None:
    """``None`` when the Celery broker answers, else a sentence saying why not.

    The embedded ``filesystem://`` broker is a folder and always answers.
    """
    if url.startswith("filesystem://"):
        return None
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=timeout_s) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout_s)
    except Exception as exc:  # noqa: BLE001 - every failure gets a sentence
        reason = scrub(str(exc) or type(exc).__name__, url)
        return f"The Celery broker {redact_url(url)} does not answer: {reason}."
    return None

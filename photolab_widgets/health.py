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

import functools
import logging
import re
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


#: A password at least this long is also masked where it stands alone as a
#: word, unless it is letters only. A shorter one ("on", "1") or a plain word
#: ("database") is an ordinary word or number: masking it everywhere garbles
#: the sentence and, by where the ``***`` falls, tells it.
BARE_PASSWORD_MIN = 6


def _credentials(url: str) -> tuple[set[str], set[str]]:
    """The user names and the spellings of the password in ``url``.

    The URL is parsed leniently by hand as well as by SQLAlchemy, because the
    URLs most likely to leak are the ones SQLAlchemy cannot parse. A password
    is kept raw, percent-decoded and percent-encoded.
    """
    users: set[str] = set()
    passwords: set[str] = set()
    try:
        parsed = make_url(url)
        users.add(parsed.username or "")
        passwords.add(str(parsed.password or ""))
    except Exception:  # noqa: BLE001 - unparsable URLs are handled below
        pass
    netloc = url.split("://", 1)[-1].split("/", 1)[0]
    userinfo, at, _host = netloc.rpartition("@")
    if at:
        user, _colon, raw = userinfo.partition(":")
        users.update({user, unquote(user)})
        passwords.update({raw, unquote(raw)})
    passwords.update({quote(p, safe="") for p in passwords})
    return users - {""}, passwords - {""}


def _alone(literal: str) -> str:
    """A pattern for ``literal`` where it is not part of a longer word."""
    return rf"(?<!\w){re.escape(literal)}(?!\w)"


def masking_rules(url: str) -> list[tuple[str, str, str]]:
    """``(literal, pattern, replacement)`` for each secret of ``url``.

    The URL itself, as given and as SQLAlchemy renders it, becomes the
    redacted URL; the password becomes ``***`` where it stands as the password
    of a URL (``:PASSWORD@``), and where it stands alone when it is long
    enough (:data:`BARE_PASSWORD_MIN`), not letters only (a word of the
    sentence) and not the user name too, which the redacted URL shows anyway.
    Never inside other words.
    """
    url = url.strip()
    if not url:
        return []
    redacted = redact_url(url)
    urls = {url}
    try:
        urls.add(make_url(url).render_as_string(hide_password=False))
    except Exception:  # noqa: BLE001 - an unparsable URL is only masked as given
        pass
    rules = [(u, _alone(u), redacted) for u in urls]
    users, passwords = _credentials(url)
    for password in passwords:
        in_url = f":{password}@"
        rules.append((in_url, re.escape(in_url), f":{MASK}@"))
        if (
            len(password) >= BARE_PASSWORD_MIN
            and not password.isalpha()
            and password not in users
        ):
            rules.append((password, _alone(password), MASK))
    return rules


def scrub(message: str, *urls: str) -> str:
    """``message`` with every secret of ``urls`` masked (see :func:`masking_rules`).

    One pass of one regular expression, longest secret first, so a URL is
    masked whole before its password and no replacement is matched again.
    """
    pattern, replacements = _masker(urls)
    if pattern is None:
        return message
    return pattern.sub(lambda m: replacements[(m.lastindex or 1) - 1], message)


@functools.lru_cache(maxsize=64)
def _masker(urls: tuple[str, ...]) -> tuple[re.Pattern[str] | None, tuple[str, ...]]:
    """The pattern of :func:`scrub` for ``urls`` and the replacement of each group.

    Cached: the app's log formatter scrubs every record with the same URLs.
    """
    rules = sorted(
        {rule for url in urls for rule in masking_rules(url)},
        key=lambda rule: len(rule[0]),
        reverse=True,
    )
    if not rules:
        return None, ()
    pattern = re.compile("|".join(f"({p})" for _literal, p, _r in rules))
    return pattern, tuple(replacement for _l, _p, replacement in rules)


def scrubbed_traceback(exc: BaseException, *urls: str) -> str:
    """The formatted traceback of ``exc`` with the secrets of ``urls`` masked."""
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return scrub("".join(lines), *urls)


def describe_database_error(exc: BaseException, url: str) -> str:
    """One plain sentence: which database, and what went wrong."""
    if not url.strip():
        return "Cannot use the database: its URL is blank."
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

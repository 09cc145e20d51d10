"""Database problems are told in one sentence that never holds the password."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.engine import make_url

import photolab_widgets as pw
from photolab_widgets.health import (
    DatabaseUnavailable,
    check_broker,
    check_database,
    describe_database_error,
    scrub,
    scrubbed_traceback,
)
from tests import services

PASSWORD = "Wr0ng-p@ss/w0rd"  # needs percent-encoding in a URL


def _url_with(user: str, password: str, database: str = "photolab") -> str:
    base = make_url(services.mysql_base_url())
    return base.set(
        username=user, password=password, database=database
    ).render_as_string(hide_password=False)


def _assert_clean(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text


@pytest.mark.parametrize(
    "url, secret",
    [
        ("mysql+pymysql://u:hunter22@db:3306/x", "hunter22"),
        ("mysql+pymysql://u:p%40ss%2Fw@db/x", "p@ss/w"),
        ("mysql+pymysql://u:p%40ss%2Fw@db/x", "p%40ss%2Fw"),
        ("mysql+pymysql://u:hunter22@db:notaport/x", "hunter22"),
        ("redis://:redispw99@cache:6379/0", "redispw99"),
    ],
)
def test_scrub_masks_every_form_of_the_password(url, secret):
    text = f"could not parse {url!r}; the password {secret} was wrong"
    cleaned = scrub(text, url)
    assert secret not in cleaned
    assert "could not parse" in cleaned


def test_scrubbed_traceback_hides_an_unparsable_url():
    url = "mysql+pymysql://u:hunter22@db:notaport/x"
    try:
        make_url(url).port  # noqa: B018 - raises, quoting part of the URL
        raise ValueError(f"bad URL {url}")
    except ValueError as exc:
        assert "hunter22" not in scrubbed_traceback(exc, url)


@pytest.mark.parametrize(
    "url",
    [
        "mysql+pymysql://u:hunter22@db:notaport/x",
        "nosuchdialect://u:hunter22@db/x",
        "this is not a URL hunter22",
    ],
)
def test_connect_with_an_invalid_url_says_so_without_the_password(url, home):
    with pytest.raises(DatabaseUnavailable) as info:
        pw.connect(database_url=url)
    assert "hunter22" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.mariadb
@pytest.mark.parametrize("user", ["root", "photolab_nobody"])
def test_wrong_mariadb_password_is_clear_and_masked(user, home, caplog):
    url = _url_with(user, PASSWORD)
    caplog.set_level(logging.DEBUG, logger="photolab_widgets")
    with pytest.raises(DatabaseUnavailable) as info:
        check_database(url)
    message = str(info.value)
    assert "access denied" in message.lower()
    assert f"{user}:***@" in message
    with pytest.raises(DatabaseUnavailable) as info2:
        pw.connect(database_url=url)
    _assert_clean(message + str(info2.value) + caplog.text, PASSWORD, "p%40ss")


@pytest.mark.mariadb
def test_unknown_database_is_named(home):
    base = make_url(services.mysql_base_url())
    url = base.set(database="photolab_does_not_exist").render_as_string(False)
    with pytest.raises(DatabaseUnavailable, match="does not exist"):
        check_database(url)


def test_unreachable_mysql_server_is_named(home):
    from photolab_widgets.processes import free_port

    url = f"mysql+pymysql://root:{PASSWORD}@127.0.0.1:{free_port()}/x"
    with pytest.raises(DatabaseUnavailable, match="no server answers") as info:
        check_database(url)
    assert PASSWORD not in str(info.value)


def test_sqlite_database_passes_the_check(home):
    check_database(f"sqlite:///{home / 'x.db'}")


@pytest.mark.redis
def test_broker_check(redis_url):
    from photolab_widgets.processes import free_port

    assert check_broker(f"{redis_url}/0") is None
    assert check_broker("filesystem://") is None
    problem = check_broker(f"redis://:redispw99@127.0.0.1:{free_port()}/0", 1.0)
    assert problem is not None and "does not answer" in problem
    assert "redispw99" not in problem


@pytest.mark.parametrize(
    "url, shown",
    [
        ("mysql+pymysql://u:hunter22@db/x", "mysql+pymysql://u:***@db/x"),
        ("mysql+pymysql://u:hunter22@db:notaport/x", "mysql+pymysql://***"),
        ("hunter22", "***"),
        ("not a scheme://u:hunter22@db", "***"),
    ],
)
def test_redacted_url_keeps_only_what_is_safe(url, shown):
    from photolab_widgets.config import redact_url

    assert redact_url(url) == shown


def _refused_message(user: str, password: str, port: int) -> str:
    url = f"mysql+pymysql://{user}:{password}@127.0.0.1:{port}/x"
    with pytest.raises(DatabaseUnavailable) as info:
        check_database(url)
    return str(info.value)


@pytest.mark.parametrize(
    "user, password",
    [
        ("studio", "on"),
        ("studio", "1"),
        ("root", "root"),
        ("studio", "2003"),
        ("studio", "database"),  # words of the sentence itself
        ("studio", "server"),
    ],
)
def test_a_word_as_password_is_masked_without_garbling_the_sentence(
    user, password, home
):
    from photolab_widgets.processes import free_port

    port = free_port()
    # A realistic password shows what the sentence is, whatever the password.
    expected = _refused_message(user, "Wr0ng-s3cret", port)
    assert expected.startswith(
        f"Cannot use the database mysql+pymysql://{user}:***@127.0.0.1:{port}/x: "
        "no server answers at that host and port (Can't connect to MySQL server "
        "on '127.0.0.1' ("
    )
    assert _refused_message(user, password, port) == expected


@pytest.mark.parametrize(
    "url, text, cleaned",
    [
        (
            "mysql+pymysql://u:1@127.0.0.1:1/x",
            "port 1 of 127.0.0.1 said no; u:1@127.0.0.1 was tried",
            "port 1 of 127.0.0.1 said no; u:***@127.0.0.1 was tried",
        ),
        (
            "mysql+pymysql://u:on@db/x",
            "tried 'mysql+pymysql://u:on@db/x' and u:on@db, on and on",
            "tried 'mysql+pymysql://u:***@db/x' and u:***@db, on and on",
        ),
        (
            "mysql+pymysql://u:p%40ss%2Fw@db/x",
            "as rendered mysql+pymysql://u:p%40ss%2Fw@db/x or u:p@ss/w@db",
            "as rendered mysql+pymysql://u:***@db/x or u:***@db",
        ),
        (
            "mysql+pymysql://u:a%20b@db/x?charset=utf8mb4",
            "as rendered mysql+pymysql://u:a b@db/x?charset=utf8mb4, a b",
            "as rendered mysql+pymysql://u:***@db/x?charset=utf8mb4, a b",
        ),
        # A realistic password is masked where it stands alone, not inside a word.
        (
            "mysql+pymysql://u:hunter22@db/x",
            "hunter22 was wrong, xhunter22 and hunter222 are not it",
            "*** was wrong, xhunter22 and hunter222 are not it",
        ),
        (" ", "a sentence with spaces", "a sentence with spaces"),
        ("", "a sentence", "a sentence"),
    ],
)
def test_scrub_replaces_the_url_and_its_password_not_other_words(url, text, cleaned):
    assert scrub(text, url) == cleaned


def test_a_blank_url_is_one_plain_sentence():
    from sqlalchemy.exc import ArgumentError

    message = describe_database_error(ArgumentError("Could not parse ' '"), " ")
    assert message == "Cannot use the database: its URL is blank."

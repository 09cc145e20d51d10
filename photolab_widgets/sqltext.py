"""Text compared to the byte, whatever the MySQL collation.

MySQL compares text through the column's collation, and the usual ones for
utf8mb4 (``utf8mb4_unicode_ci``, MariaDB's default ``utf8mb4_general_ci``,
MySQL 8's ``utf8mb4_0900_ai_ci``) take "Summer", "summer" and "summer " for
one value, and often two emoji as well. The ``scenes`` table is the studio's,
with whatever collation it was made with. A researcher picks a collection
name exactly as it is stored, so Generate, the board and the filters must
match exactly that name: SQLite does this already (it compares bytes); on
MySQL these constructs compare and group the UTF-8 bytes,
``CAST(CONVERT(… USING utf8mb4) AS BINARY)``: converted first, because the
table may not be utf8mb4 at all (a gbk or latin1 column casts to its own
bytes, which neither match the connection's text nor decode as UTF-8), and
binary rather than ``utf8mb4_bin``, which pads: "summer" = "summer ".

Binary values also mix in a ``UNION`` whatever the collations of their
columns, where two text columns of different collations make MySQL refuse
the statement ("Illegal mix of collations").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, String, TypeDecorator
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

_MYSQL = ("mysql", "mariadb")


class _Utf8(TypeDecorator[str]):
    """Text that MySQL sends back as bytes once cast to binary."""

    impl = String
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        if isinstance(value, bytes | bytearray):
            return bytes(value).decode("utf-8")
        return value


class exact_text(FunctionElement[str]):  # noqa: N801 - reads as a SQL function
    """A text column to select, group or ``UNION`` byte for byte; reads as str."""

    type = _Utf8()
    inherit_cache = True
    name = "exact_text"


class same_text(FunctionElement[bool]):  # noqa: N801 - reads as a SQL function
    """``column = value`` to the byte.

    On MySQL the plain comparison stays in front of the binary one, so that
    an index on the column still finds the rows (a superset) to check.
    """

    type = Boolean()
    inherit_cache = True
    name = "same_text"


@compiles(exact_text)
def _exact_plain(element: exact_text, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


def _utf8_bytes(sql: str) -> str:
    return f"CAST(CONVERT({sql} USING utf8mb4) AS BINARY)"


@compiles(exact_text, *_MYSQL)
def _exact_mysql(element: exact_text, compiler: SQLCompiler, **kw: Any) -> str:
    return _utf8_bytes(compiler.process(element.clauses, **kw))


@compiles(same_text)
def _same_plain(element: same_text, compiler: SQLCompiler, **kw: Any) -> str:
    column, value = (compiler.process(c, **kw) for c in element.clauses)
    return f"{column} = {value}"


@compiles(same_text, *_MYSQL)
def _same_mysql(element: same_text, compiler: SQLCompiler, **kw: Any) -> str:
    column, value = (compiler.process(c, **kw) for c in element.clauses)
    return f"({column} = {value} AND {_utf8_bytes(column)} = {_utf8_bytes(value)})"

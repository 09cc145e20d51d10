"""JSON values as an editor sees them: types, paths, text, and exact equality.

Pure functions, no widgets and no database, shared by the params editor (the
widget layer) and :mod:`photolab_widgets.edits` (the data layer).

Every change returns a *new* value and leaves the old one alone. That is what
makes nested edits reach the database: SQLAlchemy does not notice a dict that
changed in place, but the editor always hands over a freshly built value.

Types are kept exactly. Python's ``==`` says ``1 == 1.0 == True``; a researcher
who changed ``1`` to ``1.0`` or to ``true`` changed the renderer's input, so
:func:`same` tells them apart. Integers of any size stay Python ints (a browser
number holds 53 bits; the editor shows them as text, never as a number box).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

#: The types a node can have, in the order the editor offers them.
TYPES: Final = ("string", "integer", "number", "boolean", "null", "object", "array")
BRANCH_TYPES: Final = ("object", "array")

Key = str | int
Path = tuple[Key, ...]

#: The deepest nesting of arrays and objects the editor takes as text (real
#: params nest a handful of levels). Deeper text is refused with a sentence
#: rather than exhausting the stack of the functions that walk a document.
MAX_DEPTH = 100

_EMPTY: Final[dict[str, Any]] = {"integer": 0, "number": 0.0, "boolean": False}
_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
# Half of a UTF-16 pair: JSON's "\ud83d" escape, or text cut inside an emoji.
# No UTF-8 text can hold it: typed, it is refused; stored (by another tool),
# it is written back as its escape (see :func:`escape_surrogates`).
_SURROGATE = re.compile("[\ud800-\udfff]")


class JsonValueError(ValueError):
    """A value or a text that is not the JSON the editor can store.

    The message is one plain sentence meant for the researcher.
    """


def type_of(value: Any) -> str:
    """The JSON type name of a Python value (bool is checked before int)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    raise JsonValueError(f"A {type(value).__name__} cannot be stored as JSON.")


def check(value: Any, path: Path = ()) -> None:
    """Refuse what JSON cannot hold exactly: NaN, infinities, non-text keys, sets."""
    kind = type_of(value)
    where = f" at {format_path(path)}" if path else ""
    if kind == "number" and not math.isfinite(value):
        raise JsonValueError(f"JSON has no {value!r}{where}; use a finite number.")
    if kind == "object":
        for key, item in value.items():
            if not isinstance(key, str):
                raise JsonValueError(f"Object keys must be text, found {key!r}{where}.")
            check(item, (*path, key))
    elif kind == "array":
        for index, item in enumerate(value):
            check(item, (*path, index))


def escape_surrogates(text: str) -> str:
    """JSON text with each lone surrogate written as its ``\\uXXXX`` escape.

    In JSON text they can only stand inside strings, where the escape means
    the same: the value reads back exactly, and the text encodes as UTF-8.
    """
    return _SURROGATE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def check_text(text: str, where: str = "") -> None:
    """Refuse text typed with half of a character in it (a lone surrogate)."""
    found = _SURROGATE.search(text)
    if found:
        raise JsonValueError(
            f"The text{where} holds half of a character (U+{ord(found[0]):04X}, "
            "perhaps an emoji cut in two); remove it or type the whole character."
        )


def same(a: Any, b: Any) -> bool:
    """Equal as JSON, types included: ``1``, ``1.0``, ``True`` all differ.

    Object key order does not matter (MySQL's JSON type reorders keys); array
    order does.
    """
    kind = type_of(a)
    if kind != type_of(b):
        return False
    if kind == "object":
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if kind == "array":
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


# -- text ------------------------------------------------------------------


def dumps(value: Any) -> str:
    """The raw text view: indented, characters as themselves, blank for None."""
    if value is None:
        return ""
    return escape_surrogates(json.dumps(value, ensure_ascii=False, indent=2))


def loads(text: str) -> Any:
    """Parse the raw text view. Blank text is ``None`` (no params).

    Stricter than :func:`json.loads`: ``NaN``/``Infinity`` and a key given
    twice in one object are refused, since both would silently lose data, and
    so is nesting deeper than :data:`MAX_DEPTH`.
    """
    if not text.strip():
        return None
    try:
        value = json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as exc:
        raise JsonValueError(
            f"The text is not valid JSON: {exc.msg.lower()} "
            f"(line {exc.lineno}, column {exc.colno})."
        ) from None
    except JsonValueError:  # from the hooks below
        raise
    except RecursionError:  # about a thousand [ or { deep
        raise JsonValueError(
            "The text is nested too deeply to read (arrays or objects about a "
            "thousand levels inside each other)."
        ) from None
    except ValueError:  # Python refuses to parse integers of over 4300 digits
        raise JsonValueError(
            "A number in the text is too long to read (over 4300 digits)."
        ) from None
    if nesting(value) > MAX_DEPTH:
        raise JsonValueError(
            f"The text nests arrays and objects more than {MAX_DEPTH} levels "
            "deep; the editor takes at most that many."
        )
    # The hooks above already refused NaN, infinities and repeated keys.
    for text_ in _texts(value):  # typed half of a character: surely a mistake
        check_text(text_, " typed")
    return value


def _texts(value: Any) -> Iterator[str]:
    """Every string and key in ``value``."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, Mapping):
            yield from item.keys()
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e400 reads as inf
        raise JsonValueError(f"{_quote(text)} is too large for a JSON number.")
    return number


def _refuse_constant(name: str) -> Any:
    raise JsonValueError(f"JSON has no {name}; use a finite number or null.")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JsonValueError(f"The key {_quote(key)} appears twice in one object.")
        out[key] = value
    return out


def value_text(value: Any) -> str:
    """What the value field shows for a scalar (branches show nothing)."""
    kind = type_of(value)
    if kind == "string":
        return str(value)
    if kind == "boolean":
        return "true" if value else "false"
    if kind in ("integer", "number"):
        return json.dumps(value)
    return ""


def parse_value(kind: str, text: str) -> Any:
    """The scalar a value field holds, read as ``kind``.

    Raises :class:`JsonValueError` with a sentence naming what is wrong, e.g.
    letters in a number field. Strings are taken exactly as typed.
    """
    if kind == "string":
        check_text(text)
        return text
    if kind == "null":
        return None
    stripped = text.strip()
    if kind == "integer":
        if not _INTEGER.fullmatch(stripped):
            raise JsonValueError(
                f"{_quote(text)} is not a whole number; type digits like 42 or -7."
            )
        try:
            return int(stripped)
        except ValueError:  # Python refuses to parse over 4300 digits
            raise JsonValueError(
                "That integer is too long to read (over 4300 digits)."
            ) from None
    if kind == "number":
        if not _NUMBER.fullmatch(stripped):
            raise JsonValueError(
                f"{_quote(text)} is not a number; type something like 7.5 or 1e-4."
            )
        number = float(stripped)
        if not math.isfinite(number):
            raise JsonValueError(f"{_quote(text)} is too large for a JSON number.")
        return number
    if kind == "boolean":
        lowered = stripped.lower()
        if lowered not in ("true", "false"):
            raise JsonValueError(
                f"{_quote(text)} is not a boolean; type true or false."
            )
        return lowered == "true"
    raise JsonValueError(f"Unknown type {kind!r}.")


def convert(value: Any, kind: str, text: str) -> Any:
    """The value after the researcher picks type ``kind`` for a node.

    - scalar to scalar: the value field's ``text`` is read as the new type (so
      ``"1"`` becomes ``1``; letters for a number are refused);
    - anything to null: ``None``;
    - object to array keeps the values in order; array to object keys them
      ``"0"``, ``"1"``, ...;
    - a scalar to object or array: an empty one;
    - null, object or array to a scalar: ``text`` read as the new type, or
      that type's empty value when ``text`` is blank (the value field of a
      branch or null is empty). A branch's children are dropped; Revert
      brings them back.
    """
    old = type_of(value)
    if kind == old:
        return value if kind in BRANCH_TYPES else parse_value(kind, text)
    if kind == "null":
        return None
    if kind == "object":
        return {str(i): v for i, v in enumerate(value)} if old == "array" else {}
    if kind == "array":
        return list(value.values()) if old == "object" else []
    if old in (*BRANCH_TYPES, "null") and kind != "string" and not text.strip():
        return _EMPTY[kind]
    return parse_value(kind, text)


def dropped(old: Any, new: Any) -> str | None:
    """What a type change from ``old`` to ``new`` threw away, as a sentence.

    ``None`` when nothing went: scalars are retyped from the typed text, and
    an array becomes an object keyed ``"0"``, ``"1"``, ...
    """
    was, now = type_of(old), type_of(new)
    if was == now or was not in BRANCH_TYPES or not old:
        return None
    if (was, now) == ("object", "array"):
        keys = ", ".join(k if len(k) <= 20 else k[:19] + "…" for k in list(old)[:5])
        more = ", ..." if len(old) > 5 else ""
        return (
            f"Its keys {keys}{more} are gone, the values kept in order; "
            "Revert brings them back."
        )
    if (was, now) == ("array", "object"):
        return None
    noun = "member" if was == "object" else "item"
    members = f"1 {noun}" if len(old) == 1 else f"{len(old):,} {noun}s"
    return f"Its {members} (and all they held) are gone; Revert brings them back."


def _quote(text: str, limit: int = 40) -> str:
    short = text if len(text) <= limit else text[: limit - 1] + "…"
    return f"“{short}”"


# -- paths -----------------------------------------------------------------


def format_path(path: Sequence[Key]) -> str:
    """``params.size.width`` / ``params.loras[1]``, for messages."""
    out = "params"
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else f".{key}"
    return out


def get(doc: Any, path: Sequence[Key]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def replace(doc: Any, path: Sequence[Key], new: Any) -> Any:
    """A copy of ``doc`` with the node at ``path`` replaced by ``new``."""
    if not path:
        return new
    key, rest = path[0], path[1:]
    if isinstance(doc, list):
        items = list(doc)
        items[_index(key)] = replace(doc[_index(key)], rest, new)
        return items
    members = dict(doc)
    members[key] = replace(doc[key], rest, new)
    return members


def rename(doc: Any, path: Sequence[Key], new_key: str) -> Any:
    """A copy with an object member's key changed, keeping member order."""
    if not path or isinstance(path[-1], int):
        raise JsonValueError("Only a member of an object has a key to change.")
    parent_path, old_key = tuple(path[:-1]), path[-1]
    parent = get(doc, parent_path)
    if new_key == old_key:
        return doc
    check_text(new_key, " of the key")
    if new_key in parent:
        raise JsonValueError(f"This object already has the key {_quote(new_key)}.")
    renamed = {(new_key if k == old_key else k): v for k, v in parent.items()}
    return replace(doc, parent_path, renamed)


def delete(doc: Any, path: Sequence[Key]) -> Any:
    """A copy without the node at ``path``; deleting the root empties the doc."""
    if not path:
        return None
    parent_path, key = tuple(path[:-1]), path[-1]
    parent = get(doc, parent_path)
    if isinstance(parent, list):
        index = _index(key)
        shorter: Any = parent[:index] + parent[index + 1 :]
    else:
        shorter = {k: v for k, v in parent.items() if k != key}
    return replace(doc, parent_path, shorter)


def add(doc: Any, path: Sequence[Key], value: Any = None) -> tuple[Any, Path]:
    """A copy with a new child at the end of the branch at ``path``.

    Objects get a fresh key (``new key``, ``new key 2``, ...). Returns the new
    document and the new child's path.
    """
    branch = get(doc, path)
    kind = type_of(branch)
    if kind == "array":
        return replace(doc, path, [*branch, value]), (*path, len(branch))
    if kind != "object":
        raise JsonValueError("Keys and items can only be added to an object or array.")
    key, n = "new key", 1
    while key in branch:
        n += 1
        key = f"new key {n}"
    return replace(doc, path, {**branch, key: value}), (*path, key)


def _index(key: Key) -> int:
    if not isinstance(key, int):
        raise JsonValueError(f"An array index must be a number, not {key!r}.")
    return key


def nesting(value: Any) -> int:
    """How many arrays and objects deep ``value`` goes (0 for a scalar).

    Without recursion, so any depth Python could parse is measured.
    """
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            items: Any = item.values()
        elif isinstance(item, list | tuple):
            items = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in items)
    return deepest


def count_values(value: Any, limit: int) -> int:
    """How many values ``value`` holds, itself included; stops counting past ``limit``.

    Without recursion, so a deep document cannot exhaust the stack, and
    without walking all of a document that is far over the limit.
    """
    count, stack = 0, [value]
    while stack and count <= limit:
        item = stack.pop()
        count += 1
        if isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return count


def summary(value: Any) -> str:
    """Short plain text for a node label: scalars as JSON, branches by size."""
    kind = type_of(value)
    if kind == "object":
        return "{}" if not value else f"{{{len(value)}}}"
    if kind == "array":
        return "[]" if not value else f"[{len(value)}]"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:59] + "…"

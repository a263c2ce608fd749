"""How the offline model fills a JSON schema: from the conversation where it can, else placeholders.

Used for tool arguments and for structured output alike. A field takes, in
order: a value under the same key in the JSON that tools returned, a value the
text labels with the field's name ("the city is Paris", ``zip: 75001``), a
value of the right shape found in the text (ids, dates, numbers, quoted
phrases, enum values), and otherwise a placeholder that validates. Nothing is
guessed beyond that: it is a stand-in, not a model.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from typing import Any

from ._offline_pattern import example_for

__all__ = ["SchemaFiller", "fits"]

_YES = frozenset({"yes", "true", "yeah", "yep", "sure", "ok", "okay", "enable", "enabled"})
_NO = frozenset({"no", "not", "false", "don't", "dont", "never", "disable", "disabled"})
_ID_PARTS = frozenset({"id", "ids", "number", "num", "no", "code", "ref", "reference", "sku"})
# A number standing alone: "A-1234" and "#12" are identifiers, not the numbers -1234 and 12,
# and "2025-03-04" is a date, not the number 2025.
_NUMBER = re.compile(r"(?<![\w.#-])-?\d+(?:\.\d+)?(?!\w|\.\d|-\d)")
_TOKEN = re.compile(r"#?[A-Za-z0-9][\w-]*")
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|(?<!\w)'([^']+)'(?!\w)")
# What a labelled value runs to: a quoted phrase, or the words up to a comma, a full
# stop, "and" or "but".
_LABELLED = (
    r"\s*(?:is|was|are|were|:|=)\s*(?:\"([^\"]+)\"|([^,;!?\n]+?))"
    r"(?=\s+(?:and|but)\b|[,;!?\n]|\.(?:\s|$)|$)"
)
# String formats a plain sentence would fail: (what to look for, what to use otherwise).
_FORMATS: dict[str, tuple[str, str]] = {
    "date": (r"\d{4}-\d{2}-\d{2}", "1970-01-01"),
    "date-time": (
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:\d{2})?",
        "1970-01-01T00:00:00Z",
    ),
    "time": (r"(?<![\d:])\d{2}:\d{2}(?::\d{2})?(?![\d:])", "00:00:00"),
    "duration": (r"\bP(?:\d+[YMWD])*(?:T(?:\d+(?:\.\d+)?[HMS])+)?\b(?<!P)", "PT0S"),
    "email": (r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", "user@example.com"),
    "uri": (r"https?://[^\s\"'<>]*[^\s\"'<>.,;:!?)]", "https://example.com"),
    "uuid": (
        r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}",
        "00000000-0000-0000-0000-000000000000",
    ),
    "ipv4": (r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b", "127.0.0.1"),
    "ipv6": (r"\b(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}\b", "::1"),
    "hostname": (r"\b(?:[a-z0-9-]+\.)+[a-z]{2,}\b", "example.com"),
}
# A plain string field whose name says what it holds: look for that shape in the text.
_NAMED_FORMATS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"datetime", "timestamp"}), "date-time"),
    (frozenset({"date", "day", "birthday", "deadline", "when"}), "date"),
    (frozenset({"email", "mail"}), "email"),
    (frozenset({"url", "uri", "link", "website", "homepage"}), "uri"),
)
_FILLER_TEXT = "the and for with this that from into what which its their your our any all one"
_FILLER_WORDS = frozenset(_FILLER_TEXT.split())
_BOOL_PREFIXES = frozenset({"is", "has", "can", "should", "needs", "was", "use", "allow"})
_MAX_DEPTH = 6  # recursive schemas stop growing here: empty arrays, nulls


def _name_parts(name: str) -> list[str]:
    """``orderId`` and ``order_id`` both give ``["order", "id"]``."""
    return [
        part
        for part in re.split(r"[_\W]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower())
        if part
    ]


def _content(text: str) -> set[str]:
    """The words of a name or description that could say what a value is, cut to five letters."""
    words = _name_parts(text)
    return {word[:5] for word in words if len(word) > 2 and word not in _FILLER_WORDS}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


class SchemaFiller:
    """Builds a value that validates against a JSON schema from one text and some JSON data.

    ``data`` holds what tools returned, newest first. Numbers, identifiers and
    quoted phrases are handed out in order, so ``add(a, b)`` on "add 3 and 4"
    gets 3 and 4.
    """

    def __init__(
        self, text: str, root: dict[str, Any], *, strict: bool, data: Sequence[Any] = ()
    ) -> None:
        self.text, self.root, self.strict, self.data = text, root, strict, list(data)
        self.fallback = text
        self.lower = text.lower()
        self.numbers = _NUMBER.findall(text)
        self.ids = [token for token in _TOKEN.findall(text) if any(c.isdigit() for c in token)]
        self.quotes = [next(group for group in match if group) for match in _QUOTED.findall(text)]
        # The $refs being filled, outermost first; a root inlined from its own $ref is one.
        self.filling: list[str] = [
            f"#/$defs/{name}"
            for name, spec in (root.get("$defs") or {}).items()
            if spec.get("title") == root.get("title")
            and set(spec.get("properties") or ()) == set(root.get("properties") or ())
        ]

    def _recursive(self, options: list[dict[str, Any]]) -> bool:
        """An optional model inside itself (``parent: Node | None``): None ends the nesting."""
        return any(option.get("$ref") in self.filling for option in options)

    def _choose(self, options: list[dict[str, Any]], scope: Any) -> dict[str, Any]:
        """The union member whose tag the data or the text names (``"kind": "cat"``), or the first.

        A tag is a property with a ``const`` (a one-value ``Literal``), as in a
        discriminated union; the data naming it counts more than the text.
        """
        best, best_score = options[0], 0
        for option in options:
            score = 0
            for key, spec in (self.resolve(option).get("properties") or {}).items():
                tag = self.resolve(spec) if isinstance(spec, dict) else {}
                if "const" not in tag:
                    continue
                if isinstance(scope, dict) and scope.get(key) == tag["const"]:
                    score += 2
                elif re.search(rf"\b{re.escape(str(tag['const']).lower())}\b", self.lower):
                    score += 1
            if score > best_score:
                best, best_score = option, score
        return best

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Follow local ``$ref``s (``#/$defs/Name``); sibling keys stay on top."""
        return _resolve(schema, self.root)

    # ------------------------------------------------------------- by kind

    def value(
        self, schema: dict[str, Any], name: str = "", depth: int = 0, scope: Any = None
    ) -> Any:
        ref = schema.get("$ref")
        if isinstance(ref, str):
            self.filling.append(ref)
            try:
                return self._value(self.resolve(schema), name, depth, scope)
            finally:
                self.filling.pop()
        return self._value(schema, name, depth, scope)

    def _value(self, schema: dict[str, Any], name: str, depth: int, scope: Any) -> Any:
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self._enum(schema["enum"], name)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                real = [
                    option for option in schema[key] if self.resolve(option).get("type") != "null"
                ]
                nullable = len(real) < len(schema[key])
                if not real or (nullable and (depth >= _MAX_DEPTH or self._recursive(real))):
                    return None
                return self.value(self._choose(real, scope), name, depth, scope)
        if schema.get("allOf"):
            return self.value(schema["allOf"][0], name, depth, scope)
        kind = _kind(schema)
        if kind == "object":
            return self._object(schema, depth, scope)
        if kind == "array":
            return self._array(schema, name, depth, scope)
        if kind in ("integer", "number"):
            about = f"{name} {schema.get('description', '')}"
            return self._number(schema, about, integer=kind == "integer")
        if kind == "boolean":
            return self._boolean(name)
        if kind == "null":
            return None
        return self._string(schema, name)

    def _object(self, schema: dict[str, Any], depth: int, scope: Any) -> dict[str, Any]:
        properties: dict[str, Any] = schema.get("properties") or {}
        required = set(schema.get("required") or ())
        everything = self.strict and depth < _MAX_DEPTH
        only = len(properties) == 1 and depth == 0  # perhaps a wrapped value: {"response": ...}
        return {
            key: self._property(key, spec, depth + 1, scope, whole=only)
            for key, spec in properties.items()
            if everything or key in required
        }

    def _property(
        self, key: str, spec: dict[str, Any], depth: int, scope: Any, *, whole: bool
    ) -> Any:
        """A value the tools returned for this field, when one fits; else one built anew."""
        schema = self.resolve(spec)
        main = _main(schema, self.root)
        found = list(self._found(key, scope))
        if whole:
            found += self.data
        found += self._related(f"{key} {schema.get('description', '')}", scope)
        for candidate in found:
            for value in _coerced(candidate, schema, self.root):
                return value
        for candidate in found:
            if isinstance(candidate, dict) and _kind(main) == "object":
                return self.value(spec, key, depth, scope=candidate)
            if isinstance(candidate, list) and _kind(main) == "array":
                return self.value(spec, key, depth, scope=candidate)
        return self.value(spec, key, depth)

    def _found(self, key: str, scope: Any) -> Iterator[Any]:
        """Values under ``key`` (any spelling): in ``scope`` first, then anywhere in the data."""
        wanted = _key(key)
        if isinstance(scope, dict):
            yield from (value for name, value in scope.items() if _key(str(name)) == wanted)
        for data in self.data:
            yield from _under(data, wanted)

    def _related(self, about: str, scope: Any) -> list[Any]:
        """Values under the key sharing most words with the field's name and description.

        ``temperature: float = Field(description="in Celsius")`` finds ``temp_celsius``.
        """
        mine = _content(about)
        tables = [scope] if isinstance(scope, dict) else []
        tables += [data for data in self.data if isinstance(data, dict)]
        related = []
        for table in tables:
            # A key all of whose words the field uses: "temp_celsius", not "celsius_scale".
            shared = {
                name: len(words)
                for name in table
                if (words := _content(str(name))) and words <= mine
            }
            best = max(shared, key=shared.__getitem__, default=None)
            if best is not None and shared[best]:
                related.append(table[best])
        return related

    def _array(self, schema: dict[str, Any], name: str, depth: int, scope: Any) -> list[Any]:
        if "prefixItems" in schema:
            return [self.value(item, name, depth + 1) for item in schema["prefixItems"]]
        rows = scope if isinstance(scope, list) else []
        count = max(1 if depth < _MAX_DEPTH else 0, schema.get("minItems", 0), len(rows))
        count = min(count, schema.get("maxItems", count))
        items = schema.get("items")
        item = items if isinstance(items, dict) else {}
        values: list[Any] = []
        for index in range(count):
            row = rows[index] if index < len(rows) else None
            fitting = (
                next(_coerced(row, self.resolve(item), self.root), None)
                if row is not None
                else None
            )
            values.append(
                fitting if fitting is not None else self.value(item, name, depth + 1, row)
            )
        if schema.get("uniqueItems"):
            values = _distinct(values)
        return values

    def _enum(self, values: list[Any], name: str) -> Any:
        """The value labelled with the field's name, else the first in the text, else the first."""
        said = self._labelled(name)
        for where in ([said.lower()] if said else []) + [self.lower]:
            for value in values:
                if value is not None and re.search(rf"\b{re.escape(str(value).lower())}\b", where):
                    return value
        return values[0] if values else None

    def _boolean(self, name: str) -> bool:
        """Yes when the text says so (by the field's name, or plainly) and says no "not"."""
        said = self._labelled(name)
        words = set(re.findall(r"[a-z']+", (said or self.text).lower()))
        if words & _NO:
            return False
        named = {part for part in _name_parts(name) if len(part) > 2} - _BOOL_PREFIXES
        mentioned = said is None and any(word.startswith(tuple(named)) for word in words)
        return mentioned or bool(words & _YES)

    def _number(self, schema: dict[str, Any], about: str, *, integer: bool) -> int | float:
        number = self._number_for(about)
        if number is None:
            number = float(self.numbers.pop(0)) if self.numbers else 0.0
        return _bounded(number, schema, integer=integer)

    def _number_for(self, about: str) -> float | None:
        """A number labelled with the field's name, or just before a word of its name or
        description: "42 people", "21 degrees"."""
        name = about.split(" ", 1)[0]
        said = self._labelled(name)
        match = _NUMBER.search(said) if said else None
        words = {part.rstrip("s") for part in _name_parts(name) if len(part) > 2}
        words |= _content(about)
        if match is None and words:
            either = "|".join(re.escape(word) for word in sorted(words))
            match = re.search(
                rf"{_NUMBER.pattern}(?=\s*(?:{either})\w*\b)", self.text, re.IGNORECASE
            )
        if match is None:
            return None
        if match.group() in self.numbers:
            self.numbers.remove(match.group())
        return float(match.group())

    def _string(self, schema: dict[str, Any], name: str) -> str:
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        if schema.get("format") in _FORMATS:
            shape, default = _FORMATS[schema["format"]]
            found = re.search(shape, self.text)
            return found.group() if found else default
        if isinstance(schema.get("pattern"), str):
            return self._patterned(schema["pattern"], name, low, high)
        text = self._labelled(name)
        parts = _name_parts(name)
        if text is None and self.ids and _ID_PARTS.intersection(parts):
            text = self.ids.pop(0)
        if text is None:
            for words, form in _NAMED_FORMATS:
                if words.intersection(parts) and (match := re.search(_FORMATS[form][0], self.text)):
                    text = match.group()
                    break
        if text is None and self.quotes:
            text = self.quotes.pop(0)
        if text is None:
            text = self.fallback
        text = text[: high if high is not None else len(text)]
        return text.ljust(low, ".")

    def _patterned(self, pattern: str, name: str, low: int, high: int | None) -> str:
        """Something from the text that matches ``pattern``, else a string written to match it."""
        said = self._labelled(name)
        candidates = [said] if said else []
        candidates += [*self.quotes, *self.ids, *_TOKEN.findall(self.text), self.fallback]
        for candidate in candidates:
            length_ok = low <= len(candidate) and (high is None or len(candidate) <= high)
            if length_ok and _search(pattern, candidate):
                return candidate
        return example_for(pattern) or self.fallback[: high or None].ljust(low, ".")

    def _labelled(self, name: str) -> str | None:
        """The value the text gives the field by name: "the city is Paris", ``zip: 75001``."""
        parts = _name_parts(name)
        if not parts or len("".join(parts)) < 2:
            return None
        label = r"[\s_-]*".join(re.escape(part) for part in parts)
        match = re.search(rf"\b{label}\b{_LABELLED}", self.text, re.IGNORECASE)
        if match is None:
            return None
        return (match.group(1) or match.group(2)).strip()[:200] or None


# ---------------------------------------------------------------- checking


def fits(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    """Whether ``value`` validates against ``schema``: the common keywords, no more."""
    schema = _resolve(schema, root)
    if "const" in schema:
        return bool(value == schema["const"])
    if "enum" in schema:
        return value in schema["enum"]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return any(fits(value, option, root) for option in schema[key])
    if schema.get("allOf") and not all(fits(value, part, root) for part in schema["allOf"]):
        return False
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    if not kinds and "properties" in schema:
        kinds = ["object"]
    return not kinds or any(_fits_kind(value, kind, schema, root) for kind in kinds)


def _fits_kind(value: Any, kind: str, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if kind == "integer" and not float(value).is_integer():
            return False
        return _in_bounds(value, schema)
    if kind == "string":
        if not isinstance(value, str):
            return False
        if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)):
            return False
        if isinstance(schema.get("pattern"), str) and not _search(schema["pattern"], value):
            return False
        form = _FORMATS.get(schema.get("format", ""))
        return form is None or re.fullmatch(form[0], value) is not None
    if kind == "array":
        if not isinstance(value, list):
            return False
        if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value)):
            return False
        items = schema.get("items")
        return not isinstance(items, dict) or all(fits(item, items, root) for item in value)
    if kind == "object":
        if not isinstance(value, dict):
            return False
        properties: dict[str, Any] = schema.get("properties") or {}
        if any(key not in value for key in schema.get("required") or ()):
            return False
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                if not fits(item, properties[key], root):
                    return False
            elif extra is False or (isinstance(extra, dict) and not fits(item, extra, root)):
                return False
        return True
    return False


def _coerced(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> Iterator[Any]:
    """``value`` if it fits, else its plain conversion (21 to "21", "21.5" to 21.5) if that fits."""
    if fits(value, schema, root):
        yield value
        return
    converted: Any = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        converted = str(value)
    elif isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        number = float(value)
        converted = int(number) if number.is_integer() else number
    if converted is not None and fits(converted, schema, root):
        yield converted


def _in_bounds(number: float, schema: dict[str, Any]) -> bool:
    if (low := schema.get("minimum")) is not None and number < low:
        return False
    if (low := schema.get("exclusiveMinimum")) is not None and number <= low:
        return False
    if (high := schema.get("maximum")) is not None and number > high:
        return False
    if (high := schema.get("exclusiveMaximum")) is not None and number >= high:
        return False
    step = schema.get("multipleOf")
    return not step or math.isclose(number / step, round(number / step), abs_tol=1e-9)


def _bounded(number: float, schema: dict[str, Any], *, integer: bool) -> int | float:
    """``number`` if the schema allows it, else the nearest value it allows that is simple.

    The options: the bounds themselves, a step inside each, the middle of two
    bounds; then, for integers and ``multipleOf``, their whole or stepped neighbours.
    """
    lows = [schema[key] for key in ("minimum", "exclusiveMinimum") if schema.get(key) is not None]
    highs = [schema[key] for key in ("maximum", "exclusiveMaximum") if schema.get(key) is not None]
    options = [number]
    for low in lows:
        options += [low, low + 1, low + 0.5]
    for high in highs:
        options += [high, high - 1, high - 0.5]
    if lows and highs:
        options.append((max(lows) + min(highs)) / 2)
    step = schema.get("multipleOf")
    for option in sorted(options, key=lambda option: abs(option - number)):
        near = [math.trunc(option), math.floor(option), math.ceil(option)] if integer else [option]
        if step:
            near = [round(turn(n / step) * step, 10) for n in near for turn in _TURNS]
        for value in near:
            if _in_bounds(value, schema) and (not integer or float(value).is_integer()):
                return int(value) if float(value).is_integer() else value
    return math.trunc(number) if integer else number


_TURNS = (round, math.floor, math.ceil)


def _distinct(values: list[Any]) -> list[Any]:
    """No two items alike, for ``uniqueItems``: later copies of a string or number are varied."""
    seen: list[Any] = []
    for value in values:
        while (
            value in seen and isinstance(value, str | int | float) and not isinstance(value, bool)
        ):
            value = f"{value} ({len(seen) + 1})" if isinstance(value, str) else value + 1
        seen.append(value)
    return seen


def _under(data: Any, wanted: str) -> Iterator[Any]:
    """Every value stored under a key spelled like ``wanted``, anywhere in ``data``."""
    if isinstance(data, dict):
        for name, value in data.items():
            if _key(str(name)) == wanted:
                yield value
        for value in data.values():
            yield from _under(value, wanted)
    elif isinstance(data, list):
        for value in data:
            yield from _under(value, wanted)


def _search(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return True  # a pattern Python cannot read: the validator will say


def _main(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """The schema of the value itself: an optional's first option other than null."""
    for key in ("anyOf", "oneOf"):
        options = [_resolve(option, root) for option in schema.get(key) or ()]
        real = [option for option in options if option.get("type") != "null"]
        if real:
            return real[0]
    return schema


def _kind(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    return str(kind)


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow local ``$ref``s (``#/$defs/Name``); sibling keys stay on top."""
    for _ in range(32):
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#"):
            break
        target: Any = root
        for part in ref.lstrip("#").strip("/").split("/"):
            target = target.get(part, {}) if part and isinstance(target, dict) else target
        rest = {key: value for key, value in schema.items() if key != "$ref"}
        schema = {**target, **rest} if isinstance(target, dict) else rest
    return schema

"""Secrets never reach a trace: values of sensitive fields, key-shaped strings and
known secret values are masked.

Applied in the batch processor's thread, to every record before any exporter
sees it, and to the log lines that may carry a tool's arguments. What counts as
a secret is data, in :mod:`~ascent.tracing.secret_shapes`; extend it with
:func:`add_sensitive_fields` (or ``ASCENT_TRACE_REDACT_FIELDS``) and
:func:`add_secret_values`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import from_json, to_json

from .secret_shapes import SENSITIVE_NAMES, TOKEN_FORMATS, SensitiveName

__all__ = [
    "REDACTED",
    "add_secret_values",
    "add_sensitive_fields",
    "redact",
    "redact_json",
    "redact_text",
    "redact_value",
    "secret_values",
    "suspicious",
]

REDACTED = "[REDACTED]"

# Provider keys read from the environment on each use (tests and deployments set them late).
_SECRET_ENV = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY")
# Shorter literal values would mask ordinary words wherever they appear.
_MIN_SECRET_LENGTH = 8

R = TypeVar("R", bound=BaseModel)

# ----------------------------------------------------------------- field names

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def _words(name: str) -> tuple[str, ...]:
    """``name``'s words, lower-cased: ``X-API-Key`` and ``x_apiKey`` both give x, api, key."""
    return tuple(word.lower() for word in _WORD.findall(name))


def _rules(names: Iterable[SensitiveName]) -> tuple[tuple[tuple[str, ...], bool], ...]:
    """Each name as its words; a name without any (``""``, ``"_"``) would match every field."""
    rules = ((_words(name.words), name.last) for name in names)
    return tuple((words, last) for words, last in rules if words)


_names: tuple[SensitiveName, ...] = SENSITIVE_NAMES + tuple(
    SensitiveName(field.strip())
    for field in os.environ.get("ASCENT_TRACE_REDACT_FIELDS", "").split(",")
    if field.strip()
)
# Replaced whole, never mutated: the batch thread reads them while callers add names.
_field_rules = _rules(_names)
_verdicts: dict[str, bool] = {}  # field name -> sensitive? (names repeat a lot)


def add_sensitive_fields(*names: str) -> None:
    """Mask the values of fields with these names (in tool arguments, metadata...),
    matched by words as :class:`~ascent.tracing.secret_shapes.SensitiveName` says."""
    global _names, _field_rules, _suspects
    _names += tuple(SensitiveName(name) for name in names)
    _field_rules = _rules(_names)
    _suspects = _markers()
    _verdicts.clear()


def _word_matches(word: str, expected: str, *, suffix: bool, plural: bool) -> bool:
    forms = (word, word[:-1]) if plural and word.endswith("s") else (word,)
    return any(form.endswith(expected) if suffix else form == expected for form in forms)


def _rule_matches(words: Sequence[str], rule: Sequence[str], last: bool) -> bool:
    size = len(rule)
    final = len(words) - size
    for start in (final,) if last else range(final + 1):
        if start >= 0 and all(
            _word_matches(word, expected, suffix=at == 0, plural=at == size - 1 and not last)
            for at, (word, expected) in enumerate(zip(words[start:], rule, strict=False))
        ):
            return True
    return False


def _is_sensitive(key: str) -> bool:
    verdict = _verdicts.get(key)
    if verdict is None:
        words = _words(key)
        verdict = any(_rule_matches(words, rule, last) for rule, last in _field_rules)
        if len(_verdicts) < 10_000:
            _verdicts[key] = verdict
    return verdict


# -------------------------------------------------------------- secret values

_registered: tuple[str, ...] = ()


def add_secret_values(*values: str) -> None:
    """Mask these exact values wherever they appear (the service's API keys...).

    Values shorter than 8 characters are left out: masking them would mangle
    ordinary text.
    """
    global _registered
    fresh = {value.strip() for value in values if len(value.strip()) >= _MIN_SECRET_LENGTH}
    _registered = tuple(sorted({*_registered, *fresh}))


def secret_values() -> list[str]:
    """The literal secrets to mask: registered ones and provider keys in the environment.

    Longest first, so that a secret containing another is masked whole.
    """
    found = set(_registered)
    for name in _SECRET_ENV:
        for value in os.environ.get(name, "").split(","):
            if len(value.strip()) >= _MIN_SECRET_LENGTH:
                found.add(value.strip())
    return sorted(found, key=len, reverse=True)


# ---------------------------------------------------------------- in text

# A token format may not start inside a word ("task-..."), but may follow an escape ("\nsk-...").
_START = r"(?:(?<![A-Za-z0-9])|(?<=\\[nrt]))"
_TOKENS = re.compile("|".join(f"{_START}(?:{shape.pattern})" for shape in TOKEN_FORMATS))
# ``name=value``, ``name: value``, ``'name': 'value'`` in messages and logs.
_ASSIGNED = re.compile(r"""(?<![\w-])([A-Za-z][\w.-]*)(["']?[ \t]*[:=][ \t]*)""")
_VALUE = re.compile(
    r""""(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?"""
    r"""|(?:(?i:basic|bearer|digest|token)[ \t]+)?[^\s"',;&)}\]]+"""
)


def _mask_assignments(text: str) -> str:
    """``text`` with the value after each sensitive ``name=`` or ``name:`` masked.

    Keys are found first and values taken only after a sensitive one, so that a
    harmless ``note: password=...`` does not swallow the password as its value.
    """
    pieces: list[str] = []
    done = 0
    found = _ASSIGNED.search(text)
    while found is not None:
        position = found.end()
        value = None
        if _is_sensitive(found.group(1)) and not text.startswith(REDACTED, position):
            value = _VALUE.match(text, position)
        if value is not None:
            pieces += (text[done:position], REDACTED)
            done = position = value.end()
        found = _ASSIGNED.search(text, position)
    return "".join(pieces) + text[done:] if pieces else text


def _redact_string(text: str, secrets: Sequence[str]) -> str:
    if text.lstrip()[:1] in ("{", "["):
        try:
            parsed = json.loads(text)
        except ValueError:
            pass
        else:
            return json.dumps(redact_value(parsed, _secrets=secrets), ensure_ascii=False)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _TOKENS.sub(REDACTED, text)
    if ":" in text or "=" in text:
        text = _mask_assignments(text)
    return text


def redact_value(value: Any, *, _secrets: Sequence[str] | None = None) -> Any:
    """``value`` with secrets masked, recursively through dicts, lists and JSON text
    (tool arguments and outputs are JSON text, wherever they sit)."""
    secrets = secret_values() if _secrets is None else _secrets
    if isinstance(value, str):
        return _redact_string(value, secrets)
    if isinstance(value, dict):
        return {
            key: REDACTED
            if isinstance(key, str) and _is_sensitive(key)
            else redact_value(item, _secrets=secrets)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_value(item, _secrets=secrets) for item in value]
    return value


# ------------------------------------------------------------- the cheap look


# Both data and markers are looked at lower-cased, without "_", "." and spaces: one
# marker then stands for every way of writing a name (api_key, api.key, "API Key"),
# and the fewer the markers, the fewer the scans.
_SEPARATORS = b"_. "
# Lower-cases while it deletes the separators: one pass over the data, not two.
_LOWER = bytes(range(256)).lower()


def _compact(text: bytes) -> bytes:
    """Deleting characters from both sides keeps every match: a marker found in
    ``text`` is found, compacted, in ``_compact(text)``."""
    return text.translate(_LOWER, _SEPARATORS)


def _fewest(markers: Iterable[bytes]) -> tuple[bytes, ...]:
    """``markers`` without those that contain another (found whenever it is)."""
    unique = sorted(set(markers), key=len)
    kept: list[bytes] = []
    for marker in unique:
        if not any(shorter in marker for shorter in kept):
            kept.append(marker)
    return tuple(kept)


# Bytes rare in text and JSON: where a marker holds one, the marker is looked for
# from it (see ``_Scan``).
_RARE = b"-jqxzkvw"


class _Scan:
    """Looks for many markers in compacted data at once, in two levels.

    A substring search costs a pass over the data per marker, and short markers
    (``sk-``, ``eyj``, ``ghp``) are the slowest to look for. So, first level:
    markers that hold a rare byte are looked for together, by one pattern that
    finds, in C and in one pass, the few places where such a byte is, and only
    there looks back and ahead for the markers anchored at it
    (``j(?<=eyj)``); markers that share their first two bytes are looked for
    by those two bytes first. Second level: the markers of a group, only when
    its two bytes are there. Each other marker, long and so quick to look
    for, gets a plain search.
    """

    def __init__(self, markers: Sequence[bytes], singular: Sequence[bytes]) -> None:
        anchored: dict[int, list[bytes]] = {}
        prefixes: dict[bytes, list[bytes]] = {}
        counted: list[bytes] = []
        for marker in (*markers, *singular):
            alone = marker in singular
            rare = [at for at, byte in enumerate(marker) if byte in _RARE]
            if rare:
                at = max(rare, key=lambda i: _RARE.index(marker[i]))
                before, after = re.escape(marker[: at + 1]), re.escape(marker[at + 1 :])
                # a singular name counts where it is not followed by an "s"
                tail = b"(?<=" + before + b")" + after + (b"(?!s)" if alone else b"")
                anchored.setdefault(marker[at], []).append(tail)
            elif alone:
                counted.append(marker)
            else:
                prefixes.setdefault(marker[:2], []).append(marker)
        branches = [
            re.escape(bytes([anchor])) + b"(?:" + b"|".join(sorted(tails)) + b")"
            for anchor, tails in sorted(anchored.items())
        ]
        self.pattern = re.compile(b"|".join(branches)) if branches else None
        self.plain = tuple(group[0] for group in prefixes.values() if len(group) == 1)
        self.grouped = tuple(
            (prefix, tuple(group)) for prefix, group in prefixes.items() if len(group) > 1
        )
        self.singular = tuple(counted)

    def found_in(self, compact: bytes) -> bool:
        if self.pattern is not None and self.pattern.search(compact) is not None:
            return True
        for marker in self.plain:
            if marker in compact:
                return True
        for prefix, group in self.grouped:
            if prefix in compact and any(marker in compact for marker in group):
                return True
        for word in self.singular:  # more often than its plural: once not followed by "s"
            if word in compact and compact.count(word) > compact.count(word + b"s"):
                return True
        return False


def _markers() -> _Scan:
    """What any data worth walking contains, compacted: markers enough on their
    own, and names that only match singular.

    One of the second group counts only when it appears more often than its
    plural, so that every model span's ``input_tokens`` is no reason to walk.
    """
    plain = [_compact(marker.encode()) for shape in TOKEN_FORMATS for marker in shape.markers]
    singular: list[bytes] = []
    for words, last in _field_rules:
        for separator in ("", "-"):  # the other separators are compacted away
            (singular if last else plain).append(_compact(separator.join(words).encode()))
    return _Scan(_fewest(plain), _fewest(singular))


_suspects = _markers()


def suspicious(data: bytes, secrets: Sequence[str]) -> bool:
    """Whether JSON ``data`` mentions a sensitive name or may hold a secret.

    The data is looked at compacted, so one marker stands for every spelling of
    a name, and for many markers at once (see :class:`_Scan`); on a whole batch
    joined together (``b"\\0".join``), a clean batch costs a fraction of a
    microsecond per record.
    """
    if _suspects.found_in(_compact(data)):
        return True
    return any(secret.encode() in data for secret in secrets)


def _needs_redaction(value: Any, secrets: Sequence[str]) -> bool:
    """A cheap first look: serialize once (pydantic-core, in Rust) and search the
    lower-cased bytes; only data that mentions a sensitive name or may hold a
    secret is walked field by field."""
    return suspicious(to_json(value, fallback=str), secrets)


def redact_json(data: bytes, secrets: Sequence[str]) -> bytes:
    """JSON ``data`` with secrets masked; as it is (no copy) when there is nothing to mask."""
    if not suspicious(data, secrets):
        return data
    return to_json(redact_value(from_json(data), _secrets=secrets))


def redact_text(text: str, secrets: Sequence[str] | None = None) -> str:
    """``text`` (an error message, a log line) with secrets masked."""
    if secrets is None:
        secrets = secret_values()
    if not _needs_redaction(text, secrets):
        return text
    masked: str = redact_value(text, _secrets=secrets)
    return masked


def redact(record: R, *, secrets: Sequence[str] | None = None, in_place: bool = False) -> R:
    """A trace or span record with secrets masked (a copy unless ``in_place``).

    ``secrets`` are literal values to mask (by default :func:`secret_values`);
    pass them when redacting a batch, to look them up once.
    """
    if secrets is None:
        secrets = secret_values()
    changes: dict[str, Any] = {}
    fields = record.__dict__
    for key in ("attributes", "metadata", "error"):
        value = fields.get(key)
        if value and _needs_redaction(value, secrets):
            changes[key] = redact_value(value, _secrets=secrets)
    if in_place:
        record.__dict__.update(changes)
        return record
    return record.model_copy(update=changes)

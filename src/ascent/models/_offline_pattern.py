"""A string that matches a regular expression, for the offline model's ``pattern`` fields.

Deterministic and minimal: the first branch of every alternation, the fewest
repetitions a quantifier allows, the first character a class accepts. Enough
for the patterns people put on fields (``^[A-Z]{3}-\\d{2}$``, ``^\\d{5}$``); for
anything it does not understand it returns None and the caller falls back.
"""

from __future__ import annotations

import re
import string

__all__ = ["example_for"]

_QUANTIFIER = re.compile(r"\{(\d*)(,?)(\d*)\}")
# Characters tried, in order, for a class, an escape or a dot.
_TRIED = "a0A_-. " + string.ascii_letters + string.digits + string.punctuation


def example_for(pattern: str) -> str | None:
    """The shortest-ish string that ``re.search(pattern, ...)`` accepts, or None."""
    try:
        text = _Writer(pattern).whole()
        return text if re.search(pattern, text) else None
    except (ValueError, IndexError, re.error):
        return None


class _Writer:
    """A small recursive-descent walk over the pattern that writes instead of matching."""

    def __init__(self, pattern: str) -> None:
        self.pattern, self.at = pattern, 0

    def whole(self) -> str:
        text = self.alternation()
        if self.at != len(self.pattern):
            raise ValueError(f"unbalanced pattern {self.pattern!r}")
        return text

    def alternation(self) -> str:
        first = self.sequence()
        while self.at < len(self.pattern) and self.pattern[self.at] == "|":
            self.at += 1
            self.sequence()  # read past the other branches
        return first

    def sequence(self) -> str:
        parts: list[str] = []
        while self.at < len(self.pattern) and self.pattern[self.at] not in "|)":
            atom = self.atom()
            parts.append(atom * self.repeats())
        return "".join(parts)

    def atom(self) -> str:
        pattern, char = self.pattern, self.pattern[self.at]
        if char == "(":
            return self.group()
        if char == "[":
            end = self.at + 1
            end += pattern[end] == "^"
            end += pattern[end] == "]"  # a ']' first is a literal
            while pattern[end] != "]":
                end += 2 if pattern[end] == "\\" else 1
            source, self.at = pattern[self.at : end + 1], end + 1
            return _pick(source)
        if char == "\\":
            source, self.at = pattern[self.at : self.at + 2], self.at + 2
            letter = source[1]
            if letter in "bBAZz":
                return ""
            if letter.isdigit() or letter in "xuUNpPgk":
                raise ValueError(f"unsupported escape {source!r}")
            return _pick(source)
        self.at += 1
        if char in "^$":
            return ""
        return "a" if char == "." else char

    def group(self) -> str:
        pattern = self.pattern
        self.at += 1
        look = False
        if pattern.startswith("?", self.at):
            head = pattern[self.at : self.at + 3]
            if head.startswith("?:"):
                self.at += 2
            elif head in ("?P<", "?<") or (head.startswith("?<") and head[2] not in "=!"):
                self.at = pattern.index(">", self.at) + 1
            elif head[:2] in ("?=", "?!") or head in ("?<=", "?<!"):
                look = True
                self.at += 2 if head[:2] in ("?=", "?!") else 3
            else:
                raise ValueError(f"unsupported group {head!r}")
        text = self.alternation()
        if pattern[self.at] != ")":
            raise ValueError("unclosed group")
        self.at += 1
        return "" if look else text

    def repeats(self) -> int:
        pattern = self.pattern
        if self.at >= len(pattern):
            return 1
        char = pattern[self.at]
        if char in "*+?":
            self.at += 1
            count = 1 if char == "+" else 0
        elif char == "{" and (match := _QUANTIFIER.match(pattern, self.at)):
            self.at = match.end()
            count = int(match.group(1) or 0)
        else:
            return 1
        if self.at < len(pattern) and pattern[self.at] in "?+":
            self.at += 1  # lazy or possessive: the same minimum
        return count


def _pick(source: str) -> str:
    """The first character ``source`` (a class or an escape) matches, its own letters first."""
    for char in dict.fromkeys(source + _TRIED):
        if re.fullmatch(source, char):
            return char
    raise ValueError(f"no character matches {source!r}")

"""Search helpers of the memory store: query tokens, keyword ranking, rank fusion.

Keyword relevance comes from the database's own full-text search (FTS5's
``bm25`` on SQLite, ``ts_rank`` on PostgreSQL) over the query's word tokens
joined by OR; :func:`fuse_rankings` merges it with a vector ranking.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..errors import UserError
from ._store_schema import (
    FTS_TABLE,
    MEMORIES_TABLE,
    MEMORY_TAGS_TABLE,
    PG_TS_CONFIG,
    TEXT_SEARCH_COLUMN,
    schema,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Row

__all__ = ["fuse_rankings", "keyword_rows", "query_tokens", "rows_by_id"]

_MAX_QUERY_TOKENS = 32
# Letters and digits; "_" splits words as it does in both engines' tokenizers.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Words that websearch_to_tsquery would read as operators rather than text.
_PG_OPERATOR_WORDS = frozenset({"or", "and", "not"})


def fuse_rankings(*rankings: Iterable[str], k: int = 60) -> list[str]:
    """Merge ranked id lists by reciprocal rank fusion (best first).

    Each id scores ``sum(1 / (k + rank))`` over the lists it appears in (rank
    from 1). Ranks, not raw scores, are fused because bm25, ``ts_rank`` and
    cosine similarity are on incomparable scales. Ties keep first-seen order.
    """
    if k <= 0:
        raise UserError(f"k must be positive, not {k!r}")
    scores: dict[str, float] = {}
    for ranking in rankings:
        seen: set[str] = set()
        for rank, item in enumerate(ranking, start=1):
            if item in seen:  # a duplicate within one list must not count twice
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    order = {item: index for index, item in enumerate(scores)}
    return sorted(scores, key=lambda item: (-scores[item], order[item]))


def query_tokens(query: str) -> builtins.list[str]:
    """The distinct word tokens of ``query`` (lower-cased, first ones kept, bounded).

    Searching on these alone is what makes any user text safe to pass to the
    full-text engines, whose query syntaxes treat quotes and keywords specially.
    """
    tokens: builtins.list[str] = []
    for match in _WORD.finditer(query.lower()):
        token = match.group()
        if token not in tokens:
            tokens.append(token)
            if len(tokens) >= _MAX_QUERY_TOKENS:
                break
    return tokens


# Each ranking contributes this many candidates per wanted result before fusion.
CANDIDATES_PER_RESULT = 4
MIN_CANDIDATES = 20


def keyword_rows(
    conn: Connection,
    tokens: builtins.list[str],
    scope: str,
    limit: int,
    tags: builtins.list[str] | None,
) -> builtins.list[Row[Any]]:
    from sqlalchemy import text as sql

    params: dict[str, Any] = {"scope": scope, "limit": limit}
    tag_filter = ""
    if tags:
        names = []
        for index, tag in enumerate(tags):
            params[f"tag{index}"] = tag
            names.append(f":tag{index}")
        params["tag_count"] = len(tags)
        tag_filter = (
            f" AND m.id IN (SELECT t.memory_id FROM {MEMORY_TAGS_TABLE} t"
            f" WHERE t.scope = :scope AND t.tag IN ({', '.join(names)})"
            " GROUP BY t.memory_id HAVING COUNT(*) = :tag_count)"
        )
    columns = ", ".join(f"m.{column.name}" for column in schema()[0].columns)
    if conn.dialect.name == "sqlite":
        # Each token quoted: FTS5 then reads it as a plain term, never an operator.
        params["match"] = " OR ".join(f'"{token}"' for token in tokens)
        statement = (
            f"SELECT {columns} FROM {FTS_TABLE} f JOIN {MEMORIES_TABLE} m ON m.seq = f.rowid"
            f" WHERE {FTS_TABLE} MATCH :match AND m.scope = :scope{tag_filter}"
            f" ORDER BY bm25({FTS_TABLE}), m.updated_at DESC LIMIT :limit"
        )
    else:
        words = [token for token in tokens if token not in _PG_OPERATOR_WORDS]
        if not words:
            return []
        params["query"] = " or ".join(words)
        vector = f"m.{TEXT_SEARCH_COLUMN}"
        statement = (
            f"SELECT {columns} FROM {MEMORIES_TABLE} m,"
            f" websearch_to_tsquery('{PG_TS_CONFIG}', :query) q"
            f" WHERE m.scope = :scope AND {vector} @@ q{tag_filter}"
            f" ORDER BY ts_rank({vector}, q) DESC, m.updated_at DESC LIMIT :limit"
        )
    return list(conn.execute(sql(statement), params).all())


def rows_by_id(conn: Connection, ids: builtins.list[str], scope: str) -> dict[str, Row[Any]]:
    from sqlalchemy import select

    if not ids:
        return {}
    memories, _tags = schema()
    rows = conn.execute(
        select(memories).where(memories.c.id.in_(ids), memories.c.scope == scope)
    ).all()
    return {row.id: row for row in rows}

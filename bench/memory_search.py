"""Memory search: latency of MemoryStore.search at 1,000 and 100,000 memories.

One scope holds N generated notes (12 words each from a 2,000-word vocabulary),
written with ``MemoryStore.add_many`` (bulk, one transaction per 1,000). Then
the median and p95 latency of ``search(query, limit=5)`` over 200 queries of 3
to 6 words: keyword search (SQLite FTS5, PostgreSQL full-text when its server
is on this machine, started here on loopback) and hybrid search on SQLite
(sqlite-vec, 384-dimension vectors from ``HashingEmbedder``, which costs
microseconds, so the figure is the database's share). PostgreSQL's statistics
are refreshed (``ANALYZE``) after the bulk load, as autovacuum soon would.

    uv run python bench/memory_search.py [--sizes 1000,100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import tempfile
import time

from _common import median, ms, percentile, table

from ascent.memory._vectors import dispose_vector_engines
from ascent.memory.embedders import HashingEmbedder
from ascent.memory.store import MemoryStore
from ascent.storage import dispose_engines, get_engine
from ascent.testing.postgres import PostgresServer, find_postgres_bin

SCOPE = "bench-user"
DIMENSIONS = 384


def vocabulary(rng: random.Random, size: int = 2000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(4, 9))))
    return sorted(words)


def notes(rng: random.Random, words: list[str], count: int) -> list[str]:
    return [" ".join(rng.choices(words, k=12)) for _ in range(count)]


async def fill(store: MemoryStore, texts: list[str]) -> float:
    start = time.perf_counter()
    await store.add_many(texts, scope=SCOPE, batch_size=1000)
    return time.perf_counter() - start


async def latencies(store: MemoryStore, queries: list[str]) -> tuple[float, float]:
    for query in queries[:10]:  # warm the caches and the connection pool
        await store.search(query, scope=SCOPE, limit=5)
    times = []
    for query in queries:
        start = time.perf_counter()
        await store.search(query, scope=SCOPE, limit=5)
        times.append(time.perf_counter() - start)
    return median(times), percentile(times, 95)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="tiny counts (smoke test)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    dimensions = DIMENSIONS
    if args.quick:
        sizes, args.queries, dimensions = [50, 200], 12, 32
    rng = random.Random(7)
    words = vocabulary(rng)
    queries = [" ".join(rng.choices(words, k=rng.randint(3, 6))) for _ in range(args.queries)]
    corpus = notes(rng, words, max(sizes))
    # half the queries are a note's own words, so every store has real matches to rank
    queries = [
        " ".join(rng.sample(corpus[rng.randrange(min(sizes))].split(), 4)) if n % 2 else query
        for n, query in enumerate(queries)
    ]

    lines = [["store", "memories", "bulk insert", "search (median)", "search (p95)"]]
    medians: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        kinds = ["sqlite keyword", "sqlite hybrid"]
        server = None
        if find_postgres_bin() is not None:
            server = stack.enter_context(PostgresServer())
            kinds.append("postgresql keyword")
        stack.callback(dispose_vector_engines)
        stack.callback(dispose_engines)  # before the server stops and the folder goes
        for kind in kinds:
            for size in sizes:
                if kind.startswith("postgresql"):
                    assert server is not None
                    url = server.create_database(f"bench_memory_{size}")
                else:
                    url = f"sqlite:///{folder}/{kind.split()[1]}-{size}.db"
                embedder = HashingEmbedder(dimensions=dimensions) if "hybrid" in kind else None
                store = MemoryStore(url, embedder=embedder)
                took = asyncio.run(fill(store, corpus[:size]))
                if kind.startswith("postgresql"):
                    # fresh statistics, as autovacuum would soon give them
                    with get_engine(url).begin() as conn:
                        conn.exec_driver_sql("ANALYZE ascent_memories")
                med, p95 = asyncio.run(latencies(store, queries))
                medians.setdefault(kind, []).append(med)
                lines.append([kind, f"{size:,}", f"{took:.1f} s", ms(med), ms(p95)])
    print(table(lines))
    print()
    for kind, values in medians.items():
        print(
            f"{kind}: median search at {sizes[-1]:,} memories / at {sizes[0]:,} = "
            f"{values[-1] / values[0]:.2f}x"
        )


if __name__ == "__main__":
    main()

"""Sessions: append and last-20 read latency as a history grows.

For each backend (SQLite always; PostgreSQL and Redis when their servers are on
this machine, started here on loopback), a session is filled to 100, 10,000 and
100,000 items; then the median latency of appending one item and of reading the
last 20 is measured. Both must stay flat as the history grows: reads walk the
session's index backwards, they never scan the history.

    uv run python bench/sessions.py [--sizes 100,10000,100000] [--repeat 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from collections.abc import Iterator

from _common import median, ms, table

from ascent.items import Item, Message
from ascent.memory import open_session
from ascent.memory.session import Session
from ascent.testing.postgres import PostgresServer, find_postgres_bin
from ascent.testing.redis import RedisServer, find_redis_server

TARGET_FLATNESS = 2.0  # largest history's latency / smallest's


def message(n: int) -> Item:
    return Message(role="user" if n % 2 == 0 else "assistant", content=f"message number {n}")


async def fill(session: Session, size: int) -> None:
    batch = 1000
    for start in range(0, size, batch):
        await session.add_items([message(n) for n in range(start, min(size, start + batch))])


async def latencies(session: Session, repeat: int) -> tuple[float, float]:
    appends, reads = [], []
    for n in range(repeat):
        start = time.perf_counter()
        await session.add_items([message(n)])
        appends.append(time.perf_counter() - start)
        start = time.perf_counter()
        last = await session.get_items(limit=20)
        reads.append(time.perf_counter() - start)
        assert len(last) == 20
    return median(appends), median(reads)


@contextlib.contextmanager
def backends(folder: str) -> Iterator[dict[str, str]]:
    urls = {"sqlite": f"sqlite:///{folder}/sessions.db"}
    with contextlib.ExitStack() as stack:
        if find_postgres_bin() is not None:
            urls["postgresql"] = stack.enter_context(PostgresServer()).url
        if find_redis_server() is not None:
            urls["redis"] = stack.enter_context(RedisServer()).url
        yield urls


async def measure(url: str, sizes: list[int], repeat: int) -> list[tuple[int, float, float]]:
    rows = []
    for size in sizes:
        session = open_session(f"bench-{size}", url)
        await session.clear()
        await fill(session, size)
        append, read = await latencies(session, repeat)
        rows.append((size, append, read))
        await session.clear()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,10000,100000")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="tiny counts (smoke test)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.quick:
        sizes, args.repeat = [30, 300], 5
    lines = [["backend", "items", "append (median)", "last 20 (median)"]]
    verdicts = []
    with tempfile.TemporaryDirectory() as folder, backends(folder) as urls:
        for name, url in urls.items():
            rows = asyncio.run(measure(url, sizes, args.repeat))
            lines += [[name, f"{size:,}", ms(a), ms(r)] for size, a, r in rows]
            growth = rows[-1][2] / rows[0][2]
            flat = "met" if growth < TARGET_FLATNESS else "MISSED"
            verdicts.append(
                f"{name}: last-20 read at {sizes[-1]:,} items / at {sizes[0]:,} = {growth:.2f}x "
                f"(flat means < {TARGET_FLATNESS:g}x: {flat})"
            )
    print(table(lines))
    print()
    print("\n".join(verdicts))


if __name__ == "__main__":
    main()

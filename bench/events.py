"""Events: messages in → runs queued per second, publish → completion latency, relay lag.

One replica (a ``DurableEngine`` and its ``EventService``) per database and broker,
the brokers started on loopback (``ascent.testing``: RabbitMQ, NATS JetStream,
Redis), PostgreSQL too when its binaries are installed.

1. Intake: ``-n`` CloudEvents published to a subscribed topic as fast as one
   publisher sends them (another process, batches of 100 in flight), while the
   replica turns each into a durable run (the event id its idempotency key; the
   scripted model answering at once), twice: as an intake replica
   (``worker_concurrency=0``: its runs wait for worker replicas) and running four
   at a time. Events/s = events ÷ the time from the first publish until the
   consumer has handled the last one (a run queued for each); the CPU per event
   of the replica and of every other process at work (publisher, broker server,
   PostgreSQL, from ``/proc``), and the events/s two cores allow at that total.
   The run lifecycle events this writes go through the outbox meanwhile: the
   relay's lag is each event's publication time minus the time its change
   committed (p50, p99, max), and the largest backlog seen; and, until the relay
   has published the last of them, the events/s and the replica's CPU per event.
   The intake replica is measured a second time with its relay apart
   (``EventService(relay=False)``, an ``OutboxRelay`` in a process of its own:
   intake replicas beside relay replicas), the relay's CPU among the others.
2. Latency: ``--latency-runs`` events one after another, each a run of the
   two-step scenario against the mock model (a subprocess, answering at once):
   from the publish to the arrival of the run's ``ascent.run.completed.v1`` event
   at a subscriber (p50, p99).

    uv run python bench/events.py [-n 2000] [--latency-runs 200]
        [--brokers rabbitmq,nats,redis] [--no-postgres] [--concurrency 1]
        [--no-relay-apart]

Targets: ≥ 500 events/s on SQLite, ≥ 1,000/s on PostgreSQL, on RabbitMQ and on NATS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import openai
from _common import INSTRUCTIONS, add_async, median, mock_server, ms, percentile, table
from _common import verdict as _verdict
from service import Meter, process_tree

from ascent import Agent, RunConfig, function_tool
from ascent.durable import DurableEngine, run_id_for_key
from ascent.durable.outbox import Outbox
from ascent.events import (
    RUN_COMPLETED,
    RUNS_TOPIC,
    CloudEvent,
    EventService,
    connect_broker,
    parse_event,
    subscribe,
)
from ascent.models.openai_chat import OpenAIChatModel
from ascent.storage import dispose_engines, get_engine
from ascent.testing import ScriptedModel

TARGETS = {"sqlite": 500.0, "postgresql": 1000.0}  # events/s
# runs each intake replica runs at once: 0, an intake replica (worker replicas run its
# runs); 4, a replica that also runs them, competing for its core
WORKERS = (0, 4)
TOPIC = "bench.orders"
BATCH = 100
NO_TRACES = RunConfig(tracing_disabled=True)


@dataclass
class Intake:
    events: int
    seconds: float
    lags: list[float] = field(default_factory=list)
    backlog: int = 0
    workers: int = 0
    cpu: float = 0.0  # the replica's CPU seconds (all its threads) over the intake
    others: dict[str, float] = field(default_factory=dict)  # other processes' CPU seconds
    relay_apart: bool = False  # the relay in a process of its own (its CPU in others)
    published_seconds: float = 0.0  # from the first publish until the relay published all
    published_cpu: float = 0.0  # the replica's (and a relay apart's) CPU seconds until then

    @property
    def shape(self) -> str:
        return f"{self.workers}" + (", relay apart" if self.relay_apart else "")

    @property
    def machine_cpu_per_event(self) -> float:
        """CPU per event of every process at work: replica, publisher, broker, database."""
        return (self.cpu + sum(self.others.values())) / self.events

    @property
    def cpu_per_event(self) -> float:
        return self.cpu / self.events

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def order(n: int) -> CloudEvent:
    return CloudEvent(
        id=f"order-{uuid.uuid4().hex}", source="/bench", type="com.example.order.v1", data={"n": n}
    )


INTAKE_TIMEOUT = 300.0  # a stalled consumer fails the benchmark instead of hanging it


async def intake(
    database_url: str,
    broker_url: str,
    n: int,
    concurrency: int = 1,
    *,
    workers: int = 4,
    meter: Meter | None = None,
    relay_apart: bool = False,
) -> Intake:
    """Part 1: publish ``n`` events, time until the replica has queued a run for each
    (handling ``concurrency`` messages at once, running ``workers`` runs at once: 0
    makes it an intake replica, its runs left to worker replicas), then until the
    relay has published their lifecycle events (the replica's own relay, or with
    ``relay_apart`` one in another process). ``meter`` reads the other processes'
    CPU (broker, database); the publisher's (and a relay apart's) is added to it."""
    model = ScriptedModel([lambda _request: "noted"] * (n + 10))
    meter = meter or Meter()
    engine = DurableEngine(
        agents=[Agent(name="support", instructions="Note the order.", model=model)],
        database_url=database_url,
        run_config=NO_TRACES,
        executor_id="bench-events",
        worker_concurrency=workers,
        poll_interval=0.05,
    )
    service = EventService(
        engine,
        broker_url=broker_url,
        subscriptions=[subscribe(TOPIC, agent="support", concurrency=concurrency)],
        name="bench-replica",
        relay=not relay_apart,
    )
    outbox = Outbox(database_url)
    backlog = looks = 0
    async with engine:
        await service.start()
        try:
            consumer = service.consumer
            assert consumer is not None
            with contextlib.ExitStack() as stack:
                if relay_apart:
                    meter.add("relay", stack.enter_context(relay_process(database_url, broker_url)))
                publisher = stack.enter_context(publisher_process(broker_url, n))
                go, publisher_pid = publisher
                meter.add("publisher", publisher_pid)
                before = meter.read()
                start, cpu_start = time.perf_counter(), time.process_time()
                go()
                deadline = time.monotonic() + INTAKE_TIMEOUT
                while consumer.handled < n:
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"the replica handled {consumer.handled} of {n} events "
                            f"in {INTAKE_TIMEOUT:.0f} s"
                        )
                    looks += 1
                    if looks % 5 == 0:  # the backlog now and then: the query costs the replica
                        lag = await asyncio.to_thread(outbox.lag)
                        backlog = max(backlog, lag[0])
                    await asyncio.sleep(0.02)
                seconds = time.perf_counter() - start
                cpu = time.process_time() - cpu_start
                after = meter.read()
                while (await asyncio.to_thread(outbox.lag))[0]:  # until the relay is done
                    if time.monotonic() > deadline + INTAKE_TIMEOUT:
                        raise RuntimeError("the relay did not publish every event")
                    await asyncio.sleep(0.02)
                published_seconds = time.perf_counter() - start
                published_cpu = time.process_time() - cpu_start
                if relay_apart:
                    published_cpu += meter.read()["relay"] - before["relay"]
                meter.parties.pop("publisher", None)
                meter.parties.pop("relay", None)
        finally:
            await service.stop()
    others = {party: after[party] - before.get(party, 0.0) for party in after}
    others.pop("clients", None)  # this process: the replica, counted as cpu
    return Intake(
        events=n,
        seconds=seconds,
        workers=workers,
        lags=relay_lags(database_url),
        backlog=backlog,
        cpu=cpu,
        others=others,
        relay_apart=relay_apart,
        published_seconds=published_seconds,
        published_cpu=published_cpu,
    )


# The publisher: another service, in a process of its own (its CPU is not the
# replica's). Connects, says "ready", publishes argv[2] events when told "go".
_PUBLISHER = f"""
import asyncio, sys
from ascent.events import CloudEvent, connect_broker

async def main(url, n):
    broker = connect_broker(url)
    await broker.start()
    events = [
        CloudEvent(source="/bench", type="com.example.order.v1", data={{"n": i}}).to_json_bytes()
        for i in range(n)
    ]
    print("ready", flush=True)
    sys.stdin.readline()
    for first in range(0, n, {BATCH}):
        await asyncio.gather(*(broker.publish({TOPIC!r}, e) for e in events[first:first + {BATCH}]))
    await broker.stop()

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


@contextlib.contextmanager
def _script_process(script: str, *arguments: str, what: str) -> Iterator[subprocess.Popen[str]]:
    """``script`` in a process of its own, once it says "ready"; when the block ends,
    its input closes (its signal to stop) and it must exit cleanly."""
    process = subprocess.Popen(
        [sys.executable, "-c", script, *arguments],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the {what} did not start")
        yield process
    finally:
        process.stdin.close()
        if process.wait(timeout=60) != 0:
            raise RuntimeError(f"the {what} failed ({process.returncode})")
        process.stdout.close()


@contextlib.contextmanager
def publisher_process(broker_url: str, n: int) -> Iterator[tuple[Callable[[], None], int]]:
    """A publisher of ``n`` events, connected; call what it yields to start publishing
    (yielded with its pid)."""
    with _script_process(_PUBLISHER, broker_url, str(n), what="publisher") as process:

        def go() -> None:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()

        yield go, process.pid


# A relay replica: the outbox relay alone, in a process of its own. Says "ready"
# once started; stops when its input closes.
_RELAY = """
import asyncio, sys
from ascent.events import OutboxRelay, connect_broker

async def main(database_url, broker_url):
    broker = connect_broker(broker_url, name="bench-relay")
    await broker.start()
    relay = OutboxRelay(database_url, broker, name="bench-relay")
    await relay.start()
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.read)
    await relay.stop()
    await broker.stop()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@contextlib.contextmanager
def relay_process(database_url: str, broker_url: str) -> Iterator[int]:
    """A relay replica of ``database_url``'s outbox, started; yields its pid."""
    with _script_process(_RELAY, database_url, broker_url, what="relay") as process:
        yield process.pid


def relay_lags(database_url: str) -> list[float]:
    """Each published event's time from its committed change to its publication."""
    from sqlalchemy import text

    with get_engine(database_url).connect() as conn:
        rows = conn.execute(
            text("SELECT published_at - time FROM ascent_outbox WHERE published_at IS NOT NULL")
        )
        return [float(row[0]) for row in rows]


async def latency(database_url: str, broker_url: str, base_url: str, runs: int) -> list[float]:
    """Part 2: publish one event at a time; seconds until its run's completion event arrives."""
    async with openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0) as client:
        agent = Agent(
            name="calc",
            instructions=INSTRUCTIONS,
            model=OpenAIChatModel(model="mock", client=client),
            tools=[function_tool(name="add")(add_async)],
        )
        engine = DurableEngine(
            agents=[agent], database_url=database_url, run_config=NO_TRACES, poll_interval=0.05
        )
        service = EventService(
            engine, broker_url=broker_url, subscriptions=[subscribe(TOPIC, agent="calc")]
        )
        listener, publisher = connect_broker(broker_url), connect_broker(broker_url)
        completed: dict[str, asyncio.Future[float]] = {}

        async def on_run_event(body: bytes) -> None:
            event = parse_event(body)
            waiting = completed.get(event.runid or "")
            if event.type == RUN_COMPLETED and waiting is not None and not waiting.done():
                waiting.set_result(time.perf_counter())

        times: list[float] = []
        async with engine:
            await service.start()
            await listener.start()
            await listener.subscribe(RUNS_TOPIC, on_run_event)
            await publisher.start()
            try:
                for i in range(runs + 2):  # the first two warm the path up
                    event = order(i)
                    run_id = run_id_for_key(None, event.id)
                    completed[run_id] = asyncio.get_running_loop().create_future()
                    start = time.perf_counter()
                    await publisher.publish(TOPIC, event.to_json_bytes())
                    end = await asyncio.wait_for(completed[run_id], 60)
                    if i >= 2:
                        times.append(end - start)
            finally:
                await publisher.stop()
                await listener.stop()
                await service.stop()
    return times


@contextlib.contextmanager
def brokers(kinds: list[str]) -> Iterator[dict[str, Callable[[], tuple[str, list[int]]]]]:
    """The brokers asked for whose servers are installed: for each use a fresh URL,
    and the broker server's processes (to read their CPU)."""
    from ascent.testing.nats import NATSServer, find_nats_server
    from ascent.testing.rabbitmq import RabbitMQServer, find_rabbitmq_server
    from ascent.testing.redis import RedisServer, find_redis_server

    with contextlib.ExitStack() as stack:
        made: dict[str, Callable[[], tuple[str, list[int]]]] = {}
        for kind in kinds:
            if kind == "rabbitmq" and find_rabbitmq_server():
                rabbit = stack.enter_context(RabbitMQServer())
                made[kind] = lambda rabbit=rabbit: (rabbit.fresh_url(), process_tree(rabbit.pids))
            elif kind == "nats" and find_nats_server():
                # a server per use: it starts in milliseconds, and old streams would replay
                def fresh_nats() -> tuple[str, list[int]]:
                    nats = stack.enter_context(NATSServer())
                    return nats.url, process_tree([nats.pid] if nats.pid else [])

                made[kind] = fresh_nats
            elif kind == "redis" and find_redis_server():
                redis = stack.enter_context(RedisServer())
                made[kind] = lambda redis=redis: (fresh_redis(redis.url), [])
            else:
                print(f"{kind}: server not installed, skipped")
        yield made


def fresh_redis(url: str) -> str:
    import redis

    client = redis.Redis.from_url(url)
    client.flushall()
    client.close()
    return url


@contextlib.contextmanager
def databases(folder: Path, postgres: bool) -> Iterator[dict[str, Callable[[str], str]]]:
    """SQLite, and PostgreSQL when installed: a fresh database for each use (the
    PostgreSQL server's pid file in ``POSTMASTERS``, to read its CPU)."""
    made: dict[str, Callable[[str], str]] = {
        "sqlite": lambda name: f"sqlite:///{folder / f'{name}.db'}"
    }
    with contextlib.ExitStack() as stack:
        if postgres:
            from ascent.testing.postgres import PostgresServer, find_postgres_bin

            if find_postgres_bin() is not None:
                server = stack.enter_context(PostgresServer())
                made["postgresql"] = server.create_database
                POSTMASTERS["postgresql"] = server.data_dir / "postmaster.pid"
            else:
                print("postgresql: binaries not installed, skipped")
        yield made


POSTMASTERS: dict[str, Path] = {}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="events per intake measurement")
    parser.add_argument("--latency-runs", type=int, default=200, help="sequential runs timed")
    parser.add_argument("--brokers", default="rabbitmq,nats", help="rabbitmq,nats,redis")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--concurrency", type=int, default=1, help="messages the replica handles at once"
    )
    parser.add_argument("--quick", action="store_true", help="tiny counts, NATS only (smoke)")
    parser.add_argument(
        "--no-relay-apart", action="store_true", help="skip the intake replica with its relay apart"
    )
    args = parser.parse_args(argv)
    n, runs = (30, 3) if args.quick else (args.n, args.latency_runs)
    kinds = ["nats"] if args.quick else [k.strip() for k in args.brokers.split(",") if k.strip()]
    folder = Path(tempfile.mkdtemp(prefix="ascent-bench-events-"))
    # (workers, relay apart): the replicas measured
    shapes = [(workers, False) for workers in WORKERS]
    if not args.no_relay_apart:
        shapes.append((0, True))
    intakes: dict[tuple[str, str, str], Intake] = {}
    latencies: dict[tuple[str, str], list[float]] = {}
    with (
        brokers(kinds) as broker_urls,
        databases(folder, not (args.quick or args.no_postgres)) as database_urls,
        mock_server() as base_url,
    ):
        for db, new_database in database_urls.items():
            for kind, new_broker in broker_urls.items():
                name = f"{db}_{kind}"
                for workers, apart in shapes:
                    broker, broker_pids = new_broker()
                    meter = Meter()
                    meter.postmaster = POSTMASTERS.get(db)
                    for pid in broker_pids:
                        meter.add("broker", pid)
                    found = asyncio.run(
                        intake(
                            new_database(f"in_{name}_{workers}{'_apart' if apart else ''}"),
                            broker,
                            n,
                            args.concurrency,
                            workers=workers,
                            meter=meter,
                            relay_apart=apart,
                        )
                    )
                    intakes[(db, kind, found.shape)] = found
                    dispose_engines()
                latencies[(db, kind)] = asyncio.run(
                    latency(new_database(f"lat_{name}"), new_broker()[0], base_url, runs)
                )
                dispose_engines()
    report(intakes, latencies, n, runs, args.concurrency)


def report(
    intakes: dict[tuple[str, str, str], Intake],
    latencies: dict[tuple[str, str], list[float]],
    n: int,
    runs: int,
    concurrency: int,
) -> None:
    print(
        f"events in: {n} events published, one replica handling {concurrency} at once;"
        " workers: the runs it runs at once meanwhile (0: an intake replica, its runs"
        " queued for worker replicas; relay apart: its outbox relay in another process)"
    )
    rows = [
        [
            "database",
            "broker",
            "workers",
            "events/s",
            "target",
            "replica CPU/event",
            "all CPU/event",
            "2-core bound",
            "replica's core",
            "relay lag p50",
            "p99",
            "backlog",
        ]
    ]
    for (db, kind, shape), found in intakes.items():
        lags = found.lags or [0.0]
        target = TARGETS[db]
        total = found.machine_cpu_per_event
        rows.append(
            [
                db,
                kind,
                shape,
                f"{found.rate:,.0f}",
                f"≥ {target:,.0f}: {_verdict(found.rate >= target)}",
                ms(found.cpu_per_event),
                ms(total),
                f"{2 / total:,.0f}/s" if total else "-",
                f"{1 / found.cpu_per_event:,.0f}/s" if found.cpu else "-",
                ms(median(lags)),
                ms(percentile(lags, 99)),
                f"{found.backlog} events",
            ]
        )
    print(table(rows))
    print(
        "replica CPU/event: the replica's CPU time (every thread: consumer, engine, workers,"
        " relay) over the intake, per event. all CPU/event: with the publisher's, the broker"
        " server's and PostgreSQL's (from /proc). 2-core bound: the events/s this machine's"
        " two cores allow at that total; replica's core: the events/s one core allows the"
        " replica (one Python process runs on about one core at a time)."
    )
    print(
        "until published: from the first publish until the relay has published the last"
        " lifecycle event, the events/s and the CPU per event of the replica (with a relay"
        " apart, of both)."
    )
    for (db, kind, shape), found in intakes.items():
        parts = ", ".join(f"{who} {ms(cpu / found.events)}" for who, cpu in found.others.items())
        print(
            f"  {db}/{kind}, workers {shape}: replica {ms(found.cpu_per_event)}, {parts};"
            f" until published {found.events / found.published_seconds:,.0f}/s,"
            f" {ms(found.published_cpu / found.events)}"
        )
    print(f"\npublish → run completed event: {runs} sequential runs, mock model at 0 ms")
    rows = [["database", "broker", "p50", "p99"]]
    for (db, kind), times in latencies.items():
        rows.append([db, kind, ms(median(times)), ms(percentile(times, 99))])
    print(table(rows))


if __name__ == "__main__":
    main()

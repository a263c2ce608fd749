"""The two-step scenario over HTTP, against the local mock OpenAI server.

The mock (``ascent.testing.mock_openai.MockOpenAIServer``) runs in a separate
process, so the CPU time measured here is the client side's only. Contestants,
each over the same ``openai.AsyncOpenAI`` client and the same async ``add`` tool:

- ``ascent``: ``Agent`` + ``Runner`` with the ``openai-chat:`` and ``openai:`` providers;
- ``hand-written``: a minimal loop over the ``openai`` client (create, run the tool,
  create again), for Chat Completions and for Responses;
- ``openai-agents``: the OpenAI Agents SDK with its Chat Completions and Responses
  models (when the ``bench`` group is installed; its tracing is turned off).

Figures: per-run wall and CPU time over sequential runs; runs/s, CPU and memory
(peak RSS growth / runs) of concurrent runs against a model answering in 100 ms,
each contestant in a fresh process; time to the first streamed text delta.

    uv run --group bench python bench/wire.py [-n 300] [--concurrent 1000] [--streamed 100]

Target: Ascent's CPU per run at most 1.15x the hand-written loop's.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import openai
from _common import (
    ANSWER,
    INSTRUCTIONS,
    QUESTION,
    add_async,
    have_agents_sdk,
    kb,
    median,
    mock_server,
    ms,
    peak_rss,
    table,
    verdict,
)

from ascent.tracing import flush_traces

TARGET_CPU_RATIO = 1.15
FAST, SLOW = "mock", "mock@0.1"  # the mock answers "model@seconds" after that delay


def client_for(base_url: str) -> openai.AsyncOpenAI:
    # A long timeout, connecting included: 1,000 busy runs can starve a connect for seconds.
    return openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0, timeout=600)


# ----------------------------------------------------------------- contestants


@dataclass
class Contestant:
    """``run(model)`` returns the final text; ``first_delta(model)`` the seconds
    from start to the first streamed text delta (it finishes the run)."""

    name: str
    api: str  # "chat" or "responses"
    run: Callable[[str], Awaitable[str]]
    first_delta: Callable[[str], Awaitable[float]]


def ascent(api: str, client: openai.AsyncOpenAI, *, tracing: bool = True) -> Contestant:
    """Ascent as users get it (tracing on, into the local store), or with tracing off."""
    from ascent import Agent, RunConfig, Runner, function_tool
    from ascent.models.openai_chat import OpenAIChatModel
    from ascent.models.openai_responses import OpenAIResponsesModel
    from ascent.run import TextDeltaEvent

    provider = OpenAIChatModel if api == "chat" else OpenAIResponsesModel
    tools = [function_tool(name="add")(add_async)]
    agents = {
        model: Agent(
            name="calc",
            instructions=INSTRUCTIONS,
            model=provider(model=model, client=client),
            tools=tools,
        )
        for model in (FAST, SLOW)
    }

    config = RunConfig(tracing_disabled=not tracing)

    async def run(model: str) -> str:
        return (await Runner.run(agents[model], QUESTION, run_config=config)).final_output

    async def first_delta(model: str) -> float:
        start, first = time.perf_counter(), 0.0
        streamed = Runner.run_streamed(agents[model], QUESTION, run_config=config)
        async for event in streamed.stream_events():
            if not first and isinstance(event, TextDeltaEvent):
                first = time.perf_counter() - start
        return first

    name = f"ascent {api}" if tracing else f"ascent {api}, untraced"
    return Contestant(name, api, run, first_delta)


CHAT_TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "add",
            "description": "Add two numbers.",
            "parameters": {
                "type": "object",
                "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                "required": ["a", "b"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    }
]
RESPONSES_TOOLS: list[Any] = [{"type": "function", **CHAT_TOOLS[0]["function"]}]


async def call_tool(arguments: str) -> str:
    return str(await add_async(**json.loads(arguments)))


def hand_written_chat(client: openai.AsyncOpenAI) -> Contestant:
    def start() -> list[Any]:
        return [{"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": QUESTION}]

    async def add_outputs(messages: list[Any], calls: list[tuple[str, str, str]]) -> None:
        tool_calls = [
            {"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}
            for id, name, arguments in calls
        ]
        messages.append({"role": "assistant", "content": None, "tool_calls": tool_calls})
        for id, _, arguments in calls:
            messages.append(
                {"role": "tool", "tool_call_id": id, "content": await call_tool(arguments)}
            )

    async def run(model: str) -> str:
        messages = start()
        while True:
            completion = await client.chat.completions.create(
                model=model, messages=messages, tools=CHAT_TOOLS
            )
            message = completion.choices[0].message
            if not message.tool_calls:
                return message.content or ""
            calls = [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls]  # type: ignore[union-attr]
            await add_outputs(messages, calls)

    async def first_delta(model: str) -> float:
        begin, first = time.perf_counter(), 0.0
        messages = start()
        while True:
            stream = await client.chat.completions.create(
                model=model, messages=messages, tools=CHAT_TOOLS, stream=True
            )
            calls: dict[int, list[str]] = {}
            async for chunk in stream:
                delta = chunk.choices[0].delta if chunk.choices else None
                if delta is None:
                    continue
                if delta.content and not first:
                    first = time.perf_counter() - begin
                for part in delta.tool_calls or []:
                    call = calls.setdefault(part.index, ["", "", ""])
                    function = part.function
                    call[0] = part.id or call[0]
                    call[1] = (function and function.name) or call[1]
                    call[2] += (function and function.arguments) or ""
            if not calls:
                return first
            await add_outputs(messages, [(c[0], c[1], c[2]) for c in calls.values()])

    return Contestant("hand-written chat", "chat", run, first_delta)


def hand_written_responses(client: openai.AsyncOpenAI) -> Contestant:
    async def add_outputs(items: list[Any], calls: list[Any]) -> None:
        for c in calls:
            items.append(
                {
                    "type": "function_call",
                    "call_id": c.call_id,
                    "name": c.name,
                    "arguments": c.arguments,
                }
            )
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": c.call_id,
                    "output": await call_tool(c.arguments),
                }
            )

    async def run(model: str) -> str:
        items: list[Any] = [{"role": "user", "content": QUESTION}]
        while True:
            response = await client.responses.create(
                model=model, instructions=INSTRUCTIONS, input=items, tools=RESPONSES_TOOLS
            )
            calls = [item for item in response.output if item.type == "function_call"]
            if not calls:
                return response.output_text
            await add_outputs(items, calls)

    async def first_delta(model: str) -> float:
        begin, first = time.perf_counter(), 0.0
        items: list[Any] = [{"role": "user", "content": QUESTION}]
        while True:
            stream = await client.responses.create(
                model=model,
                instructions=INSTRUCTIONS,
                input=items,
                tools=RESPONSES_TOOLS,
                stream=True,
            )
            calls = []
            async for event in stream:
                if event.type == "response.output_text.delta" and not first:
                    first = time.perf_counter() - begin
                elif (
                    event.type == "response.output_item.done" and event.item.type == "function_call"
                ):
                    calls.append(event.item)
            if not calls:
                return first
            await add_outputs(items, calls)

    return Contestant("hand-written responses", "responses", run, first_delta)


def openai_agents(api: str, client: openai.AsyncOpenAI) -> Contestant:
    import agents

    agents.set_tracing_disabled(True)
    provider = agents.OpenAIChatCompletionsModel if api == "chat" else agents.OpenAIResponsesModel
    tools: list[Any] = [agents.function_tool(add_async, name_override="add")]
    by_model = {
        model: agents.Agent(
            name="calc",
            instructions=INSTRUCTIONS,
            model=provider(model=model, openai_client=client),
            tools=tools,
        )
        for model in (FAST, SLOW)
    }

    async def run(model: str) -> str:
        return (await agents.Runner.run(by_model[model], QUESTION)).final_output

    async def first_delta(model: str) -> float:
        start, first = time.perf_counter(), 0.0
        streamed = agents.Runner.run_streamed(by_model[model], QUESTION)
        async for event in streamed.stream_events():
            if (
                not first
                and event.type == "raw_response_event"
                and event.data.type == "response.output_text.delta"
            ):
                first = time.perf_counter() - start
        return first

    return Contestant(f"openai-agents {api}", api, run, first_delta)


def contestants(client: openai.AsyncOpenAI) -> list[Contestant]:
    chosen = [
        ascent("chat", client),
        ascent("chat", client, tracing=False),
        hand_written_chat(client),
        ascent("responses", client),
        ascent("responses", client, tracing=False),
        hand_written_responses(client),
    ]
    if have_agents_sdk():
        chosen += [openai_agents("chat", client), openai_agents("responses", client)]
    return chosen


# -------------------------------------------------------------------- measures


@dataclass
class Sequential:
    api: str
    wall: float = 0.0
    cpu: float = 0.0
    runs: int = 0

    @property
    def cpu_per_run(self) -> float:
        return self.cpu / self.runs


async def sequential(
    base_url: str, n: int, *, warmup: int = 10, rounds: int = 4
) -> dict[str, Sequential]:
    """Per-run wall and CPU time; contestants take turns, ``rounds`` times."""
    client = client_for(base_url)
    everyone = contestants(client)
    figures = {c.name: Sequential(c.api) for c in everyone}
    for c in everyone:  # warm up: imports, connections, caches
        for _ in range(warmup):
            assert await c.run(FAST) == ANSWER
    flush_traces()  # the trace writer's one-time start (its imports, tables) is warm-up too
    batch = max(1, n // rounds)
    for _ in range(rounds):
        for c in everyone:
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(batch):
                await c.run(FAST)
            flush_traces()  # Ascent's traces are written within its own timing
            seen = figures[c.name]
            seen.wall += time.perf_counter() - wall
            seen.cpu += time.process_time() - cpu
            seen.runs += batch
    await client.close()
    return figures


async def streamed(base_url: str, n: int, *, warmup: int = 5) -> dict[str, float]:
    """Median seconds to the first streamed text delta of the final answer."""
    client = client_for(base_url)
    everyone = contestants(client)
    times: dict[str, list[float]] = {c.name: [] for c in everyone}
    for c in everyone:
        for _ in range(warmup):
            await c.first_delta(FAST)
    for _ in range(n):
        for c in everyone:
            times[c.name].append(await c.first_delta(FAST))
    await client.close()
    return {name: median(t) for name, t in times.items()}


async def concurrent_worker(
    base_url: str, name: str, n: int, *, warmup: int = 10
) -> dict[str, float]:
    """``n`` runs at once against the slow model, in this (fresh) process."""
    client = client_for(base_url)
    contestant = next(c for c in contestants(client) if c.name == name)
    for _ in range(warmup):
        await contestant.run(FAST)
    flush_traces()
    gc.collect()
    async with peak_rss() as rss:
        wall, cpu = time.perf_counter(), time.process_time()
        outputs = await asyncio.gather(*(contestant.run(SLOW) for _ in range(n)))
        flush_traces()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert outputs == [ANSWER] * n
    await client.close()
    return {"runs_per_s": n / wall, "cpu": cpu / n, "rss_per_run": rss.growth / n}


def concurrent(
    base_url: str, names: list[str], n: int, *, isolated: bool = True
) -> dict[str, dict[str, float]]:
    """Each contestant's concurrent figures, from a fresh process unless not ``isolated``."""
    figures = {}
    for name in names:
        if not isolated:  # quick: in this process, barely warmed up
            figures[name] = asyncio.run(concurrent_worker(base_url, name, n, warmup=1))
            continue
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                name,
                "--base-url",
                base_url,
                "--concurrent",
                str(n),
            ],
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        ).stdout
        figures[name] = json.loads(out.strip().splitlines()[-1])
    return figures


# ---------------------------------------------------------------------- report


def report(
    seq: dict[str, Sequential], conc: dict[str, dict[str, float]], first: dict[str, float], n: int
) -> None:
    hand = {api: seq[f"hand-written {api}"].cpu_per_run for api in ("chat", "responses")}
    rows = [["contestant", "wall/run", "CPU/run", "CPU ratio"]]
    rows[0] += ["conc runs/s", "conc CPU/run", "RSS/conc run", "first delta"]
    for name, s in seq.items():
        c = conc[name]
        rows.append(
            [
                name,
                ms(s.wall / s.runs),
                ms(s.cpu_per_run),
                f"{s.cpu_per_run / hand[s.api]:.2f}x",
                f"{c['runs_per_s']:.0f}",
                ms(c["cpu"]),
                kb(c["rss_per_run"]),
                ms(first[name]),
            ]
        )
    runs = next(iter(seq.values())).runs
    print(
        f"Two-step run over HTTP (mock server in another process): {runs} sequential runs each; "
        f"{n} concurrent runs with 100 ms model latency (a fresh process each, but with --quick); "
        "first streamed text delta of the answer (median)\n"
    )
    print(table(rows))
    print("\nCPU ratio: CPU per run / the hand-written loop's on the same API")
    for api in ("chat", "responses"):
        ours = seq[f"ascent {api}"].cpu_per_run
        ratio = ours / hand[api]
        print(
            f"ascent {api} / hand-written {api} CPU: {ratio:.2f}x "
            f"(target <= {TARGET_CPU_RATIO}x: {verdict(ratio <= TARGET_CPU_RATIO)})"
        )
        untraced = seq[f"ascent {api}, untraced"].cpu_per_run
        print(
            f"ascent {api} tracing on / off CPU: {ours / untraced:.2f}x "
            f"(target <= {TARGET_CPU_RATIO}x: {verdict(ours / untraced <= TARGET_CPU_RATIO)})"
        )
        peer = seq.get(f"openai-agents {api}")
        if peer is not None:
            print(f"openai-agents {api} / ascent {api} CPU: {peer.cpu_per_run / ours:.2f}x")
    if not have_agents_sdk():
        print("openai-agents is not installed (uv sync --group bench): peer skipped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300, help="sequential runs per contestant")
    parser.add_argument("--concurrent", type=int, default=1000, help="concurrent runs")
    parser.add_argument("--streamed", type=int, default=100, help="streamed runs per contestant")
    parser.add_argument("--quick", action="store_true", help="tiny counts (smoke test)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(
            json.dumps(asyncio.run(concurrent_worker(args.base_url, args.worker, args.concurrent)))
        )
        return
    if args.quick:
        args.n, args.concurrent, args.streamed = 4, 5, 2
    with mock_server() as base_url:
        warmup = 1 if args.quick else 10
        seq = asyncio.run(sequential(base_url, args.n, warmup=warmup))
        first = asyncio.run(streamed(base_url, args.streamed, warmup=warmup))
        conc = concurrent(base_url, list(seq), args.concurrent, isolated=not args.quick)
    report(seq, conc, first, args.concurrent)


if __name__ == "__main__":
    main()

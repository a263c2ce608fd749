"""``ascent graph``: the agent network as Mermaid and Graphviz DOT, cycles included."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ascent import Agent, function_tool
from ascent.cli import app
from ascent.graph_view import AgentNetwork, Edge, Node, agent_network, to_dot, to_mermaid
from ascent.handoffs import handoff
from ascent.tools import WebSearchTool

NETWORK = '''
from ascent import Agent, function_tool
from ascent.handoffs import handoff
from ascent.tools import WebSearchTool


@function_tool
def search(query: str) -> str:
    """Search the notes."""
    return query


@function_tool(needs_approval=True)
def delete_note(note_id: str) -> str:
    """Delete a note."""
    return note_id


researcher = Agent(name="Researcher", tools=[search, WebSearchTool()])
writer = Agent(name='Writer "Pro" #1 <b>', tools=[search])  # the same search tool object
lead = Agent(
    name="Lead",
    tools=[researcher.as_tool(name="ask_researcher"), delete_note],
    handoffs=[writer],
)
writer.handoffs.extend([handoff(lead), Agent(name="Lead")])  # a cycle, and a namesake
'''

MERMAID = """\
flowchart LR
    agent_lead("Lead")
    agent_researcher("Researcher")
    tool_delete_note[["delete_note (needs approval)"]]
    agent_writer_pro_1_b("Writer #quot;Pro#quot; #35;1 #lt;b#gt;")
    tool_search[["search"]]
    tool_web_search{{"web_search"}}
    agent_lead_2("Lead")
    agent_lead ==>|"as tool: ask_researcher"| agent_researcher
    agent_lead -.-> tool_delete_note
    agent_lead -->|"handoff"| agent_writer_pro_1_b
    agent_researcher -.-> tool_search
    agent_researcher -.-> tool_web_search
    agent_writer_pro_1_b -.-> tool_search
    agent_writer_pro_1_b -->|"handoff"| agent_lead
    agent_writer_pro_1_b -->|"handoff"| agent_lead_2
"""

AGENT_NODE = 'shape=box, style="rounded,filled", fillcolor="#dbeafe"'
DOT = f"""\
digraph agents {{
    rankdir=LR;
    agent_lead [label="Lead", {AGENT_NODE}];
    agent_researcher [label="Researcher", {AGENT_NODE}];
    tool_delete_note [label="delete_note (needs approval)", shape=component];
    agent_writer_pro_1_b [label="Writer \\"Pro\\" #1 <b>", {AGENT_NODE}];
    tool_search [label="search", shape=component];
    tool_web_search [label="web_search", shape=hexagon];
    agent_lead_2 [label="Lead", {AGENT_NODE}];
    agent_lead -> agent_researcher [label="as tool: ask_researcher", style=bold];
    agent_lead -> tool_delete_note [style=dashed];
    agent_lead -> agent_writer_pro_1_b [label="handoff"];
    agent_researcher -> tool_search [style=dashed];
    agent_researcher -> tool_web_search [style=dashed];
    agent_writer_pro_1_b -> tool_search [style=dashed];
    agent_writer_pro_1_b -> agent_lead [label="handoff"];
    agent_writer_pro_1_b -> agent_lead_2 [label="handoff"];
}}
"""


@pytest.fixture
def network_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "team.py"
    path.write_text(NETWORK)
    monkeypatch.setattr(sys, "path", list(sys.path))  # loading a file puts its directory there
    yield path
    sys.modules.pop("_ascent_cli_team", None)


def graph(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["graph", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_mermaid_for_a_network_with_a_cycle(network_file: Path) -> None:
    code, out, err = graph(f"{network_file}:lead")
    assert code == 0, err
    assert out == MERMAID


def test_dot_for_the_same_network(network_file: Path) -> None:
    code, out, err = graph(f"{network_file}:lead", "--dot")
    assert code == 0, err
    assert out == DOT


def test_every_node_id_is_a_bare_identifier_in_both_syntaxes(network_file: Path) -> None:
    _, out, _ = graph(f"{network_file}:lead")
    ids = re.findall(r"^    (\S+?)[(\[{]", out, flags=re.MULTILINE)
    assert len(ids) == len(set(ids)) == 7
    assert all(re.fullmatch(r"(agent|tool)_[a-z0-9_]+", node_id) for node_id in ids)


def test_the_walk_ends_on_cycles_and_self_handoffs() -> None:
    loner = Agent(name="Loop")
    loner.handoffs.append(loner)
    assert agent_network(loner) == AgentNetwork(
        nodes=(Node("agent_loop", "Loop", "agent"),),
        edges=(Edge("agent_loop", "agent_loop", "handoff", "handoff"),),
    )
    assert to_mermaid(Agent(name="客服")) == 'flowchart LR\n    agent_x("客服")\n'


def test_an_agent_reached_two_ways_is_one_node() -> None:
    @function_tool
    def ping() -> str:
        """Ping."""
        return "pong"

    shared = Agent(name="Shared", tools=[ping])
    left = Agent(name="Left", handoffs=[shared])
    right = Agent(name="Right", tools=[shared.as_tool()], handoffs=[handoff(shared)])
    root = Agent(name="Root", handoffs=[left, right], tools=[WebSearchTool()])
    network = agent_network(root)
    assert [node.id for node in network.nodes] == [
        "agent_root",
        "tool_web_search",
        "agent_left",
        "agent_right",
        "agent_shared",
        "tool_ping",
    ]
    assert [(e.source, e.target, e.kind) for e in network.edges] == [
        ("agent_root", "tool_web_search", "tool"),
        ("agent_root", "agent_left", "handoff"),
        ("agent_root", "agent_right", "handoff"),
        ("agent_left", "agent_shared", "handoff"),
        ("agent_right", "agent_shared", "agent_tool"),
        ("agent_right", "agent_shared", "handoff"),
        ("agent_shared", "tool_ping", "tool"),
    ]
    assert to_dot(network) == to_dot(root)


class FakeServer:
    """The one attribute the graph reads of an MCP server: it is never connected."""

    def __init__(self, name: str) -> None:
        self.name = name


def test_an_mcp_server_is_shown_without_connecting_to_it() -> None:
    agent = Agent(name="Ops")
    agent.mcp_servers = [FakeServer("files <ro>")]  # type: ignore[list-item]
    assert to_mermaid(agent) == (
        'flowchart LR\n    agent_ops("Ops")\n    mcp_files_ro[("MCP files #lt;ro#gt;")]\n'
        "    agent_ops -.-> mcp_files_ro\n"
    )
    assert '    mcp_files_ro [label="MCP files <ro>", shape=cylinder];\n' in to_dot(agent)


def test_the_demo_team_graph() -> None:
    code, out, err = graph("ascent.demo:triage")
    assert code == 0, err
    assert out.startswith('flowchart LR\n    agent_triage("Triage")\n')
    assert '    tool_refund_order[["refund_order (needs approval)"]]\n' in out
    assert '    agent_billing -->|"handoff"| agent_technical\n' in out
    assert '    agent_technical -->|"handoff"| agent_billing\n' in out


def test_a_bad_target_is_one_red_line(network_file: Path) -> None:
    code, out, err = graph(f"{network_file}:search")
    assert code == 1 and out == ""
    assert err.strip() == f"error: '{network_file}:search' is a FunctionTool, not an Agent"

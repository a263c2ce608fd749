"""The agent network as a picture: Mermaid or Graphviz DOT text, for ``ascent graph``.

:func:`agent_network` walks from one agent through its tools, its handoffs and
the agents it uses as tools, each agent once (handoffs may form cycles), and
:func:`to_mermaid` / :func:`to_dot` print the result. Text, not an image: it
pastes into Markdown (GitHub renders Mermaid) or pipes into ``dot -Tsvg``, with
no drawing library to install.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from .agent import Agent, AgentTool
from .tools import FunctionTool, HostedTool

__all__ = ["AgentNetwork", "Edge", "Node", "agent_network", "to_dot", "to_mermaid"]

NodeKind = Literal["agent", "tool", "hosted_tool", "mcp_server"]
EdgeKind = Literal["tool", "handoff", "agent_tool"]


@dataclass(frozen=True, slots=True)
class Node:
    """An agent, a tool or an MCP server. ``id`` is safe unquoted in Mermaid and DOT:
    ``[a-z][a-z0-9_]*``."""

    id: str
    label: str
    kind: NodeKind
    needs_approval: bool = False


@dataclass(frozen=True, slots=True)
class Edge:
    """``source`` uses tool ``target``, hands off to it, or calls it as a tool."""

    source: str
    target: str
    kind: EdgeKind
    label: str | None = None


@dataclass(frozen=True, slots=True)
class AgentNetwork:
    """Nodes and edges in the order they were reached; the first node is the starting agent."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


@dataclass
class _Walk:
    """Ids by object identity: two agents (or tools) may share a name, one object is one node."""

    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    ids: dict[int, str] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)

    def node(
        self,
        obj: object,
        label: str,
        kind: NodeKind,
        *,
        needs_approval: bool = False,
        name: str | None = None,
    ) -> str:
        key = id(obj)
        if key in self.ids:
            return self.ids[key]
        prefix = {"agent": "agent", "mcp_server": "mcp"}.get(kind, "tool")
        base = f"{prefix}_{_slug(name or label)}"
        node_id, n = base, 1
        while node_id in self.taken:
            n += 1
            node_id = f"{base}_{n}"
        self.taken.add(node_id)
        self.ids[key] = node_id
        self.nodes.append(Node(node_id, label, kind, needs_approval))
        return node_id


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "x"


def agent_network(agent: Agent[Any]) -> AgentNetwork:
    """Everything ``agent`` can reach: its tools, handoffs and agent tools, recursively."""
    walk = _Walk()
    queue: deque[Agent[Any]] = deque([agent])
    seen: set[int] = set()
    while queue:
        current = queue.popleft()
        if id(current) in seen:
            continue
        seen.add(id(current))
        source = walk.node(current, current.name, "agent")
        for tool in current.tools:
            if isinstance(tool, AgentTool):
                target = walk.node(tool.agent, tool.agent.name, "agent")
                walk.edges.append(Edge(source, target, "agent_tool", f"as tool: {tool.name}"))
                queue.append(tool.agent)
            elif isinstance(tool, FunctionTool):
                approval = tool.needs_approval is not False
                target = walk.node(tool, tool.name, "tool", needs_approval=approval)
                walk.edges.append(Edge(source, target, "tool"))
            elif isinstance(tool, HostedTool):
                target = walk.node(tool, tool.name, "hosted_tool")
                walk.edges.append(Edge(source, target, "tool"))
        # An MCP server's tools are listed only once a run connects it: show the server.
        for server in getattr(current, "mcp_servers", ()):
            target = walk.node(server, f"MCP {server.name}", "mcp_server", name=server.name)
            walk.edges.append(Edge(source, target, "tool"))
        for handoff in current.get_handoffs():
            target = walk.node(handoff.agent, handoff.agent.name, "agent")
            walk.edges.append(Edge(source, target, "handoff", "handoff"))
            queue.append(handoff.agent)
    return AgentNetwork(tuple(walk.nodes), tuple(walk.edges))


def _label(node: Node) -> str:
    return f"{node.label} (needs approval)" if node.needs_approval else node.label


def _network(target: Agent[Any] | AgentNetwork) -> AgentNetwork:
    return target if isinstance(target, AgentNetwork) else agent_network(target)


# ------------------------------------------------------------------ Mermaid

_MERMAID_SHAPES: dict[NodeKind, tuple[str, str]] = {
    "agent": ("(", ")"),  # rounded box
    "tool": ("[[", "]]"),  # subroutine
    "hosted_tool": ("{{", "}}"),  # hexagon
    "mcp_server": ("[(", ")]"),  # cylinder
}
_MERMAID_ARROWS: dict[EdgeKind, str] = {"tool": "-.->", "handoff": "-->", "agent_tool": "==>"}
# Mermaid reads "#name;" as an entity and, with HTML labels, "<b>" as markup.
_MERMAID_ESCAPES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;"}


def _mermaid_text(text: str) -> str:
    text = " ".join(text.split())
    return '"' + "".join(_MERMAID_ESCAPES.get(char, char) for char in text) + '"'


def to_mermaid(target: Agent[Any] | AgentNetwork) -> str:
    """A Mermaid ``flowchart LR``: agents as rounded boxes, tools as subroutines.

    Handoffs are solid arrows, tool use dotted, agents called as tools thick.
    """
    network = _network(target)
    lines = ["flowchart LR"]
    for node in network.nodes:
        opening, closing = _MERMAID_SHAPES[node.kind]
        lines.append(f"    {node.id}{opening}{_mermaid_text(_label(node))}{closing}")
    for edge in network.edges:
        arrow = _MERMAID_ARROWS[edge.kind]
        label = f"|{_mermaid_text(edge.label)}|" if edge.label else ""
        lines.append(f"    {edge.source} {arrow}{label} {edge.target}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- DOT

_DOT_NODES: dict[NodeKind, str] = {
    "agent": 'shape=box, style="rounded,filled", fillcolor="#dbeafe"',
    "tool": "shape=component",
    "hosted_tool": "shape=hexagon",
    "mcp_server": "shape=cylinder",
}
_DOT_EDGES: dict[EdgeKind, str] = {
    "tool": "style=dashed",
    "handoff": "",
    "agent_tool": "style=bold",
}


def _dot_text(text: str) -> str:
    text = " ".join(text.split())
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(target: Agent[Any] | AgentNetwork) -> str:
    """A Graphviz ``digraph``, left to right; render it with ``dot -Tsvg``."""
    network = _network(target)
    lines = ["digraph agents {", "    rankdir=LR;"]
    for node in network.nodes:
        lines.append(f"    {node.id} [label={_dot_text(_label(node))}, {_DOT_NODES[node.kind]}];")
    for edge in network.edges:
        attributes = [f"label={_dot_text(edge.label)}"] if edge.label else []
        if _DOT_EDGES[edge.kind]:
            attributes.append(_DOT_EDGES[edge.kind])
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        lines.append(f"    {edge.source} -> {edge.target}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"

"""The package's import structure: layers that only look down, no cycles, no private seams.

Every import inside ``src/ascent`` is checked, wherever it stands: at the top
of a module, inside a function, or under ``TYPE_CHECKING``. The layer order is
the one ``DESIGN.md`` draws, bottom first; units in one layer may import each
other, but no import cycle may close, even through a function-level import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ascent

SOURCE = Path(ascent.__file__).parent

# Bottom first. A unit is a top-level module or subpackage of ``ascent``.
LAYERS: list[set[str]] = [
    {"_version", "items", "errors", "storage"},
    {"models", "tracing", "context"},
    {"_private"},  # schema and naming helpers for tools, outputs and protocols
    {"tools", "handoffs", "guardrails", "lifecycle", "memory"},
    {"agent"},
    {"run"},
    {
        "durable",
        "temporal",
        "patterns",
        "mcp",
        "a2a",
        "memory_agents",
        "graph_view",
        "demo",
        "testing",
    },
    {"events"},  # beside durable in DESIGN.md; it imports durable's outbox and engine
    {"server"},
    {"cli"},
    {"__init__"},  # the package's face: it imports what it exports, and nothing imports it
]

# (importing module, imported module, why). Each is a type-only reference, under
# TYPE_CHECKING, never executed: an agent's parts name the Agent type in their
# signatures, while the Agent holds them.
ALLOWED_UPWARD: set[tuple[str, str]] = {
    ("ascent.guardrails", "ascent.agent"),  # a guardrail is called with the agent it guards
    ("ascent.handoffs", "ascent.agent"),  # a handoff's target is an agent
    ("ascent.lifecycle", "ascent.agent"),  # a hook receives the agent it reports on
    ("ascent.memory.tools", "ascent.agent"),  # memory-aware instructions take the agent
    ("ascent.agent", "ascent.run.config"),  # an agent used as a tool may carry its run's config
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted
    names: tuple[str, ...]
    type_only: bool
    line: int


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(path): path for path in SOURCE.rglob("*.py")}


def _imports() -> Iterator[Import]:
    for module, path in MODULES.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(), str(path))
        type_only_lines = {
            node.lineno
            for branch in ast.walk(tree)
            if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
            for child in branch.body
            for node in ast.walk(child)
            if hasattr(node, "lineno")
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = module.split(".") if is_package else module.split(".")[:-1]
                    base = base[: len(base) - node.level + 1]
                    target = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    target = node.module or ""
                if not target.startswith("ascent"):
                    continue
                type_only = node.lineno in type_only_lines
                names = []
                for alias in node.names:  # ``from . import demo`` imports a module
                    if f"{target}.{alias.name}" in MODULES:
                        yield Import(module, f"{target}.{alias.name}", (), type_only, node.lineno)
                    else:
                        names.append(alias.name)
                if names:
                    yield Import(module, target, tuple(names), type_only, node.lineno)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("ascent"):
                        yield Import(
                            module, alias.name, (), node.lineno in type_only_lines, node.lineno
                        )


IMPORTS = list(_imports())


def _unit(module: str) -> str:
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def _layer(module: str) -> int:
    unit = _unit(module)
    for number, layer in enumerate(LAYERS):
        if unit in layer:
            return number
    raise AssertionError(f"{module} is in no layer: add its unit {unit!r} to LAYERS")


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        _layer(module)


def test_no_module_imports_from_a_layer_above_it() -> None:
    upward = [
        f"{i.module}:{i.line} imports {i.target} (layer {_layer(i.target)} > {_layer(i.module)})"
        for i in IMPORTS
        if _unit(i.module) != _unit(i.target)
        and _layer(i.target) > _layer(i.module)
        and (i.module, i.target) not in ALLOWED_UPWARD
    ]
    assert upward == []


def test_the_allowed_upward_imports_are_type_only_and_still_needed() -> None:
    for module, target in ALLOWED_UPWARD:
        found = [i for i in IMPORTS if (i.module, i.target) == (module, target)]
        assert found, f"{module} no longer imports {target}: drop it from ALLOWED_UPWARD"
        assert all(i.type_only for i in found), f"{module} imports {target} at run time"


def test_no_import_cycle_between_modules() -> None:
    edges: dict[str, set[str]] = {module: set() for module in MODULES}
    for i in IMPORTS:
        if i.target in MODULES and i.target != i.module:
            if (i.module, i.target) in ALLOWED_UPWARD:
                continue
            # a package's face importing its own modules is how packages work
            if i.target.startswith(i.module + ".") and MODULES[i.module].name == "__init__.py":
                continue
            edges[i.module].add(i.target)
    cycles = _cycles(edges)
    assert cycles == []


def test_no_private_name_crosses_a_package() -> None:
    """A seam between packages is public: no ``_name`` and no ``_module`` of another
    package is imported (``ascent._private`` and ``ascent._version`` are for all of
    ascent)."""
    crossing = []
    for i in IMPORTS:
        if _unit(i.module) == _unit(i.target):
            continue
        private_module = any(part.startswith("_") for part in i.target.split(".")[1:]) and _unit(
            i.target
        ) not in ("_private", "_version")
        private_names = [n for n in i.names if n.startswith("_") and n != "__version__"]
        if private_module or private_names:
            crossing.append(f"{i.module}:{i.line} imports {i.target} {list(i.names)}")
    assert crossing == []


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found

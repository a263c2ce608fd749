"""What importing Ascent loads: only what is used, so start-up cannot grow unnoticed.

Each check runs in a fresh interpreter and looks at ``sys.modules``: ``import ascent``
loads none of its exported modules (a name loads its module on first use), and a
program's usual first line loads no provider client, database driver or terminal UI.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import ascent

# Libraries that a run loads only when it needs them (a provider, a store, the CLI).
LAZY = ("openai", "httpx", "sqlalchemy", "typer", "rich", "click", "docstring_parser", "litellm")


def loaded_after(statement: str) -> list[str]:
    """The modules a fresh interpreter holds after ``statement``, beyond its own start."""
    code = (
        "import sys, json\n"
        "before = set(sys.modules)\n"
        f"{statement}\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return list(json.loads(done.stdout))


def top_level(modules: list[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_import_ascent_loads_neither_pydantic_nor_its_exported_modules() -> None:
    loaded = loaded_after("import ascent")
    assert not top_level(loaded) & {"pydantic", *LAZY}
    assert [m for m in loaded if m.startswith("ascent")] == ["ascent", "ascent._version"]


def test_first_line_of_a_program_loads_no_client_driver_or_terminal_ui() -> None:
    loaded = loaded_after("from ascent import Agent, Runner, function_tool, RunConfig")
    assert not top_level(loaded) & set(LAZY)
    assert "ascent.agent" in loaded  # the names did load their modules
    assert "ascent.memory.store" not in loaded  # a run that keeps no memories loads none


def test_a_name_loads_its_module_on_first_use_and_is_then_a_plain_attribute() -> None:
    loaded = loaded_after(
        "import ascent, sys\n"
        "assert 'ascent.memory' not in sys.modules\n"
        "store = ascent.MemoryStore\n"
        "assert 'ascent.memory' in sys.modules\n"
        "assert vars(ascent)['MemoryStore'] is store"
    )
    assert "ascent.memory" in loaded


@pytest.mark.parametrize("name", ascent.__all__)
def test_every_exported_name_resolves_and_is_listed(name: str) -> None:
    assert getattr(ascent, name) is not None
    assert name in dir(ascent)


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        ascent.NoSuchThing  # noqa: B018
    assert not hasattr(ascent, "NoSuchThing")

"""Names and keywords of the OpenAI Agents SDK say what to write in Ascent."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import ascent
from ascent import models
from ascent._private.sdk_names import SDK_NAMES, markdown_tables
from ascent.errors import UserError


def test_from_import_of_an_sdk_name_raises_import_error_with_the_hint() -> None:
    with pytest.raises(ImportError, match=r"RunContextWrapper.*write RunContext"):
        from ascent import RunContextWrapper  # noqa: F401


def test_from_import_inside_a_function_carries_the_hint_too() -> None:
    def load() -> None:
        from ascent import GuardrailFunctionOutput  # noqa: F401

    with pytest.raises(ImportError, match="write GuardrailOutput"):
        load()


@pytest.mark.parametrize("name", sorted(SDK_NAMES))
def test_every_sdk_name_raises_import_error_naming_what_to_write(name: str) -> None:
    with pytest.raises(ImportError) as caught:
        exec(f"from ascent import {name}", {})
    assert SDK_NAMES[name].write in str(caught.value)
    assert "OpenAI Agents SDK" in str(caught.value)


def test_attribute_access_raises_attribute_error_with_the_hint() -> None:
    with pytest.raises(AttributeError, match="write RunContext"):
        _ = ascent.RunContextWrapper
    assert not hasattr(ascent, "ItemHelpers")
    assert getattr(ascent, "set_tracing_disabled", None) is None


def test_unknown_names_fail_as_usual() -> None:
    with pytest.raises(ImportError, match="cannot import name 'NoSuchThing'"):
        from ascent import NoSuchThing  # noqa: F401
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchThing'"):
        _ = ascent.NoSuchThing


def test_no_sdk_name_shadows_a_name_ascent_has() -> None:
    assert not set(SDK_NAMES) & set(dir(ascent))


@pytest.mark.parametrize(
    "target", sorted({target for entry in SDK_NAMES.values() for target in entry.targets})
)
def test_every_ascent_name_a_hint_points_to_exists(target: str) -> None:
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    assert hasattr(module, attribute), target


def test_every_entry_points_somewhere() -> None:
    assert all(entry.targets for entry in SDK_NAMES.values())


# ---------------------------------------------------------------- keywords


def test_agent_as_tool_refuses_the_sdk_keywords_with_ascent_names() -> None:
    agent = ascent.Agent(name="Helper")
    with pytest.raises(TypeError, match=r"'tool_name': write 'name'"):
        agent.as_tool(tool_name="helper", tool_description="Helps.")
    with pytest.raises(TypeError, match=r"'tool_description': write 'description'"):
        agent.as_tool(tool_description="Helps.")
    tool = agent.as_tool(name="helper", description="Helps.")
    assert (tool.name, tool.description) == ("helper", "Helps.")


def test_function_tool_refuses_the_sdk_keywords_with_ascent_names() -> None:
    with pytest.raises(TypeError, match=r"'name_override': write 'name'"):
        ascent.function_tool(name_override="add")
    with pytest.raises(TypeError, match=r"'description_override': write 'description'"):
        ascent.function_tool(description_override="Adds.")
    with pytest.raises(TypeError, match=r"'strict_mode': write 'strict'"):
        ascent.function_tool(strict_mode=False)

    @ascent.function_tool(name="add", description="Adds.")
    def add(a: int, b: int) -> int:
        return a + b

    assert (add.name, add.description) == ("add", "Adds.")
    assert ascent.function_tool.__name__ == "function_tool"


def test_the_sdk_keywords_ascent_shares_are_accepted() -> None:
    config = ascent.RunConfig(workflow_name="Support", tracing_disabled=True)
    assert config.workflow_name == "Support"
    agent = ascent.Agent(name="a", model="offline")
    result = ascent.Runner.run_sync(agent, "hi", max_turns=3, run_config=config)
    assert isinstance(result.final_output, str)


# ---------------------------------------------------------------- checked when an agent is built


def lookup(order_id: str) -> str:
    return order_id


def test_a_plain_function_in_tools_says_to_decorate_it() -> None:
    with pytest.raises(
        UserError, match=r"'lookup' is a plain function: decorate it with @function_tool"
    ):
        ascent.Agent(name="a", tools=[lookup])  # type: ignore[list-item]


def test_an_agent_in_tools_says_as_tool_or_handoffs() -> None:
    helper = ascent.Agent(name="helper")
    with pytest.raises(UserError, match=r"agent.as_tool\(\).*handoffs="):
        ascent.Agent(name="a", tools=[helper])  # type: ignore[list-item]


def test_anything_else_in_tools_is_refused_when_built() -> None:
    with pytest.raises(UserError, match=r"tools= takes tools.*not str 'lookup'"):
        ascent.Agent(name="a", tools=["lookup"])  # type: ignore[list-item]


def test_handoffs_take_agents_or_handoffs_only() -> None:
    with pytest.raises(UserError, match=r"handoffs= takes agents.*not str 'billing'"):
        ascent.Agent(name="a", handoffs=["billing"])  # type: ignore[list-item]
    with pytest.raises(UserError, match=r"not FunctionTool 'lookup': a tool goes in tools="):
        ascent.Agent(name="a", handoffs=[ascent.function_tool(lookup)])  # type: ignore[list-item]


def test_valid_tools_and_handoffs_still_build_and_clone() -> None:
    helper = ascent.Agent(name="helper")
    agent = ascent.Agent(
        name="a",
        tools=[ascent.function_tool(lookup), helper.as_tool(), ascent.WebSearchTool()],
        handoffs=[helper, ascent.handoff(helper)],
    )
    assert len(agent.clone(name="b").tools) == 3


def test_the_sdk_litellm_model_string_means_litellm_provider_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[str] = []

    def factory(name: str) -> ascent.Model:
        seen.append(name)
        return models.resolve_model("offline")

    monkeypatch.setitem(models._factories, "litellm", factory)
    monkeypatch.setattr(models, "_cache", {})
    agent = ascent.Agent(name="a", model="litellm/anthropic/claude-3-5-sonnet")
    result = ascent.Runner.run_sync(agent, "hi", run_config=ascent.RunConfig(tracing_disabled=True))
    assert isinstance(result.final_output, str)
    models.resolve_model("litellm:ollama/llama3:8b")
    models.resolve_model("litellm/ollama/llama3:8b")
    assert seen == ["anthropic/claude-3-5-sonnet", "ollama/llama3:8b", "ollama/llama3:8b"]


def test_the_migration_page_lists_the_table() -> None:
    page = (Path(__file__).resolve().parents[1] / "docs" / "migrating.md").read_text()
    listed = page.split("<!-- sdk-names:start -->\n", 1)[1].split("<!-- sdk-names:end -->", 1)[0]
    assert listed == markdown_tables(), "regenerate the table from sdk_names.markdown_tables()"

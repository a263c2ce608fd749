"""Items: the Responses API shapes, local fields kept out of the wire, JSON round trips."""

from __future__ import annotations

from ascent.items import (
    FunctionCall,
    FunctionCallOutput,
    Message,
    ProviderItem,
    Reasoning,
    RunUsage,
    Usage,
    input_to_items,
    items_to_json,
    text_of,
)


def test_string_input_is_one_user_message() -> None:
    [item] = input_to_items("hello")
    assert isinstance(item, Message) and item.role == "user" and item.text == "hello"


def test_dicts_in_responses_shapes_become_items() -> None:
    items = input_to_items(
        [
            {"role": "user", "content": "no type field: the easy input message"},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "hi"}],
            },
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "ok"},
            {"type": "reasoning", "id": "r", "summary": [{"type": "summary_text", "text": "hm"}]},
            {"type": "web_search_call", "id": "ws", "status": "completed", "action": {"q": "x"}},
        ]
    )
    assert [type(i) for i in items] == [
        Message,
        Message,
        FunctionCall,
        FunctionCallOutput,
        Reasoning,
        ProviderItem,
    ]
    assert items[1].text == "hi"  # type: ignore[union-attr]
    assert items[4].text == "hm"  # type: ignore[union-attr]
    # an unknown provider item keeps every field, so it can go back to the provider
    assert items[5].wire() == {
        "type": "web_search_call",
        "id": "ws",
        "status": "completed",
        "action": {"q": "x"},
    }


def test_wire_drops_local_fields_and_json_keeps_them() -> None:
    output = FunctionCallOutput(
        call_id="c", output="{}", agent="triage", handoff_to="billing", tool_name="t", is_error=True
    )
    assert output.wire() == {"type": "function_call_output", "call_id": "c", "output": "{}"}
    stored = items_to_json([output])
    assert stored[0]["handoff_to"] == "billing" and stored[0]["agent"] == "triage"
    assert input_to_items(stored) == [output]


def test_text_of_finds_the_last_assistant_message() -> None:
    items = [*input_to_items("q"), Message.assistant("first"), Message.assistant("second")]
    assert text_of(items) == "second"
    assert text_of(input_to_items("only user")) == ""


def test_run_usage_breaks_down_per_agent_and_model() -> None:
    usage = RunUsage()
    usage.record(Usage(requests=1, input_tokens=10, output_tokens=2), agent="a", model="m1")
    usage.record(Usage(requests=1, input_tokens=5, output_tokens=1), agent="b", model="m1")
    other = RunUsage()
    other.record(Usage(requests=1, input_tokens=1, output_tokens=1), agent="c", model="m2")
    usage.merge(other)
    assert (usage.requests, usage.total_tokens) == (3, 20)
    assert usage.by_model["m1"].input_tokens == 15 and usage.by_agent["c"].requests == 1
    assert RunUsage.model_validate_json(usage.model_dump_json()) == usage

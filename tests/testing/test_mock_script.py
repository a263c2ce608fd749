"""The mock server's script files: every kind of entry, and the errors a wrong one gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from ascent.errors import UserError
from ascent.testing.mock_openai import (
    BrokenStream,
    Delay,
    HTTPError,
    Malformed,
    MockOpenAIServer,
    Reply,
    ToolCall,
)
from ascent.testing.mock_script import load_script, parse_script

YAML_SCRIPT = """\
- Hello!
- tool_calls:
    - name: get_weather
      arguments: {city: Paris}
      call_id: call_1
  text: Looking it up.
- text: It is sunny.
  reasoning: The tool said so.
  input_tokens: 3
  output_tokens: 4
- error: {status: 429, message: slow down, code: rate_limited, retry_after: 1.5}
- delay: 0.5
  then: {error: {status: 500}}
- delay: 2
- malformed: "{not json"
- broken_stream: {text: cut short}
  after: 1
"""


def test_every_kind_of_entry_becomes_the_mock_step_it_names(tmp_path: Path) -> None:
    path = tmp_path / "script.yaml"
    path.write_text(YAML_SCRIPT)
    assert load_script(path) == [
        Reply(text="Hello!"),
        Reply(
            text="Looking it up.",
            tool_calls=[
                ToolCall(name="get_weather", arguments={"city": "Paris"}, call_id="call_1")
            ],
        ),
        Reply(text="It is sunny.", reasoning="The tool said so.", input_tokens=3, output_tokens=4),
        HTTPError(status=429, message="slow down", code="rate_limited", retry_after=1.5),
        Delay(seconds=0.5, then=HTTPError(status=500)),
        Delay(seconds=2),
        Malformed(body="{not json"),
        BrokenStream(reply=Reply(text="cut short"), after=1),
    ]


def test_a_loaded_script_is_served_in_order() -> None:
    steps = parse_script(["first", {"text": "second"}])
    with MockOpenAIServer() as server:
        server.add(*steps)
        assert server.pending == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("not a list", "the script: expected a list of steps, got str"),
        ([None], "the script: step 0: a step is a string (a text reply) or an object"),
        ([{"reasoning": None}], "step 0: a reply needs text, tool_calls or reasoning"),
        ([{"error": {"status": 404}, "text": "x"}], "step 0.text: Extra inputs are not permitted"),
        ([{"delay": -1}], "step 0.delay: Input should be greater than or equal to 0"),
        (["a", "b", {"broken_stream": {"text": "x"}, "after": "two"}], "step 2.after:"),
        ([{"text": 1}, {"text": 2}], "step 0.text: Input should be a valid string (and 1 more)"),
    ],
)
def test_a_wrong_entry_is_named_by_its_position(data: object, message: str) -> None:
    with pytest.raises(UserError) as raised:
        parse_script(data)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_unreadable_and_unparsable_files(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot read the script"):
        load_script(tmp_path / "absent.json")
    broken = tmp_path / "broken.yml"
    broken.write_text("- [unclosed\n")
    with pytest.raises(UserError, match=r"broken\.yml is not valid YAML"):
        load_script(broken)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("[1,")
    with pytest.raises(UserError, match=r"bad\.json is not valid JSON"):
        load_script(bad_json)

"""docs/events.md's catalogue: an example of each type, valid against its data model.
(Its Python blocks run with every other document's, in tests/test_readme.py.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ascent.events import CATALOGUE, CloudEvent

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_every_type_has_a_valid_example_and_a_row_in_the_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    examples = [
        CloudEvent.model_validate(json.loads(block))
        for block in re.findall(r"^```json\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    ]
    by_type = {event.type: event for event in examples}
    for entry in CATALOGUE:
        assert f"| `{entry.type}` | `{entry.topic}` |" in text, entry.type
        example = by_type.pop(entry.type)
        entry.data.model_validate(example.data)
    assert by_type == {}  # no example of a type the catalogue does not have

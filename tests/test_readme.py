"""Every Python example in README.md runs offline as written and prints what the README says.

A ``# prints: TEXT`` comment in a block states a line the block prints; the
test checks each. Functions named ``test_*`` that a block defines are called too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
_PRINTS = re.compile(r"#\s*prints:\s?(.*)$", re.MULTILINE)


def python_blocks() -> list[str]:
    return _BLOCK.findall(README.read_text(encoding="utf-8"))


def test_the_readme_has_examples_and_the_quickstart() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(python_blocks()) >= 3
    quickstart = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = re.search(r"```bash\n(.*?)```", quickstart, re.DOTALL)
    assert commands is not None
    assert commands.group(1).split("\n")[:-1] == ["uv run ascent demo", "uv run pytest"]


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_python_block_runs_offline(
    index: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ASCENT_MODEL"):
        monkeypatch.delenv(key, raising=False)
    source = python_blocks()[index]
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(source, f"README.md (python block {index + 1})", "exec"), namespace)
    for name, value in list(namespace.items()):
        if name.startswith("test_") and callable(value):
            value()
    printed = capsys.readouterr().out
    for expected in _PRINTS.findall(source):
        assert expected in printed.splitlines(), f"README says it prints {expected!r}"

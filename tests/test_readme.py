"""Every Python example in README.md and docs/*.md runs offline as written and prints
what the text says.

A ``# prints: TEXT`` comment in a block states a line the block prints; the
test checks each. Functions named ``test_*`` that a block defines are called too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("**/*.md"))]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
_PRINTS = re.compile(r"#\s*prints:\s?(.*)$", re.MULTILINE)


def python_blocks(document: Path = README) -> list[str]:
    return _BLOCK.findall(document.read_text(encoding="utf-8"))


_ALL_BLOCKS = [
    pytest.param(document, index, id=f"{document.relative_to(ROOT)}-{index + 1}")
    for document in DOCUMENTS
    for index in range(len(python_blocks(document)))
]


def test_the_readme_has_examples_and_the_quickstart() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(python_blocks()) >= 3
    quickstart = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = re.search(r"```bash\n(.*?)```", quickstart, re.DOTALL)
    assert commands is not None
    assert commands.group(1).split("\n")[:-1] == ["uv run ascent demo", "uv run pytest"]


@pytest.mark.parametrize(("document", "index"), _ALL_BLOCKS)
def test_python_block_runs_offline(
    document: Path,
    index: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ASCENT_MODEL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)  # whatever a block writes (.ascent/) stays out of the checkout
    source = python_blocks(document)[index]
    namespace: dict[str, Any] = {"__name__": "__main__"}
    label = f"{document.relative_to(ROOT)} (python block {index + 1})"
    exec(compile(source, label, "exec"), namespace)
    for name, value in list(namespace.items()):
        if name.startswith("test_") and callable(value):
            value()
    printed = capsys.readouterr().out
    for expected in _PRINTS.findall(source):
        assert expected in printed.splitlines(), f"{label} says it prints {expected!r}"

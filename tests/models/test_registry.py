"""Model names resolve to providers; the default needs no key."""

from __future__ import annotations

import sys

import pytest

from ascent import UserError
from ascent.models import default_model_name, register_provider, resolve_model
from ascent.testing import ScriptedModel


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("ASCENT_MODEL", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_default_is_offline_without_keys(clean_env: pytest.MonkeyPatch) -> None:
    assert default_model_name() == "offline"
    assert resolve_model(None).name == "offline"


def test_environment_selects_a_real_model(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("OPENAI_API_KEY", "sk-test")
    assert default_model_name() == "openai:gpt-4.1-mini"
    clean_env.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    assert default_model_name().startswith("openai-chat:")
    clean_env.setenv("ASCENT_MODEL", "offline")
    assert default_model_name() == "offline"


def test_unknown_provider_is_a_clear_error(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(UserError, match=r"unknown model provider 'nope'.*offline"):
        resolve_model("nope:thing")


def test_registered_provider_and_cache(clean_env: pytest.MonkeyPatch) -> None:
    made: list[str] = []

    def factory(name: str) -> ScriptedModel:
        made.append(name)
        return ScriptedModel(name=name)

    register_provider("mine", factory)
    first = resolve_model("mine:alpha")
    assert first.name == "alpha" and resolve_model("mine:alpha") is first
    assert made == ["alpha"]
    model = ScriptedModel()
    assert resolve_model(model) is model


def test_import_ascent_does_not_import_provider_sdks() -> None:
    import subprocess

    heavy = "('openai', 'typer', 'rich', 'httpx2')"
    code = f"import ascent, sys; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

"""API keys, safe binding and what ``MODULE:APP`` may name."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from ascent import Agent
from ascent.errors import UserError
from ascent.server import ServiceConfig, create_app, parse_api_keys, resolve_app
from ascent.server.serve import check_binding, is_loopback
from ascent.tracing.redaction import REDACTED, redact_value


def test_api_keys_parse_into_tenants() -> None:
    assert parse_api_keys("k1:acme, k2:globex,,") == {"k1": "acme", "k2": "globex"}
    assert parse_api_keys("a:b:c:tenant-1") == {"a:b:c": "tenant-1"}  # keys may hold colons
    assert parse_api_keys("") == {}


def test_api_keys_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASCENT_API_KEYS", "secret:acme")
    assert parse_api_keys() == {"secret": "acme"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lonely-key", "without a tenant"),
        ("key:", "not a valid name"),
        (":acme", "empty"),
        ("key:bad tenant", "not a valid name"),
        ("key:a/b", "not a valid name"),
        ("key:acme,key:globex", "two tenants"),
    ],
)
def test_bad_api_keys_are_refused(text: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_api_keys(text)


def test_service_config_checks_its_numbers() -> None:
    with pytest.raises(UserError, match="max_input_bytes"):
        ServiceConfig(max_input_bytes=0)
    with pytest.raises(UserError, match="positive"):
        ServiceConfig(wait_timeout=0)
    with pytest.raises(UserError, match="body_timeout"):
        ServiceConfig(body_timeout=0)
    assert not ServiceConfig().auth_enabled
    assert ServiceConfig(api_keys={"k": "acme"}).auth_enabled


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.1.2.3", False),
        ("example.com", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def _agent() -> Agent[None]:
    return Agent(name="Echo", instructions="Repeat the request.", model="offline")


def test_without_keys_the_service_binds_to_loopback_only() -> None:
    app = create_app([_agent()], api_keys={})
    assert "loopback only" in (check_binding(app, host="127.0.0.1", insecure=False) or "")
    with pytest.raises(UserError, match=r"refusing to bind 0\.0\.0\.0: no API keys"):
        check_binding(app, host="0.0.0.0", insecure=False)
    assert "anyone" in (check_binding(app, host="0.0.0.0", insecure=True) or "")


def test_with_keys_any_address_is_allowed() -> None:
    app = create_app([_agent()], api_keys={"k": "acme"})
    assert check_binding(app, host="0.0.0.0", insecure=False) is None


def test_a_foreign_app_needs_insecure_beyond_loopback() -> None:
    foreign = FastAPI()
    with pytest.raises(UserError, match="auth is unknown"):
        check_binding(foreign, host="0.0.0.0", insecure=False)
    assert check_binding(foreign, host="127.0.0.1", insecure=False) is None


def test_module_app_may_name_an_app_a_factory_or_agents() -> None:
    agent = _agent()
    ready = FastAPI()
    assert resolve_app(ready) is ready
    assert resolve_app(lambda: ready) is ready
    for value in (agent, [agent], {"Echo": agent}, lambda: agent, lambda: [agent]):
        app = resolve_app(value)
        assert list(app.state.ascent.agents) == ["Echo"]


@pytest.mark.parametrize("value", [42, "text", [], [1, 2], lambda: 42])
def test_module_app_naming_something_else_is_refused(value: object) -> None:
    with pytest.raises(UserError):
        resolve_app(value)


def test_model_override_needs_agents() -> None:
    with pytest.raises(UserError, match="--model"):
        resolve_app(FastAPI(), model="offline")
    with pytest.raises(UserError, match="--a2a and --mcp apply to agents"):
        resolve_app(lambda: FastAPI(), a2a=True, mcp=True)


def test_agents_can_be_served_over_a2a_and_mcp_too() -> None:
    app = resolve_app(_agent(), a2a=True, mcp=True)
    paths = {getattr(route, "path", None) for route in app.routes}
    assert {"/mcp", "/a2a/echo"} <= paths
    plain = resolve_app(_agent())
    assert not {"/mcp", "/a2a/echo"} & {getattr(route, "path", None) for route in plain.routes}


def test_agents_need_distinct_names() -> None:
    with pytest.raises(UserError, match="two agents"):
        create_app([_agent(), _agent()], api_keys={})
    with pytest.raises(UserError, match="at least one"):
        create_app([], api_keys={})


def test_the_services_api_keys_are_secrets_the_redactor_masks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    create_app([_agent()], api_keys={"key-given-in-code-0123": "acme"})
    monkeypatch.setenv("ASCENT_API_KEYS", "key-from-the-env-4567:initech")
    create_app([_agent()])
    leaked = "keys key-given-in-code-0123 and key-from-the-env-4567 leaked"
    assert redact_value(leaked) == f"keys {REDACTED} and {REDACTED} leaked"


def test_a_served_run_has_time_limits_by_default_and_they_can_be_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def limits(**options: float) -> tuple[float | None, float | None]:
        app = create_app([_agent()], api_keys={}, **options)  # type: ignore[arg-type]
        config = app.state.ascent.engine.run_config
        return config.model_timeout, config.run_timeout

    monkeypatch.delenv("ASCENT_MODEL_TIMEOUT", raising=False)
    monkeypatch.delenv("ASCENT_RUN_TIMEOUT", raising=False)
    assert limits() == (120.0, 1800.0)  # a hung model cannot hold a run for ever
    assert limits(model_timeout=5, run_timeout=60) == (5, 60)
    monkeypatch.setenv("ASCENT_MODEL_TIMEOUT", "7.5")
    monkeypatch.setenv("ASCENT_RUN_TIMEOUT", "0")  # no limit
    assert limits() == (7.5, None)
    monkeypatch.setenv("ASCENT_RUN_TIMEOUT", "soon")
    with pytest.raises(UserError, match="ASCENT_RUN_TIMEOUT must be a number of seconds"):
        limits()

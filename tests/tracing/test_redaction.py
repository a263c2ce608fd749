"""Secrets never reach a trace: keys in text, sensitive fields, configured names."""

from __future__ import annotations

import json
from random import Random

import pytest

from ascent.tracing import (
    SpanRecord,
    TraceProvider,
    TraceRecord,
    add_sensitive_fields,
    redaction,
    secret_shapes,
)
from ascent.tracing._encoding import encode, record
from ascent.tracing.redaction import (
    REDACTED,
    add_secret_values,
    redact,
    redact_json,
    redact_text,
    redact_value,
    secret_values,
    suspicious,
)
from ascent.tracing.secret_shapes import TOKEN_FORMATS


def span(**attributes: object) -> SpanRecord:
    return SpanRecord(
        trace_id="t", span_id="s", kind="tool", name="call", started_at=1.0, attributes=attributes
    )


def test_api_keys_in_text_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "plain-secret-value-123")
    record = redact(
        span(
            output="key sk-abcdefghijklmnopqrstuvwx and Bearer abcdefghijklmnopqrstuvwxyz0123",
            note="the env key plain-secret-value-123 leaked",
        )
    )
    assert "sk-abc" not in record.attributes["output"]
    assert "abcdefghijklmnopqrstuvwxyz0123" not in record.attributes["output"]
    assert record.attributes["note"] == f"the env key {REDACTED} leaked"


def test_sensitive_fields_are_masked_in_json_arguments_and_nested_data() -> None:
    arguments = json.dumps({"user": "ada", "password": "hunter2", "nested": {"api_key": "x"}})
    record = redact(span(arguments=arguments, settings={"Authorization": "Basic abc", "top_p": 1}))
    parsed = json.loads(record.attributes["arguments"])
    assert parsed == {"user": "ada", "password": REDACTED, "nested": {"api_key": REDACTED}}
    assert record.attributes["settings"] == {"Authorization": REDACTED, "top_p": 1}


def test_configured_fields_and_trace_metadata() -> None:
    add_sensitive_fields("ssn")
    trace = redact(
        TraceRecord(trace_id="t", workflow="w", started_at=1, metadata={"user_ssn": "1"})
    )
    assert trace.metadata == {"user_ssn": REDACTED}
    record = redact(span(arguments='{"ssn": "123-45-6789", "name": "Bo"}'))
    assert json.loads(record.attributes["arguments"]) == {"ssn": REDACTED, "name": "Bo"}


def test_json_text_after_whitespace_is_parsed_too() -> None:
    record = redact(span(arguments='  {"password": "hunter2"}', output='\n [{"token": "t0k3n"}]'))
    assert json.loads(record.attributes["arguments"]) == {"password": REDACTED}
    assert json.loads(record.attributes["output"]) == [{"token": REDACTED}]


SENSITIVE_NAMES = [
    "user_passwd", "pwd", "api-key", "x-api-key", "token", "refreshToken", "githubtoken",
    "privateKey", "credentials",
]  # fmt: skip


@pytest.mark.parametrize("name", SENSITIVE_NAMES)
def test_sensitive_names_are_matched_by_their_words(name: str) -> None:
    """Case, separators and camelCase do not matter, nor a plural ("credentials")."""
    data = json.dumps({name: "value", "n": 1}).encode()
    assert json.loads(redact_json(data, [])) == {name: REDACTED, "n": 1}


def test_look_alike_names_are_not_sensitive() -> None:
    """Token counts and settings stay: "token" only matches as a field name's last word."""
    names = [
        "input_tokens", "output_tokens", "cached_input_tokens", "max_tokens", "token_budget",
        "token_count", "token_type", "tokenizer", "secretary", "keyboard", "passwordless",
        "authorization_url",
    ]  # fmt: skip
    values = {name: 7 for name in names}
    assert json.loads(redact_json(json.dumps(values).encode(), [])) == values
    usage = {"usage": {"input_tokens": 3, "output_tokens": 4}, "settings": {"max_tokens": 9}}
    assert not suspicious(json.dumps(usage).encode(), [])  # a model span is not even walked


def test_a_sensitive_name_assigned_in_text_has_its_value_masked() -> None:
    """Exception messages and logs hold ``name=value`` and dict reprs, not JSON."""
    message = (
        "refused: password=hunter2, user=ada; {'api-key': 'k 1'} "
        "Authorization: Basic dXNlcg== token: abc123 tokens: 7 a token budget "
        "authorization=Bearer abcdefghijklmnop1234"
    )
    assert redact_text(message, []) == (
        f"refused: password={REDACTED}, user=ada; {{'api-key': {REDACTED}}} "
        f"Authorization: {REDACTED} token: {REDACTED} tokens: 7 a token budget "
        f"authorization={REDACTED}"
    )


def test_registered_secret_values_are_masked_wherever_they_appear() -> None:
    add_secret_values("registered-secret-9f8e", "short")
    assert redact_value({"note": "uses registered-secret-9f8e"}) == {"note": f"uses {REDACTED}"}
    assert "registered-secret-9f8e" in secret_values()
    assert "short" not in secret_values()  # too short to mask without mangling text


def test_redaction_does_not_change_the_original() -> None:
    original = span(arguments='{"password": "p"}')
    redact(original)
    assert original.attributes["arguments"] == '{"password": "p"}'


def test_json_text_inside_items_is_redacted_too() -> None:
    items = [
        {"type": "function_call", "name": "login", "arguments": '{"password": "p", "user": "u"}'}
    ]
    record = redact(span(input=items))
    assert json.loads(record.attributes["input"][0]["arguments"]) == {
        "password": REDACTED,
        "user": "u",
    }


def test_clean_records_pass_through_and_suspicious_ones_are_walked() -> None:
    clean = span(output="all fine", usage={"input_tokens": 3})
    assert redact(clean).attributes == clean.attributes
    tricky = span(note="the Password is in here", nested={"items": ["sk-" + "x" * 30]})
    record = redact(tricky)
    assert record.attributes["nested"] == {"items": [REDACTED]}


def test_a_batch_is_encoded_once_and_only_its_suspicious_items_are_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The batch processor's path: one scan over the batch, then item by item."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "env-secret-value-42")
    provider = TraceProvider()
    provider.set_processors([])
    trace = provider.trace("flow", metadata={"user": "ada"})
    clean = provider.span(
        "model", "m", trace=trace, parent=None, attributes={"output": "fine", "n": None}
    )
    leaky = provider.span(
        "tool", "t", trace=trace, parent=None, attributes={"arguments": '{"password": "pw"}'}
    )
    failed = provider.span("tool", "f", trace=trace, parent=None)
    failed.finish("boom: env-secret-value-42")
    items = [trace, clean, leaky, failed]

    encoded = encode(items, secret_values())

    assert [item for item, _, _ in encoded] == items
    assert encoded[0][1] == '{"user":"ada"}'
    assert encoded[1][1] == '{"output":"fine","n":null}'  # clean JSON as pydantic-core wrote it
    assert json.loads(json.loads(encoded[2][1])["arguments"]) == {"password": REDACTED}
    assert encoded[3][1:] == ("{}", f"boom: {REDACTED}")
    assert isinstance(record(encoded[2]), SpanRecord)
    assert record(encoded[0]) == TraceRecord.model_construct(
        trace_id=trace.trace_id,
        workflow="flow",
        group_id=None,
        started_at=0.0,
        ended_at=None,
        metadata={"user": "ada"},
        error=None,
    )


def test_a_clean_batch_is_not_rewritten() -> None:
    provider = TraceProvider()
    provider.set_processors([])
    trace = provider.trace("flow")
    spans = [
        provider.span("custom", f"s{n}", trace=trace, parent=None, attributes={"n": n, "t": "é"})
        for n in range(3)
    ]
    encoded = encode(spans, [])
    assert [text for _, text, _ in encoded] == [f'{{"n":{n},"t":"é"}}' for n in range(3)]
    assert [error for _, _, error in encoded] == [None] * 3


def _one_search_per_marker(data: bytes) -> bool:
    """What the two-level scan must agree with: each marker looked for on its own."""
    compact = data.lower().translate(None, b"_. ")
    plain = [m.lower().encode() for shape in TOKEN_FORMATS for m in shape.markers]
    plain = [m.translate(None, b"_. ") for m in plain]
    singular: list[bytes] = []
    for words, last in redaction._field_rules:  # names added by other tests too
        for separator in ("", "-"):
            (singular if last else plain).append(separator.join(words).encode())
    return any(m in compact for m in plain) or any(
        compact.count(w) > compact.count(w + b"s") for w in singular
    )


def test_the_two_level_scan_finds_what_one_search_per_marker_finds() -> None:
    """Every marker, in every case and spelling, at the start, in the middle and at
    the end of clean data, and clean data itself: the scan says what the plain
    searches say."""
    clean = json.dumps(
        {"usage": {"input_tokens": 3}, "text": "a quick brown fox jumps over the lazy dog"}
    ).encode()
    assert not suspicious(clean, [])
    words = [m for shape in TOKEN_FORMATS for m in shape.markers]
    words += [name.words for name in secret_shapes.SENSITIVE_NAMES]
    words += [name.words.replace("_", "-") for name in secret_shapes.SENSITIVE_NAMES]
    words += [w + "s" for w in words] + ["tokens", "authorizations", "tokensss", "s-k-"]
    random = Random(7)
    for word in words:
        for spelled in (word, word.upper(), word.title(), word.replace("_", ".")):
            for data in (
                spelled.encode() + clean,
                clean[:20] + spelled.encode() + clean[20:],
                clean + spelled.encode(),
                bytes(random.choice(b"abcdefghijklmnopqrstuvwxyz_-") for _ in range(40))
                + spelled.encode(),
            ):
                assert suspicious(data, []) == _one_search_per_marker(data), data
    for _ in range(2000):  # random text from the markers' own letters
        data = bytes(random.choice(b"aeghijkloprstuvwxyz-_") for _ in range(30))
        assert suspicious(data, []) == _one_search_per_marker(data), data

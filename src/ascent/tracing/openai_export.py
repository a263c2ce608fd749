"""Opt-in export to OpenAI's traces dashboard, for those who like it.

Never on by default and never required: Ascent's own trace store and the
OpenTelemetry exporter cover every provider. Turn it on with::

    from ascent.tracing.openai_export import install_openai_tracing
    install_openai_tracing()           # OPENAI_API_KEY, or api_key=...

Records reach the exporter already redacted, from the batch processor's
thread, so the HTTP calls here are plain, synchronous ``urllib`` ones: no
dependency to drift, nothing on the run's path. Transient failures (429, 5xx,
network) are retried with backoff; after that a batch is logged and dropped,
never raised.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from .._version import __version__
from ..errors import UserError
from ._encoding import json_value
from .processors import BatchTraceProcessor, add_trace_processor
from .redaction import redact_value
from .spans import SpanRecord, TraceRecord

__all__ = ["DEFAULT_BASE_URL", "OpenAITracesExporter", "install_openai_tracing"]

logger = logging.getLogger("ascent.tracing")

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# The ingest API refuses oversized fields; the Agents SDK cuts them at this size.
MAX_FIELD_BYTES = 100_000
_TRUNCATED = "... [truncated]"
_TRACE_ID = re.compile(r"trace_[0-9a-f]{32}")
_SPAN_ID = re.compile(r"span_[0-9a-f]{24,}")
_SENT_TRACES_KEPT = 10_000


# ----------------------------------------------------------------- ids, time


def openai_trace_id(trace_id: str) -> str:
    """``trace_<32 hex>`` as the dashboard wants it; other ids are hashed into that shape."""
    if _TRACE_ID.fullmatch(trace_id):
        return trace_id
    return "trace_" + hashlib.sha256(trace_id.encode()).hexdigest()[:32]


def openai_span_id(span_id: str) -> str:
    """``span_<24 hex>``: Ascent's 32 random hex digits, cut to the first 24."""
    if _SPAN_ID.fullmatch(span_id):
        return span_id[:29]
    return "span_" + hashlib.sha256(span_id.encode()).hexdigest()[:24]


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat()


# ------------------------------------------------------------------ content


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def _fit(value: Any) -> Any:
    """A field within the ingest size limit: too large becomes truncated text."""
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    encoded = text.encode()
    if len(encoded) <= MAX_FIELD_BYTES:
        return value
    keep = MAX_FIELD_BYTES - len(_TRUNCATED.encode())
    return encoded[:keep].decode(errors="ignore") + _TRUNCATED


def _arguments(text: Any) -> str:
    # Arguments are JSON text inside items: mask sensitive keys inside them too.
    parsed = json_value(text)
    if isinstance(parsed, dict | list):
        return json.dumps(redact_value(parsed), ensure_ascii=False)
    return str(redact_value(text if text is not None else "{}"))


def _chat_content(content: Any) -> Any:
    if not isinstance(content, list):
        return "" if content is None else str(content)
    parts: list[dict[str, Any]] = []
    for part in content:
        if not isinstance(part, dict):
            parts.append({"type": "text", "text": str(part)})
        elif part.get("type") in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": part.get("text", "")})
        elif part.get("type") == "refusal":
            parts.append({"type": "text", "text": part.get("refusal", "")})
        elif part.get("type") == "input_image" and part.get("image_url"):
            parts.append({"type": "image_url", "image_url": {"url": part["image_url"]}})
        else:
            parts.append({"type": str(part.get("type", "unknown"))})
    if all(part["type"] == "text" for part in parts):
        return "\n".join(part["text"] for part in parts)
    return parts


def chat_messages(items: Any, instructions: str | None = None) -> list[dict[str, Any]]:
    """Ascent items as Chat Completions messages, the form the dashboard renders."""
    messages: list[dict[str, Any]] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
    items = json_value(items)
    if isinstance(items, str):
        return [*messages, {"role": "user", "content": items}]
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role", "user")
            role = "system" if role == "developer" else role
            messages.append({"role": role, "content": _chat_content(item.get("content"))})
        elif kind == "function_call":
            call = {
                "id": item.get("call_id"),
                "type": "function",
                "function": {
                    "name": item.get("name"),
                    "arguments": _arguments(item.get("arguments")),
                },
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            messages.append(
                {"role": "tool", "tool_call_id": item.get("call_id"), "content": item.get("output")}
            )
        # Reasoning and hosted-tool items have no Chat Completions form.
    return messages


# ------------------------------------------------------------------ records


def _model_name(name: str) -> str:
    return name.partition(":")[2] or name


def span_data(record: SpanRecord) -> dict[str, Any]:
    """The ``span_data`` object of one span, by kind."""
    attributes = record.attributes
    if record.kind == "agent":
        return {
            "type": "agent",
            "name": record.name,
            "handoffs": list(attributes.get("handoffs") or []),
            "tools": list(attributes.get("tools") or []),
            "output_type": attributes.get("output_type"),
        }
    if record.kind == "model":
        usage = attributes.get("usage") or {}
        settings = attributes.get("settings") or {}
        output = attributes.get("output")
        has_input = attributes.get("input") is not None or attributes.get("instructions")
        return {
            "type": "generation",
            "model": _model_name(str(attributes.get("model") or record.name)),
            "input": _fit(
                chat_messages(attributes.get("input"), attributes.get("instructions"))
                if has_input
                else None
            ),
            "output": _fit(chat_messages(output) if output is not None else None),
            "model_config": {k: v for k, v in settings.items() if v is not None}
            if isinstance(settings, dict)
            else {},
            "usage": {
                "input_tokens": int(usage.get("input_tokens") or 0),
                "output_tokens": int(usage.get("output_tokens") or 0),
            }
            if isinstance(usage, dict)
            else None,
        }
    if record.kind == "tool":
        return {
            "type": "function",
            "name": record.name,
            "input": _fit(_text(attributes.get("arguments"))),
            "output": _fit(_text(attributes.get("output"))),
        }
    if record.kind == "handoff":
        return {
            "type": "handoff",
            "from_agent": attributes.get("from_agent"),
            "to_agent": attributes.get("to_agent"),
        }
    if record.kind == "guardrail":
        return {
            "type": "guardrail",
            "name": record.name,
            "triggered": bool(attributes.get("triggered", False)),
        }
    data = {key: _fit(value) for key, value in _jsonable(attributes).items()}
    return {"type": "custom", "name": record.name, "data": data}


def span_object(record: SpanRecord) -> dict[str, Any]:
    """One span in the ingest format."""
    error: dict[str, Any] | None = None
    if record.error:
        error = {"message": record.error, "data": None}
    elif record.kind == "tool" and record.attributes.get("is_error"):
        error = {"message": "the tool reported an error", "data": None}
    return {
        "object": "trace.span",
        "id": openai_span_id(record.span_id),
        "trace_id": openai_trace_id(record.trace_id),
        "parent_id": openai_span_id(record.parent_id) if record.parent_id else None,
        "started_at": _iso(record.started_at),
        "ended_at": _iso(record.ended_at),
        "span_data": span_data(record),
        "error": error,
    }


def trace_object(record: TraceRecord) -> dict[str, Any]:
    """One trace in the ingest format (metadata values must be flat strings there)."""
    metadata = {
        str(key): value if isinstance(value, str) else json.dumps(value, default=str)
        for key, value in record.metadata.items()
    }
    return {
        "object": "trace",
        "id": openai_trace_id(record.trace_id),
        "workflow_name": record.workflow,
        "group_id": record.group_id,
        "metadata": metadata or None,
    }


# ----------------------------------------------------------------- exporter


class OpenAITracesExporter:
    """Posts batches of traces and spans to ``{base_url}/traces/ingest``.

    ``api_key`` defaults to ``OPENAI_API_KEY`` (read at each export, so it may
    be set later); ``base_url`` to OpenAI's API, not ``OPENAI_BASE_URL``, which
    usually points at a compatible model server with no traces API. Retries
    ``max_retries`` times after the first attempt, doubling ``backoff``.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        organization: str | None = None,
        project: str | None = None,
        max_retries: int = 3,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        timeout: float = 30.0,
    ) -> None:
        self._api_key = api_key
        self.endpoint = f"{(base_url or DEFAULT_BASE_URL).rstrip('/')}/traces/ingest"
        self.organization = organization
        self.project = project
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self._sent_traces: OrderedDict[str, None] = OrderedDict()
        self._warned_no_key = False

    def _headers(self, api_key: str) -> dict[str, str]:

        headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "OpenAI-Beta": "traces=v1",
            "User-Agent": f"ascent-agents/{__version__}",
        }
        organization = self.organization or os.environ.get("OPENAI_ORG_ID")
        project = self.project or os.environ.get("OPENAI_PROJECT_ID")
        if organization:
            headers["OpenAI-Organization"] = organization
        if project:
            headers["OpenAI-Project"] = project
        return headers

    def to_payload(self, records: Sequence[TraceRecord | SpanRecord]) -> list[dict[str, Any]]:
        """The ``data`` list for these records; each trace is sent once (upsert-free API)."""
        data: list[dict[str, Any]] = []
        for record in records:
            if isinstance(record, TraceRecord):
                if record.trace_id in self._sent_traces:
                    continue
                self._sent_traces[record.trace_id] = None
                if len(self._sent_traces) > _SENT_TRACES_KEPT:
                    self._sent_traces.popitem(last=False)
                data.append(trace_object(record))
            else:
                data.append(span_object(record))
        return data

    def export(self, records: Sequence[TraceRecord | SpanRecord]) -> None:
        try:
            api_key = self._api_key or os.environ.get("OPENAI_API_KEY")
            if not api_key:
                if not self._warned_no_key:
                    logger.warning("OpenAI trace export: no API key (OPENAI_API_KEY); skipped")
                    self._warned_no_key = True
                return
            data = self.to_payload(records)
            if data:
                body = json.dumps({"data": data}, ensure_ascii=False, default=str).encode()
                self._post(body, self._headers(api_key), len(data))
        except Exception:  # tracing must never break the program
            logger.exception("OpenAI trace export failed; %d records dropped", len(records))

    def _post(self, body: bytes, headers: dict[str, str], count: int) -> None:
        delay = self.backoff
        for attempt in range(1, self.max_retries + 2):
            retry_after: float | None = None
            request = urllib.request.Request(self.endpoint, data=body, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    response.read()
                return
            except urllib.error.HTTPError as error:
                detail = redact_value(error.read()[:500].decode(errors="replace"))
                if error.code != 429 and error.code < 500:
                    logger.error(
                        "OpenAI trace export rejected (HTTP %d): %s; %d records dropped",
                        error.code,
                        detail,
                        count,
                    )
                    return
                problem = f"HTTP {error.code}: {detail}"
                retry_after = _seconds(error.headers.get("Retry-After"))
            except OSError as error:  # connection refused, timeouts, DNS
                problem = str(error)
            if attempt > self.max_retries:
                logger.error(
                    "OpenAI trace export failed after %d attempts (%s); %d records dropped",
                    attempt,
                    problem,
                    count,
                )
                return
            logger.warning("OpenAI trace export: %s; retrying", problem)
            wait = retry_after if retry_after is not None else delay * random.uniform(1.0, 1.1)
            time.sleep(min(wait, self.max_backoff))
            delay *= 2


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def install_openai_tracing(
    api_key: str | None = None, base_url: str | None = None
) -> BatchTraceProcessor:
    """Send traces to OpenAI's traces dashboard too (beside the local trace store)."""
    if not (api_key or os.environ.get("OPENAI_API_KEY")):
        raise UserError("OpenAI tracing needs an API key: pass api_key= or set OPENAI_API_KEY")
    processor = BatchTraceProcessor(
        OpenAITracesExporter(api_key=api_key, base_url=base_url), max_batch=100
    )
    add_trace_processor(processor)
    return processor

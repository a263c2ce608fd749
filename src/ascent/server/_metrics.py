"""Prometheus metrics for one app, in a registry of its own (two apps in a process never collide).

Run starts are counted where the API starts them. Everything a run does after
that (model calls, tokens, its end) is observed from the traces of the runs this
process executes: a trace processor turns span and trace ends into samples. So
each replica reports the work it did, and Prometheus sums the replicas.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ..tracing import Span, Trace, TraceProvider

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class Metrics:
    """The service's counters, histograms and gauges, and the trace processor that feeds them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.runs_started = Counter(
            "ascent_runs_started", "Runs started through the API.", ["agent"], registry=registry
        )
        self.runs_completed = Counter(
            "ascent_runs_completed",
            "Runs this process executed that ended without error.",
            registry=registry,
        )
        self.runs_failed = Counter(
            "ascent_runs_failed",
            "Runs this process executed that ended in error.",
            registry=registry,
        )
        self.run_latency = Histogram(
            "ascent_run_duration_seconds",
            "Wall time of the runs this process executed.",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.model_latency = Histogram(
            "ascent_model_call_duration_seconds",
            "Wall time of model calls.",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "ascent_tokens", "Tokens used by model calls.", ["kind"], registry=registry
        )
        self.active_runs = Gauge(
            "ascent_active_runs", "Runs executing in this process now.", registry=registry
        )
        self._processor = _MetricsProcessor(self)
        self._provider: TraceProvider | None = None
        self._attached = 0

    def attach(self, provider: TraceProvider) -> None:
        """Observe the runs ``provider`` traces (the process's tracing); calls nest."""
        self._attached += 1
        if self._attached == 1:
            provider.add_processor(self._processor)
            self._provider = provider

    def detach(self) -> None:
        self._attached = max(0, self._attached - 1)
        provider = self._provider
        if self._attached == 0 and provider is not None:
            self._provider = None
            provider.set_processors([p for p in provider.processors if p is not self._processor])


class _MetricsProcessor:
    """A trace processor that records samples instead of exporting anything."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def on_trace_start(self, trace: Trace) -> None:
        self._metrics.active_runs.inc()

    def on_trace_end(self, trace: Trace) -> None:
        metrics = self._metrics
        metrics.active_runs.dec()
        (metrics.runs_failed if trace.error else metrics.runs_completed).inc()
        if trace.ended_at is not None and trace.started_at:
            metrics.run_latency.observe(max(0.0, trace.ended_at - trace.started_at))

    def on_span_start(self, span: Span) -> None:
        pass

    def on_span_end(self, span: Span) -> None:
        if span.kind != "model":
            return
        metrics = self._metrics
        if span.ended_at is not None:
            model = str(span.attributes.get("model") or span.name)
            metrics.model_latency.labels(model=model).observe(
                max(0.0, span.ended_at - span.started_at)
            )
        usage: Any = span.attributes.get("usage")
        if isinstance(usage, dict):
            for kind in ("input", "output"):
                count = usage.get(f"{kind}_tokens")
                if isinstance(count, int) and count > 0:
                    metrics.tokens.labels(kind=kind).inc(count)

    def force_flush(self) -> None:
        pass

    def shutdown(self) -> None:
        pass

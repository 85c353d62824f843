"""Structured logs and optional tracing, the same way in every process of a node.

Logs: `configure(component)` makes the root logger write one JSON object per line (time, level,
logger, component, pid, message, and the request id when there is one); `AURIGRAPH_LOG_FORMAT=text`
switches to plain text, `AURIGRAPH_LOG_LEVEL` sets the level (default INFO).

Request ids: the gateway takes a client's `X-Request-Id` (or makes one) and every actor call made
for that request carries a *context* — a small dict, `{"request_id": …, "traceparent": …}` — that
the callee enters with `span(name, ctx)`; inside it, log lines carry the request id.

Tracing: off unless `AURIGRAPH_OTEL_EXPORTER` is `console` or `otlp` (OTLP/HTTP to
`OTEL_EXPORTER_OTLP_ENDPOINT`). Off, `span` only sets the request id: no OpenTelemetry import, no
span objects. On, each `span` is an OpenTelemetry span, child of the caller's (W3C traceparent in
the context), so one request is one trace across the gateway and the actors.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Iterator

LOG_FORMAT_ENV, LOG_LEVEL_ENV, EXPORTER_ENV = "AURIGRAPH_LOG_FORMAT", "AURIGRAPH_LOG_LEVEL", "AURIGRAPH_OTEL_EXPORTER"
# What a node passes on to its actors' processes (see `actors.launcher.connect_ray`).
FORWARDED_ENV_PREFIXES = ("AURIGRAPH_LOG_", "AURIGRAPH_OTEL_", "OTEL_")
MAX_REQUEST_ID = 128

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("aurigraph_request_id", default=None)
_trace_parent: contextvars.ContextVar[str | None] = contextvars.ContextVar("aurigraph_traceparent", default=None)
_tracer = None  # an OpenTelemetry tracer once tracing is configured on
_provider = None
_component = "aurigraph"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname, "logger": record.name, "component": _component, "pid": record.process,
            "msg": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            entry["request_id"] = rid
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(component: str) -> None:
    """Set up this process's logs (and tracing, if asked for) as `component`. Idempotent."""
    global _component
    _component = component
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_aurigraph", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler._aurigraph = True
        root.addHandler(handler)
    text = os.environ.get(LOG_FORMAT_ENV, "json").lower() == "text"
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s") if text
                         else JsonFormatter())
    logging.getLogger("aurigraph").setLevel(os.environ.get(LOG_LEVEL_ENV, "INFO").upper())
    _configure_tracing(component)


def _configure_tracing(component: str) -> None:
    global _provider
    exporter_name = os.environ.get(EXPORTER_ENV, "").lower()
    if not exporter_name or _tracer is not None:
        return
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    if exporter_name == "console":
        exporter = ConsoleSpanExporter()
    elif exporter_name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        exporter = OTLPSpanExporter()  # endpoint and headers from the standard OTEL_EXPORTER_OTLP_* variables
    else:
        raise ValueError(f"{EXPORTER_ENV} must be console or otlp, not {exporter_name!r}")
    provider = TracerProvider(resource=Resource.create({"service.name": f"aurigraph-{component}"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    _provider = provider
    use_tracer(provider.get_tracer("aurigraph"))


def flush(timeout_s: float = 5.0) -> None:
    """Export the spans still buffered (tracing on); a no-op otherwise."""
    if _provider is not None:
        _provider.force_flush(int(timeout_s * 1000))


def use_tracer(tracer) -> None:
    """Trace with this OpenTelemetry tracer (None: tracing off). `configure` calls it; tests may."""
    global _tracer
    _tracer = tracer


def new_request_id(offered: str | None = None) -> str:
    """The client's id (printable ASCII, cut to MAX_REQUEST_ID characters), else a fresh one."""
    if offered and offered.isascii() and offered.isprintable():
        return offered[:MAX_REQUEST_ID]
    return uuid.uuid4().hex


def current() -> dict:
    """The context to hand to an actor call made now."""
    ctx = {}
    if (rid := request_id.get()) is not None:
        ctx["request_id"] = rid
    if (parent := _trace_parent.get()) is not None:
        ctx["traceparent"] = parent
    return ctx


@contextlib.contextmanager
def span(name: str, ctx: dict | None = None, **attributes) -> Iterator[dict]:
    """Work done for the request in `ctx` (None: the current one); yields the context for calls
    made inside it."""
    ctx = current() if ctx is None else ctx
    rid_token = request_id.set(ctx.get("request_id"))
    try:
        if _tracer is None:
            yield ctx
            return
        from opentelemetry import trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        propagator = TraceContextTextMapPropagator()
        parent = propagator.extract({"traceparent": ctx["traceparent"]}) if "traceparent" in ctx else None
        with _tracer.start_as_current_span(name, context=parent, attributes=attributes) as s:
            if ctx.get("request_id"):
                s.set_attribute("aurigraph.request_id", ctx["request_id"])
            carrier: dict = {}
            propagator.inject(carrier, context=trace.set_span_in_context(s))
            child = {**ctx, "traceparent": carrier["traceparent"]}
            parent_token = _trace_parent.set(child["traceparent"])
            try:
                yield child
            finally:
                _trace_parent.reset(parent_token)
    finally:
        request_id.reset(rid_token)

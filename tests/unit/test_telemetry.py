"""Structured logs with request ids, and tracing that costs nothing when off and, when on, makes
one trace of a request across process boundaries (the context dict is what actor calls carry)."""

from __future__ import annotations

import http.server
import json
import logging
import subprocess
import sys
import threading

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from aurigraph import telemetry


def test_log_lines_are_json_with_the_request_id_inside_a_span():
    formatter = telemetry.JsonFormatter()
    record = logging.LogRecord("aurigraph.test", logging.INFO, __file__, 1, "hello %s", ("there",), None)
    with telemetry.span("work", {"request_id": "req-42"}):
        inside = json.loads(formatter.format(record))
    outside = json.loads(formatter.format(record))
    assert inside["msg"] == "hello there" and inside["request_id"] == "req-42" and inside["level"] == "INFO"
    assert "request_id" not in outside


def test_request_ids_from_clients_are_kept_when_printable_and_cut_to_length():
    assert telemetry.new_request_id("abc-123 x.y:z") == "abc-123 x.y:z"
    assert telemetry.new_request_id("x" * 200) == "x" * 128
    for bad in (None, "", "é", "a\nb"):
        fresh = telemetry.new_request_id(bad)
        assert fresh != bad and len(fresh) == 32


def test_tracing_off_imports_no_opentelemetry_and_passes_the_request_id_on():
    code = ("import sys, json\n"
            "from aurigraph import telemetry\n"
            "telemetry.configure('test')\n"
            "with telemetry.span('outer', {'request_id': 'r1'}) as ctx:\n"
            "    inner = telemetry.current()\n"
            "print(json.dumps([ctx, inner, sorted(m for m in sys.modules if m.startswith('opentelemetry'))]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin"})
    ctx, inner, loaded = json.loads(out.stdout)
    assert ctx == inner == {"request_id": "r1"} and loaded == []


def test_tracing_on_makes_one_trace_across_a_process_boundary():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.use_tracer(provider.get_tracer("test"))
    try:
        with telemetry.span("gateway", {"request_id": "r2"}) as sent:
            carried = json.loads(json.dumps(sent))  # what an actor call carries: plain data
        with telemetry.span("ingress.submit", carried, txs=3) as child, telemetry.span("replica.submit", child):
            pass
    finally:
        telemetry.use_tracer(None)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    gateway, ingress, replica = spans["gateway"], spans["ingress.submit"], spans["replica.submit"]
    assert gateway.context.trace_id == ingress.context.trace_id == replica.context.trace_id
    assert ingress.parent.span_id == gateway.context.span_id and replica.parent.span_id == ingress.context.span_id
    assert ingress.attributes["aurigraph.request_id"] == "r2" and ingress.attributes["txs"] == 3


def test_otlp_exporter_sends_spans_to_a_collector():
    """`AURIGRAPH_OTEL_EXPORTER=otlp` in a fresh process: spans reach an OTLP/HTTP endpoint."""
    received = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append((self.path, self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    code = ("from aurigraph import telemetry\n"
            "telemetry.configure('test')\n"
            "with telemetry.span('exported-span', {'request_id': 'r3'}):\n"
            "    pass\n"
            "telemetry.flush()\n")
    env = {"PATH": "/usr/bin:/bin", "AURIGRAPH_OTEL_EXPORTER": "otlp",
           "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_port}"}
    try:
        subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
    finally:
        server.shutdown()
    request = ExportTraceServiceRequest.FromString(received[0][1])
    span = request.resource_spans[0].scope_spans[0].spans[0]
    assert received[0][0] == "/v1/traces" and span.name == "exported-span"
    resource = {a.key: a.value.string_value for a in request.resource_spans[0].resource.attributes}
    assert resource["service.name"] == "aurigraph-test"

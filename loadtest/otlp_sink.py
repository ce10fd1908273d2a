"""A local OTLP/HTTP trace receiver: what a Collector would be, for tests and benchmarks.

    python -m loadtest.otlp_sink --port 4318 [--decode]

Accepts `POST /v1/traces` (protobuf, optionally gzip). With `decode` it parses each request
with opentelemetry-proto and keeps the spans; without, it only counts requests and bytes
(the benchmarks: the service pays for exporting, the sink should cost little). With `hold`
(tests) it is a stalled collector: each request waits until that event is set.
"""

from __future__ import annotations

import argparse
import gzip
import signal
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    service: str
    attributes: dict[str, Any]


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


class OtlpSink:
    def __init__(
        self, *, port: int = 0, decode: bool = True, hold: threading.Event | None = None
    ) -> None:
        self.decode = decode
        self.holding = threading.Event()  # set once a request waits on `hold`
        self.spans: list[ReceivedSpan] = []
        self.resources: list[dict[str, Any]] = []
        self.requests = 0
        self.bytes = 0
        self._lock = threading.Lock()
        sink = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if hold is not None:
                    sink.holding.set()
                    hold.wait()
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                sink._receive(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _receive(self, body: bytes) -> None:
        spans: list[ReceivedSpan] = []
        resources: list[dict[str, Any]] = []
        if self.decode:
            from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
                ExportTraceServiceRequest,
            )

            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource_spans in request.resource_spans:
                resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
                resources.append(resource)
                for scope_spans in resource_spans.scope_spans:
                    spans += [
                        ReceivedSpan(
                            name=s.name,
                            trace_id=s.trace_id.hex(),
                            span_id=s.span_id.hex(),
                            parent_span_id=s.parent_span_id.hex(),
                            service=str(resource.get("service.name", "")),
                            attributes={a.key: _value(a.value) for a in s.attributes},
                        )
                        for s in scope_spans.spans
                    ]
        with self._lock:
            self.requests += 1
            self.bytes += len(body)
            self.spans += spans
            self.resources += resources

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> OtlpSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=4318)
    parser.add_argument("--decode", action="store_true")
    args = parser.parse_args()
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with OtlpSink(port=args.port, decode=args.decode) as sink:
        stop.wait()
    print(f"otlp sink: {sink.requests} requests, {sink.bytes} bytes, {len(sink.spans)} spans")


if __name__ == "__main__":
    main()

"""An OTLP/HTTP receiver for tests: each request to /v1/metrics or /v1/logs is decoded with the
official opentelemetry-proto modules and written as one JSON line (protobuf's JSON mapping)
to OUT, with its path and the headers that matter. Answers 200 with an empty response.

Usage: receiver.py PORT OUT
"""

import gzip
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

port, out = int(sys.argv[1]), sys.argv[2]
messages = {
    "/v1/metrics": (ExportMetricsServiceRequest, ExportMetricsServiceResponse),
    "/v1/logs": (ExportLogsServiceRequest, ExportLogsServiceResponse),
}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request, response = messages[self.path]
        decoded = request.FromString(body)
        line = {
            "path": self.path,
            "content_type": self.headers.get("Content-Type"),
            "content_encoding": self.headers.get("Content-Encoding"),
            "authorization": self.headers.get("Authorization"),
            "request": MessageToDict(decoded),
        }
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")
        answer = response().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()

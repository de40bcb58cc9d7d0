"""Export metrics and logs to a Sandkit agent with the official OpenTelemetry Python SDK
(OTLP/HTTP, protobuf), then check the agent's answers to OTLP/JSON, a missing token and a
broken body with the official `google.rpc.Status` message.

Usage: export.py BASE_URL TOKEN
Prints one line per check; exits non-zero when an export or a check fails.
"""

import json
import logging
import sys
import urllib.error
import urllib.request

from google.rpc import status_pb2
from opentelemetry._logs import set_logger_provider
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import Observation
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogExportResult
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource

base, token = sys.argv[1], sys.argv[2]
headers = {"Authorization": f"Bearer {token}"}
resource = Resource.create({"service.name": "shop", "deployment.environment": "test"})
failed = []


class Checked(OTLPMetricExporter):
    """The exporter, remembering whether every export succeeded."""

    def export(self, metrics_data, timeout_millis=10_000, **kwargs):
        result = super().export(metrics_data, timeout_millis, **kwargs)
        if result != MetricExportResult.SUCCESS:
            failed.append(f"metrics export: {result}")
        return result


class CheckedLogs(OTLPLogExporter):
    def export(self, batch):
        result = super().export(batch)
        if result != LogExportResult.SUCCESS:
            failed.append(f"logs export: {result}")
        return result


# Metrics: a counter, a histogram and an observable gauge, uncompressed.
reader = PeriodicExportingMetricReader(
    Checked(endpoint=f"{base}/v1/metrics", headers=headers),
    export_interval_millis=3_600_000,
)
meters = MeterProvider(resource=resource, metric_readers=[reader])
meter = meters.get_meter("shop", "1.2.3")
orders = meter.create_counter("shop.orders", unit="1", description="orders placed")
orders.add(3, {"region": "eu"})
orders.add(2, {"region": "eu"})
orders.add(7, {"region": "us"})
latency = meter.create_histogram("shop.latency", unit="s")
for v in (0.02, 0.3, 4.0):
    latency.record(v)
meter.create_observable_gauge(
    "queue.depth", callbacks=[lambda _options: [Observation(17, {"queue": "mail"})]]
)
meters.force_flush()
meters.shutdown()

# Logs: through Python's logging, gzip-compressed.
logs = LoggerProvider(resource=resource)
logs.add_log_record_processor(
    BatchLogRecordProcessor(
        CheckedLogs(
            endpoint=f"{base}/v1/logs", headers=headers, compression=Compression.Gzip
        )
    )
)
set_logger_provider(logs)
log = logging.getLogger("shop.checkout")
log.setLevel(logging.INFO)
log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=logs))
log.warning("payment slow", extra={"order_id": 42, "customer": "ann"})
log.error("card declined")
logs.force_flush()
logs.shutdown()


def post(path, body, content_type, auth=True):
    req = urllib.request.Request(
        f"{base}{path}",
        data=body,
        method="POST",
        headers={"Content-Type": content_type, **(headers if auth else {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


# OTLP/JSON, as the specification writes it (ids in hex, 64-bit integers as strings).
span = {
    "resourceSpans": [
        {
            "resource": {
                "attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]
            },
            "scopeSpans": [
                {
                    "spans": [
                        {
                            "traceId": "5b8efff798038103d269b633813fc60c",
                            "spanId": "eee19b7ec3c1b174",
                            "name": "GET /users",
                            "kind": 2,
                            "startTimeUnixNano": "1700000000000000000",
                            "endTimeUnixNano": "1700000000250000000",
                            "status": {"code": 1},
                        }
                    ]
                }
            ],
        }
    ]
}
status, ctype, body = post("/v1/traces", json.dumps(span).encode(), "application/json")
print("json traces", status, ctype, body.decode())
if status != 200 or body != b"{}":
    failed.append(f"json traces: {status} {body!r}")

# A data point with no value has no place in a point: counted in partial_success.
partial = {
    "resourceMetrics": [
        {
            "scopeMetrics": [
                {
                    "scope": {"name": "partial"},
                    "metrics": [
                        {
                            "name": "g",
                            "gauge": {
                                "dataPoints": [
                                    {"asInt": "1", "timeUnixNano": "1700000000000000000"},
                                    {"timeUnixNano": "1700000000000000000"},
                                ]
                            },
                        }
                    ],
                }
            ]
        }
    ]
}
status, ctype, body = post("/v1/metrics", json.dumps(partial).encode(), "application/json")
print("partial", status, body.decode())
answer = json.loads(body) if status == 200 else {}
if answer.get("partialSuccess", {}).get("rejectedDataPoints") != "1":
    failed.append(f"partial success: {status} {body!r}")

status, ctype, body = post("/v1/logs", b"", "application/x-protobuf", auth=False)
print("no token", status)
if status != 401:
    failed.append(f"no token: {status}")

status, ctype, body = post("/v1/metrics", b"\x0a\xff\xff\xff", "application/x-protobuf")
st = status_pb2.Status.FromString(body)
print("broken body", status, ctype, st.code, st.message)
if status != 400 or ctype != "application/x-protobuf" or st.code != 3 or "protobuf" not in st.message:
    failed.append(f"broken body: {status} {ctype} {st}")

if failed:
    print("FAILED:", failed)
    sys.exit(1)
print("exports ok")

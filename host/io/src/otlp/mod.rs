//! OTLP (OpenTelemetry protocol) over HTTP: points as `ExportMetricsServiceRequest` and
//! `ExportLogsServiceRequest` for the OTLP output ([`encode`]), and the three export requests
//! (protobuf or OTLP/JSON) read back into points for the server's `/v1/metrics`, `/v1/logs` and
//! `/v1/traces` ([`decode`]). The messages are the ones generated from the official
//! `opentelemetry-proto` definitions (the `opentelemetry-proto` crate, prost), not ours.
//!
//! The mapping, both ways: one agent's output read by another's input gives back a metric
//! point's numeric fields (integers and floats; unsigned integers and booleans come back as
//! integers), a logging point's message, status, ids and tags (its other text fields come back
//! as tags), and every point's time:
//!
//! | point | OTLP |
//! |---|---|
//! | global tags (`[global_tags]`) | the resource's attributes |
//! | measurement | the instrumentation scope's name |
//! | metric field `f` of measurement `m` | metric `m.f` (a gauge, or a cumulative monotonic sum when `counters` names it) |
//! | the other tags | the data point's (or log record's) attributes |
//! | logging field `message` | the log record's body |
//! | logging tag `status` | severity (`info` is INFO, `warning` WARN, `error` ERROR...) |
//! | logging fields `trace_id`, `span_id` (hex) | the log record's trace and span ids |
//! | the other logging fields | attributes of their type |

mod decode;
mod encode;

pub use decode::{decode, Decoded, OtlpError, Signal};
pub use encode::{encode, OtlpOptions};

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};

/// A logging point's status as an OTLP severity number (DataKit's statuses, syslog's names).
fn severity_of(status: &str) -> i32 {
    match status.to_ascii_lowercase().as_str() {
        "trace" => 1,
        "debug" => 5,
        "info" | "ok" => 9,
        "notice" => 10,
        "warning" | "warn" => 13,
        "error" | "err" => 17,
        "critical" | "crit" | "alert" | "emerg" | "fatal" | "panic" => 21,
        _ => 0,
    }
}

/// A severity number as a status (each range of four numbers is one level).
fn status_of(severity: i32) -> Option<&'static str> {
    Some(match severity {
        1..=4 => "trace",
        5..=8 => "debug",
        9..=12 => "info",
        13..=16 => "warning",
        17..=20 => "error",
        21..=24 => "critical",
        _ => return None,
    })
}

fn string_value(s: String) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(s)),
    })
}

fn key_value(key: &str, value: Option<AnyValue>) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value,
        ..Default::default()
    }
}

/// Lower-case hex of an id.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The bytes of an id written in hex, when it is `len` bytes.
fn unhex(s: &str, len: usize) -> Option<Vec<u8>> {
    if s.len() != len * 2 {
        return None;
    }
    (0..len)
        .map(|i| u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests;

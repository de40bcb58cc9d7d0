//! The `emit` import: guest points converted and checked, under the per-call caps.

use super::{HostState, LimitExceeded, MAX_CALL_MEMORY};
use crate::bindings::collector::sandkit::plugin::emit;
use crate::bindings::{WitCategory, WitFieldValue, WitPoint};
use sandkit_io::{Category, FieldValue, Point};
use wasmtime::Result;

use sandkit_io::now_ns;

pub fn category(c: WitCategory) -> Category {
    match c {
        WitCategory::Metric => Category::Metric,
        WitCategory::Logging => Category::Logging,
        WitCategory::Object => Category::Object,
        WitCategory::CustomObject => Category::CustomObject,
        WitCategory::Keyevent => Category::Keyevent,
        WitCategory::Network => Category::Network,
        WitCategory::Tracing => Category::Tracing,
        WitCategory::Rum => Category::Rum,
        WitCategory::Security => Category::Security,
        WitCategory::Profiling => Category::Profiling,
    }
}

/// Convert a guest point; `now` stands in for a missing timestamp.
pub fn convert_point(p: WitPoint, now: i64) -> std::result::Result<Point, sandkit_io::PointError> {
    Point::new(
        p.measurement,
        p.tags.into_iter().map(|t| (t.key, t.value)).collect(),
        p.fields
            .into_iter()
            .map(|f| {
                let v = match f.value {
                    WitFieldValue::Int(x) => FieldValue::Int(x),
                    WitFieldValue::Uint(x) => FieldValue::Uint(x),
                    WitFieldValue::Float(x) => FieldValue::Float(x),
                    WitFieldValue::Boolean(x) => FieldValue::Bool(x),
                    WitFieldValue::Text(x) => FieldValue::Text(x),
                };
                (f.key, v)
            })
            .collect(),
        p.timestamp.unwrap_or(now),
        category(p.category),
    )
}

impl emit::Host for HostState {
    fn emit(&mut self, points: Vec<WitPoint>) -> Result<()> {
        let now = now_ns();
        for p in points {
            match convert_point(p, now) {
                Ok(point) => {
                    self.emitted_bytes += point.approx_size() as u64;
                    self.emitted_heap += point.heap_size() as u64;
                    self.emitted.push(point);
                }
                Err(e) => {
                    self.refused += 1;
                    if self.first_refusal.is_none() {
                        self.first_refusal = Some(e.to_string());
                    }
                }
            }
            let n = self.emitted.len() as u64;
            if n > self.limits.max_points {
                return Err(wasmtime::Error::new(LimitExceeded(format!(
                    "emitted more than {} points in one call",
                    self.limits.max_points
                ))));
            }
            if self.emitted_heap > MAX_CALL_MEMORY {
                return Err(wasmtime::Error::new(LimitExceeded(format!(
                    "the points of one call would take more than {} MiB of the agent's memory",
                    MAX_CALL_MEMORY >> 20
                ))));
            }
            if self.emitted_bytes > self.limits.max_bytes {
                return Err(wasmtime::Error::new(LimitExceeded(format!(
                    "emitted more than {} bytes in one call",
                    self.limits.max_bytes
                ))));
            }
        }
        Ok(())
    }
}

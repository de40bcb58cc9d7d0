//! Points and the emitter that sends them to the host in chunks.

use crate::bindings::sandkit::plugin::{emit, types};

pub use types::Category;

/// A typed field value; `From` is implemented for the Rust types that map onto it.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Int(i64),
    Uint(u64),
    Float(f64),
    Bool(bool),
    Text(String),
}

macro_rules! from_int {
    ($($t:ty => $v:ident as $as:ty),*) => {
        $(impl From<$t> for FieldValue {
            fn from(x: $t) -> Self { FieldValue::$v(x as $as) }
        })*
    };
}
from_int!(i64 => Int as i64, i32 => Int as i64, u64 => Uint as u64, u32 => Uint as u64,
          usize => Uint as u64, f64 => Float as f64, f32 => Float as f64);

impl From<bool> for FieldValue {
    fn from(x: bool) -> Self {
        FieldValue::Bool(x)
    }
}
impl From<&str> for FieldValue {
    fn from(x: &str) -> Self {
        FieldValue::Text(x.to_string())
    }
}
impl From<String> for FieldValue {
    fn from(x: String) -> Self {
        FieldValue::Text(x)
    }
}

/// One measurement at one instant, built with chained calls:
/// `Point::new("cpu").tag("cpu", "cpu-total").field("usage_user", 1.5)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    measurement: String,
    tags: Vec<(String, String)>,
    fields: Vec<(String, FieldValue)>,
    timestamp: Option<i64>,
    category: Category,
}

impl Point {
    /// A metric point with no tags, no fields and the host's time.
    pub fn new(measurement: impl Into<String>) -> Self {
        Point {
            measurement: measurement.into(),
            tags: Vec::new(),
            fields: Vec::new(),
            timestamp: None,
            category: Category::Metric,
        }
    }

    /// Add a tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// Add a field.
    pub fn field(mut self, key: impl Into<String>, value: impl Into<FieldValue>) -> Self {
        self.fields.push((key.into(), value.into()));
        self
    }

    /// Set the time in nanoseconds since the Unix epoch (default: the host's clock at emit).
    pub fn timestamp_ns(mut self, ns: i64) -> Self {
        self.timestamp = Some(ns);
        self
    }

    /// Set the category (default: metric).
    pub fn category(mut self, category: Category) -> Self {
        self.category = category;
        self
    }

    /// Whether the point has any field (the host refuses points without one).
    pub fn has_fields(&self) -> bool {
        !self.fields.is_empty()
    }

    fn into_raw(self) -> types::Point {
        types::Point {
            measurement: self.measurement,
            tags: self
                .tags
                .into_iter()
                .map(|(key, value)| types::Tag { key, value })
                .collect(),
            fields: self
                .fields
                .into_iter()
                .map(|(key, v)| types::Field {
                    key,
                    value: match v {
                        FieldValue::Int(x) => types::FieldValue::Int(x),
                        FieldValue::Uint(x) => types::FieldValue::Uint(x),
                        FieldValue::Float(x) => types::FieldValue::Float(x),
                        FieldValue::Bool(x) => types::FieldValue::Boolean(x),
                        FieldValue::Text(x) => types::FieldValue::Text(x),
                    },
                })
                .collect(),
            timestamp: self.timestamp,
            category: self.category,
        }
    }
}

/// Collects points during a call and hands them to the host in chunks of [`Emitter::CHUNK`].
#[derive(Debug, Default)]
pub struct Emitter {
    buf: Vec<types::Point>,
}

impl Emitter {
    /// Points sent per host call: one boundary crossing per chunk, not per point.
    pub const CHUNK: usize = 256;

    pub(crate) fn new() -> Self {
        Emitter { buf: Vec::new() }
    }

    /// Queue one point.
    pub fn push(&mut self, point: Point) {
        self.buf.push(point.into_raw());
        if self.buf.len() >= Self::CHUNK {
            self.flush();
        }
    }

    /// Send what is queued now.
    pub fn flush(&mut self) {
        if !self.buf.is_empty() {
            emit::emit(&self.buf);
            self.buf.clear();
        }
    }
}

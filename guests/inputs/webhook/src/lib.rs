//! `webhook`: a passive input for JSON webhooks. `POST /v1/input/webhook` with one JSON object,
//! an array of objects, or newline-delimited objects (NDJSON); each object becomes one point.
//!
//! Nested objects are flattened into fields joined by `separator` (`{"a":{"b":1}}` is `a_b`);
//! integers are int fields, other numbers floats, booleans bools, strings text; arrays are kept
//! as their JSON text; nulls are left out. Keys listed in `tags` become tags (their value as
//! text). `time_key`, when present, is the point's time: RFC 3339 text, or a Unix time number
//! in seconds, milliseconds, microseconds or nanoseconds (told apart by its size); it is not a
//! field. Otherwise the agent's time is used.
//!
//! Config (`[config]` of conf.d/webhook.toml):
//! - `measurement` (default "webhook"); `measurement_key`: a key whose text value names the
//!   measurement instead (and is not a field);
//! - `category` (default "logging"): metric, logging, object, custom_object, keyevent...;
//! - `tags` (default none); `time_key` (default "time"); `separator` (default "_").
//!
//! A body that is not JSON, an element that is not an object, or an object with no field gets
//! an error naming where (the client gets 400 and nothing of the body is written).

use sandkit_sdk::time::rfc3339_ns;
use sandkit_sdk::{
    Category, Config, Emitter, FieldKind, Input, MeasurementInfo, PluginInfo, Point,
};
use serde_json::{Map, Value};

/// The settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub measurement: String,
    pub measurement_key: Option<String>,
    pub category: Category,
    pub tags: Vec<String>,
    pub time_key: String,
    pub separator: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            measurement: "webhook".into(),
            measurement_key: None,
            category: Category::Logging,
            tags: Vec::new(),
            time_key: "time".into(),
            separator: "_".into(),
        }
    }
}

fn category(name: &str) -> Option<Category> {
    Some(match name {
        "metric" => Category::Metric,
        "logging" => Category::Logging,
        "object" => Category::Object,
        "custom_object" => Category::CustomObject,
        "keyevent" => Category::Keyevent,
        "network" => Category::Network,
        "tracing" => Category::Tracing,
        "rum" => Category::Rum,
        "security" => Category::Security,
        "profiling" => Category::Profiling,
        _ => return None,
    })
}

impl Options {
    /// The options of a `[config]` table.
    ///
    /// # Errors
    /// An unknown key or a bad value, naming it.
    pub fn from_config(config: &Config) -> Result<Self, String> {
        config.check_keys(&[
            "measurement",
            "measurement_key",
            "category",
            "tags",
            "time_key",
            "separator",
        ])?;
        let d = Options::default();
        let cat = config.str_or("category", "logging")?;
        let measurement = config.str_or("measurement", &d.measurement)?;
        if measurement.is_empty() {
            return Err("config key \"measurement\": must not be empty".into());
        }
        Ok(Options {
            measurement,
            measurement_key: config.get_str("measurement_key").map(str::to_string),
            category: category(&cat).ok_or_else(|| {
                format!("config key \"category\": {cat:?} is not a category (metric, logging, object...)")
            })?,
            tags: config.get_str_list("tags")?.unwrap_or_default(),
            time_key: config.str_or("time_key", &d.time_key)?,
            separator: config.str_or("separator", &d.separator)?,
        })
    }
}

/// A Unix time of unknown unit, told apart by its size, in nanoseconds.
fn unix_ns(v: &serde_json::Number) -> Option<i64> {
    let x = v.as_f64()?;
    let abs = x.abs();
    let scale = if abs < 1e11 {
        1e9
    } else if abs < 1e14 {
        1e6
    } else if abs < 1e17 {
        1e3
    } else {
        1.0
    };
    let ns = x * scale;
    (ns.is_finite() && ns.abs() < 9.2e18).then_some(ns as i64)
}

/// The fields of `obj` flattened under `prefix`.
fn flatten(obj: &Map<String, Value>, prefix: &str, sep: &str, out: &mut Vec<(String, Value)>) {
    for (k, v) in obj {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}{sep}{k}")
        };
        match v {
            Value::Object(inner) => flatten(inner, &key, sep, out),
            Value::Null => {}
            v => out.push((key, v.clone())),
        }
    }
}

/// The point of one object (`which` names it in errors).
///
/// # Errors
/// When it has no field.
pub fn point(obj: &Map<String, Value>, opts: &Options, which: &str) -> Result<Point, String> {
    let mut flat = Vec::new();
    flatten(obj, "", &opts.separator, &mut flat);
    let mut measurement = opts.measurement.clone();
    let mut p_tags = Vec::new();
    let mut time = None;
    let mut fields = Vec::new();
    for (k, v) in flat {
        if opts.measurement_key.as_deref() == Some(k.as_str()) {
            if let Value::String(s) = &v {
                if !s.is_empty() {
                    measurement = s.clone();
                    continue;
                }
            }
        }
        if k == opts.time_key {
            let t = match &v {
                Value::String(s) => rfc3339_ns(s),
                Value::Number(n) => unix_ns(n),
                _ => None,
            };
            if t.is_some() {
                time = t;
                continue;
            }
        }
        if opts.tags.contains(&k) {
            let text = match &v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if !text.is_empty() {
                p_tags.push((k, text));
            }
            continue;
        }
        fields.push((k, v));
    }
    let mut p = Point::new(measurement).category(opts.category);
    for (k, v) in p_tags {
        p = p.tag(k, v);
    }
    for (k, v) in fields {
        p = match v {
            Value::Bool(b) => p.field(k, b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => p.field(k, i),
                None => p.field(k, n.as_f64().unwrap_or(0.0)),
            },
            Value::String(s) => p.field(k, s),
            other => p.field(k, other.to_string()),
        };
    }
    if let Some(t) = time {
        p = p.timestamp_ns(t);
    }
    if !p.has_fields() {
        return Err(format!("{which} has no field"));
    }
    Ok(p)
}

/// The points of a body.
///
/// # Errors
/// A body that is not JSON (naming the line and column), an element that is not an object, or
/// an object without fields.
pub fn points(content_type: &str, body: &[u8], opts: &Options) -> Result<Vec<Point>, String> {
    let ct = content_type.split(';').next().unwrap_or("").trim();
    if !matches!(
        ct,
        "" | "application/json" | "application/x-ndjson" | "application/jsonl" | "text/plain"
    ) {
        return Err(format!(
            "Content-Type {ct:?} is not JSON (application/json or application/x-ndjson)"
        ));
    }
    let text = std::str::from_utf8(body).map_err(|e| format!("the body is not UTF-8: {e}"))?;
    let mut out = Vec::new();
    let trimmed = text.trim_start();
    let values: Vec<(String, Value)> = if trimmed.starts_with('[') {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (format!("element {i}"), v))
                .collect(),
            Ok(_) => unreachable!("a JSON text starting with [ is an array"),
            Err(e) => return Err(format!("the body is not JSON: {e}")),
        }
    } else {
        // One object, or one per line.
        let mut vs = Vec::new();
        for (i, v) in serde_json::Deserializer::from_str(text)
            .into_iter::<Value>()
            .enumerate()
        {
            let v = v.map_err(|e| format!("the body is not JSON: {e}"))?;
            vs.push((format!("object {i}"), v));
        }
        vs
    };
    for (which, v) in values {
        let Value::Object(obj) = v else {
            return Err(format!("{which} is not a JSON object"));
        };
        out.push(point(&obj, opts, &which)?);
    }
    Ok(out)
}

/// The input.
pub struct Webhook {
    opts: Options,
}

impl Input for Webhook {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "webhook",
            "0.1.0",
            "JSON webhook bodies (object, array or NDJSON) into points, one per object",
        )
        .measurement(
            MeasurementInfo::new(
                "*",
                "one object of a body: measurement `measurement` (default webhook), or the \
                 object's `measurement_key` value; category `category` (default logging)",
            )
            .category(Category::Logging)
            .tag("*", "each key of `tags`, its value as text")
            .field(
                "*",
                FieldKind::Text,
                "",
                "a string under its flattened key (a_b), or an array as JSON text",
            )
            .field("*", FieldKind::Int, "", "an integer that fits 64 bits")
            .field("*", FieldKind::Float, "", "any other number")
            .field("*", FieldKind::Boolean, "", "true or false"),
        )
    }

    fn init(config: Config) -> Result<Self, String> {
        Ok(Webhook {
            opts: Options::from_config(&config)?,
        })
    }

    fn handle(&mut self, content_type: &str, body: &[u8], out: &mut Emitter) -> Result<(), String> {
        for p in points(content_type, body, &self.opts)? {
            out.push(p);
        }
        Ok(())
    }
}

sandkit_sdk::input!(Webhook);
sandkit_sdk::default_conf!("../conf.toml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_arrays_and_ndjson() {
        let opts = Options {
            tags: vec!["service".into()],
            ..Options::default()
        };
        let one = points(
            "application/json",
            br#"{"service":"pay","time":"2024-03-01T12:00:00Z","user":{"id":7,"vip":true},"amount":1.5,"ids":[1,2],"none":null}"#,
            &opts,
        )
        .unwrap();
        assert_eq!(one.len(), 1);
        let arr = points("", br#"[{"a":1},{"b":"x"}]"#, &opts).unwrap();
        assert_eq!(arr.len(), 2);
        let nd = points("application/x-ndjson", b"{\"a\":1}\n{\"a\":2}\n", &opts).unwrap();
        assert_eq!(nd.len(), 2);
    }

    #[test]
    fn errors_say_where() {
        let opts = Options::default();
        assert!(points("", b"{\"a\":", &opts)
            .unwrap_err()
            .contains("not JSON"));
        assert!(points("", b"[1]", &opts).unwrap_err().contains("element 0"));
        assert!(points("", b"{\"a\":1}\n{}", &opts)
            .unwrap_err()
            .contains("object 1 has no field"));
        assert!(points("text/xml", b"<a/>", &opts)
            .unwrap_err()
            .contains("text/xml"));
    }

    #[test]
    fn unix_times_by_size() {
        let n = |x: f64| unix_ns(&serde_json::Number::from_f64(x).unwrap());
        assert_eq!(n(1_700_000_000.0), Some(1_700_000_000_000_000_000));
        assert_eq!(n(1_700_000_000_000.0), Some(1_700_000_000_000_000_000));
        assert_eq!(n(1_700_000_000_000_000.0), Some(1_700_000_000_000_000_000));
    }
}

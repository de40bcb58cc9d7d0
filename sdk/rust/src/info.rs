//! Builders for what `describe` returns.

use crate::bindings::sandkit::plugin::types;
use crate::Category;

pub use types::FieldKind;

/// What the plugin is and emits.
#[derive(Debug, Clone)]
pub struct PluginInfo {
    raw: types::PluginInfo,
}

impl PluginInfo {
    /// Name, version and a one-line description; intervals default to 10 s in [1 s, 1 h].
    pub fn new(name: &str, version: &str, description: &str) -> Self {
        PluginInfo {
            raw: types::PluginInfo {
                name: name.into(),
                version: version.into(),
                description: description.into(),
                default_interval_ms: 10_000,
                min_interval_ms: 1_000,
                max_interval_ms: 3_600_000,
                measurements: Vec::new(),
            },
        }
    }

    /// Default, minimum and maximum interval in milliseconds.
    pub fn interval_ms(mut self, default: u64, min: u64, max: u64) -> Self {
        self.raw.default_interval_ms = default;
        self.raw.min_interval_ms = min;
        self.raw.max_interval_ms = max;
        self
    }

    /// Declare a measurement the plugin emits.
    pub fn measurement(mut self, m: MeasurementInfo) -> Self {
        self.raw.measurements.push(m.raw);
        self
    }

    pub(crate) fn into_raw(self) -> types::PluginInfo {
        self.raw
    }
}

/// One measurement: its tags and fields with a one-line description each.
#[derive(Debug, Clone)]
pub struct MeasurementInfo {
    raw: types::MeasurementInfo,
}

impl MeasurementInfo {
    /// A metric measurement.
    pub fn new(name: &str, description: &str) -> Self {
        MeasurementInfo {
            raw: types::MeasurementInfo {
                name: name.into(),
                category: Category::Metric,
                description: description.into(),
                tags: Vec::new(),
                fields: Vec::new(),
            },
        }
    }

    /// Set the category (default: metric).
    pub fn category(mut self, category: Category) -> Self {
        self.raw.category = category;
        self
    }

    /// Declare a tag.
    pub fn tag(mut self, name: &str, description: &str) -> Self {
        self.raw.tags.push(types::TagInfo {
            name: name.into(),
            description: description.into(),
        });
        self
    }

    /// Declare a field with its kind, unit ("percent", "bytes", "" ...) and description.
    pub fn field(mut self, name: &str, kind: FieldKind, unit: &str, description: &str) -> Self {
        self.raw.fields.push(types::FieldInfo {
            name: name.into(),
            kind,
            unit: unit.into(),
            description: description.into(),
        });
        self
    }
}

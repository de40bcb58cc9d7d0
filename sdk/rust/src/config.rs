//! The plugin's `[config]` table, handed to `init` as JSON.

use serde_json::Value;

/// A read-only view of the plugin's `[config]` table with typed getters.
#[derive(Debug, Clone, Default)]
pub struct Config {
    value: Value,
}

impl Config {
    pub(crate) fn parse(json: &str) -> Result<Self, String> {
        if json.trim().is_empty() {
            return Ok(Config::default());
        }
        let value: Value =
            serde_json::from_str(json).map_err(|e| format!("config is not valid JSON: {e}"))?;
        Ok(Config { value })
    }

    /// The whole table as JSON.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// A string value.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.value.get(key)?.as_str()
    }

    /// An unsigned integer value.
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.value.get(key)?.as_u64()
    }

    /// A signed integer value.
    pub fn get_i64(&self, key: &str) -> Option<i64> {
        self.value.get(key)?.as_i64()
    }

    /// A boolean value.
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.value.get(key)?.as_bool()
    }

    /// A list of strings; `None` when absent.
    ///
    /// # Errors
    /// When the value is not a list of strings.
    pub fn get_str_list(&self, key: &str) -> Result<Option<Vec<String>>, String> {
        match self.value.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("config key {key:?}: expected a list of strings"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(format!("config key {key:?}: expected a list of strings")),
        }
    }
}

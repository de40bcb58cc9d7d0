//! The plugin's `[config]` table, handed to `init` as JSON.

use serde_json::Value;

/// A read-only view of the plugin's `[config]` table with typed getters.
///
/// The `get_*` getters answer `None` both when a key is absent and when its value has another
/// type. To tell the two apart, as a plugin should so that a typo in conf.d is an error rather
/// than a silent default, use [`check_keys`](Config::check_keys) and the `*_or` getters
/// ([`bool_or`](Config::bool_or), [`u64_or`](Config::u64_or), [`str_or`](Config::str_or)) and
/// [`get_str_list`](Config::get_str_list): they take the default only for an absent key and
/// return an error naming the key for a value of the wrong type.
///
/// Unit tests build a config with [`Config::from_value`] or [`Config::from_json`]:
///
/// ```
/// use sandkit_sdk::Config;
/// use serde_json::json;
///
/// let config = Config::from_value(json!({"percpu": false, "devices": ["sda"]}));
/// assert_eq!(config.check_keys(&["percpu", "devices"]), Ok(()));
/// assert_eq!(config.bool_or("percpu", true), Ok(false));
/// assert_eq!(config.bool_or("totalcpu", true), Ok(true));
/// assert_eq!(config.get_str_list("devices"), Ok(Some(vec!["sda".to_string()])));
/// assert!(config.u64_or("devices", 1).is_err());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Config {
    value: Value,
}

impl Config {
    /// The config the host hands to `init`: a JSON object, or empty text for no `[config]`
    /// table (which gives the same config as [`Config::default`]).
    ///
    /// # Errors
    /// When `json` is neither empty nor valid JSON.
    pub fn from_json(json: &str) -> Result<Self, String> {
        if json.trim().is_empty() {
            return Ok(Config::default());
        }
        let value: Value =
            serde_json::from_str(json).map_err(|e| format!("config is not valid JSON: {e}"))?;
        Ok(Config { value })
    }

    /// A config holding `value`, normally a JSON object (`Value::Null` stands for no table).
    pub fn from_value(value: Value) -> Self {
        Config { value }
    }

    pub(crate) fn parse(json: &str) -> Result<Self, String> {
        Self::from_json(json)
    }

    /// The whole table as JSON.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// Check that every key of the table is one of `allowed`. No table at all passes.
    ///
    /// # Errors
    /// When the config is not a table, or for the first key (in sorted order) that is not in
    /// `allowed`; the message names that key and lists the allowed ones.
    pub fn check_keys(&self, allowed: &[&str]) -> Result<(), String> {
        let table = match &self.value {
            Value::Null => return Ok(()),
            Value::Object(table) => table,
            _ => return Err("config must be a table of keys".into()),
        };
        match table.keys().find(|k| !allowed.contains(&k.as_str())) {
            None => Ok(()),
            Some(k) if allowed.is_empty() => Err(format!(
                "unknown config key {k:?} (this plugin takes no config keys)"
            )),
            Some(k) => Err(format!(
                "unknown config key {k:?} (known: {})",
                allowed.join(", ")
            )),
        }
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

    /// A boolean value; `default` when the key is absent.
    ///
    /// # Errors
    /// When the value is not `true` or `false`: `config key "x": expected a boolean`.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, String> {
        self.typed(key, default, "a boolean", Value::as_bool)
    }

    /// A non-negative integer value; `default` when the key is absent.
    ///
    /// # Errors
    /// When the value is not an integer from 0 to `u64::MAX`:
    /// `config key "x": expected a non-negative integer`.
    pub fn u64_or(&self, key: &str, default: u64) -> Result<u64, String> {
        self.typed(key, default, "a non-negative integer", Value::as_u64)
    }

    /// A string value; `default` when the key is absent.
    ///
    /// # Errors
    /// When the value is not a string: `config key "x": expected a string`.
    pub fn str_or(&self, key: &str, default: &str) -> Result<String, String> {
        self.typed(key, default, "a string", Value::as_str)
            .map(str::to_string)
    }

    /// A list of strings; `None` when absent.
    ///
    /// # Errors
    /// When the value is not a list of strings: `config key "x": expected a list of strings`.
    pub fn get_str_list(&self, key: &str) -> Result<Option<Vec<String>>, String> {
        let Some(v) = self.value.get(key) else {
            return Ok(None);
        };
        let bad = || expected(key, "a list of strings");
        v.as_array()
            .ok_or_else(bad)?
            .iter()
            .map(|s| s.as_str().map(str::to_string).ok_or_else(bad))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// The value of `key` read by `get`, or `default` when the key is absent.
    fn typed<'a, T>(
        &'a self,
        key: &str,
        default: T,
        what: &str,
        get: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Result<T, String> {
        match self.value.get(key) {
            None => Ok(default),
            Some(v) => get(v).ok_or_else(|| expected(key, what)),
        }
    }
}

fn expected(key: &str, what: &str) -> String {
    format!("config key {key:?}: expected {what}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn from_json() {
        assert!(Config::from_json("").unwrap().value().is_null());
        assert!(Config::from_json("  \n").unwrap().value().is_null());
        let c = Config::from_json(r#"{"a": 1}"#).unwrap();
        assert_eq!(c.get_u64("a"), Some(1));
        let e = Config::from_json("{").unwrap_err();
        assert!(e.starts_with("config is not valid JSON: "), "{e}");
        assert_eq!(
            Config::parse(r#"{"a": 1}"#).unwrap().value(),
            &json!({"a": 1})
        );
    }

    #[test]
    fn check_keys() {
        let allowed = ["a", "b"];
        assert_eq!(Config::default().check_keys(&allowed), Ok(()));
        assert_eq!(Config::from_value(json!({})).check_keys(&[]), Ok(()));
        assert_eq!(
            Config::from_value(json!({"a": 1, "b": 2})).check_keys(&allowed),
            Ok(())
        );
        assert_eq!(
            Config::from_value(json!({"a": 1, "c": 2})).check_keys(&allowed),
            Err("unknown config key \"c\" (known: a, b)".to_string())
        );
        assert_eq!(
            Config::from_value(json!({"x": 1})).check_keys(&[]),
            Err("unknown config key \"x\" (this plugin takes no config keys)".to_string())
        );
        assert_eq!(
            Config::from_value(json!([1])).check_keys(&allowed),
            Err("config must be a table of keys".to_string())
        );
    }

    #[test]
    fn defaults_only_for_absent_keys() {
        let c = Config::from_value(json!({"b": true, "n": 7, "s": "x", "neg": -1, "f": 1.5}));
        assert_eq!(c.bool_or("b", false), Ok(true));
        assert_eq!(c.bool_or("none", true), Ok(true));
        assert_eq!(
            c.bool_or("s", true),
            Err("config key \"s\": expected a boolean".to_string())
        );
        assert_eq!(c.u64_or("n", 1), Ok(7));
        assert_eq!(c.u64_or("none", 1), Ok(1));
        for key in ["neg", "f", "s"] {
            assert_eq!(
                c.u64_or(key, 1),
                Err(format!(
                    "config key {key:?}: expected a non-negative integer"
                ))
            );
        }
        assert_eq!(c.str_or("s", "d"), Ok("x".to_string()));
        assert_eq!(c.str_or("none", "d"), Ok("d".to_string()));
        assert_eq!(
            c.str_or("n", "d"),
            Err("config key \"n\": expected a string".to_string())
        );
        // No table at all: every key is absent.
        assert_eq!(Config::default().u64_or("n", 3), Ok(3));
    }

    #[test]
    fn str_list() {
        let c = Config::from_value(json!({"l": ["a", "b"], "s": "a", "m": ["a", 1]}));
        assert_eq!(
            c.get_str_list("l"),
            Ok(Some(vec!["a".to_string(), "b".to_string()]))
        );
        assert_eq!(c.get_str_list("none"), Ok(None));
        let bad = |k: &str| Err(format!("config key {k:?}: expected a list of strings"));
        assert_eq!(c.get_str_list("s"), bad("s"));
        assert_eq!(c.get_str_list("m"), bad("m"));
    }
}

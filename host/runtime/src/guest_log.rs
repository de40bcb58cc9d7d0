//! Everything a plugin writes to the agent's log (the `host-log` import, its stdout and stderr)
//! goes through here: one rate limit per plugin, shared by its instances and kept across
//! restarts (a burst of lines, then a steady rate; what is over it is counted and summarised
//! in the next line that gets through), a length cap, and the text logged as a quoted string
//! field with control characters escaped, so a plugin's message never spans lines or passes for a
//! line of the agent's own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// Longest message kept, in bytes; the rest is cut.
pub const MAX_MESSAGE: usize = 4096;
/// Lines a plugin may log in a burst, and the rate they are refilled at.
pub const BURST: f64 = 200.0;
pub const PER_SECOND: f64 = 20.0;

/// How important a guest's line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
    suppressed: u64,
    suppressed_total: u64,
}

/// The log of one plugin.
#[derive(Debug)]
pub struct GuestLog {
    plugin: Arc<str>,
    bucket: Mutex<Bucket>,
}

/// The log of `plugin`: one per plugin name for the life of the process.
pub fn for_plugin(plugin: &Arc<str>) -> Arc<GuestLog> {
    static LOGS: OnceLock<Mutex<HashMap<Arc<str>, Arc<GuestLog>>>> = OnceLock::new();
    let logs = LOGS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut logs = logs.lock().unwrap_or_else(|e| e.into_inner());
    logs.entry(plugin.clone())
        .or_insert_with(|| {
            Arc::new(GuestLog {
                plugin: plugin.clone(),
                bucket: Mutex::new(Bucket {
                    tokens: BURST,
                    last: Instant::now(),
                    suppressed: 0,
                    suppressed_total: 0,
                }),
            })
        })
        .clone()
}

/// `text` cut to [`MAX_MESSAGE`] bytes (on a character boundary). It is logged as a string
/// field, which the log formats quoted with every control character and quote escaped (`\n`,
/// `\r`, `\u{1b}`, `\"`): a message stays on its line and inside its quotes.
pub fn cut(text: &str) -> &str {
    let mut end = text.len().min(MAX_MESSAGE);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl GuestLog {
    /// Lines suppressed by the rate limit so far.
    pub fn suppressed(&self) -> u64 {
        self.bucket
            .lock()
            .map(|b| b.suppressed_total)
            .unwrap_or_default()
    }

    /// Log one line from `source` ("log", "stdout" or "stderr") unless over the rate limit.
    pub fn line(&self, level: Level, source: &'static str, text: &str) {
        let reported = {
            let Ok(mut b) = self.bucket.lock() else {
                return;
            };
            let now = Instant::now();
            b.tokens =
                (b.tokens + now.duration_since(b.last).as_secs_f64() * PER_SECOND).min(BURST);
            b.last = now;
            if b.tokens < 1.0 {
                b.suppressed += 1;
                b.suppressed_total += 1;
                return;
            }
            b.tokens -= 1.0;
            std::mem::take(&mut b.suppressed)
        };
        let plugin = &*self.plugin;
        if reported > 0 {
            tracing::warn!(
                plugin,
                suppressed = reported,
                "runtime.guest_log lines suppressed by the rate limit"
            );
        }
        let text = cut(text);
        match level {
            Level::Trace => tracing::trace!(plugin, source, text, "runtime.guest_log"),
            Level::Debug => tracing::debug!(plugin, source, text, "runtime.guest_log"),
            Level::Info => tracing::info!(plugin, source, text, "runtime.guest_log"),
            Level::Warn => tracing::warn!(plugin, source, text, "runtime.guest_log"),
            Level::Error => tracing::error!(plugin, source, text, "runtime.guest_log"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_long_text_cut() {
        // The bug: a newline in a message wrote a whole forged agent line.
        let forged =
            "ok\n2026-01-01T00:00:00Z ERROR runtime.plugin disabled plugin=\"cpu\"\r\u{1b}[31m";
        let logged = format!("{:?}", cut(forged));
        assert!(!logged.chars().any(char::is_control), "{logged}");
        assert!(
            logged.contains("\\n2026") && logged.contains("\\u{1b}[31m"),
            "{logged}"
        );
        assert!(logged.contains("plugin=\\\"cpu\\\""), "{logged}");
        let long = "é".repeat(MAX_MESSAGE);
        assert!(cut(&long).len() <= MAX_MESSAGE && cut(&long).len() > MAX_MESSAGE - 2);
    }

    #[test]
    fn the_rate_limit_is_per_plugin_and_counts_what_it_drops() {
        let log = for_plugin(&Arc::from("guest-log-test-flood"));
        for _ in 0..10_000 {
            log.line(Level::Info, "log", "x");
        }
        let dropped = log.suppressed();
        // The burst gets through, the rest (bar what refilled meanwhile) is counted.
        assert!(
            dropped >= 9_000 && dropped <= 10_000 - BURST as u64,
            "{dropped}"
        );
        // Another instance of the same plugin shares the bucket; another plugin does not.
        let again = for_plugin(&Arc::from("guest-log-test-flood"));
        again.line(Level::Info, "log", "x");
        assert!(again.suppressed() > dropped);
        let other = for_plugin(&Arc::from("guest-log-test-quiet"));
        other.line(Level::Info, "log", "x");
        assert_eq!(other.suppressed(), 0);
    }
}

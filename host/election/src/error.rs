//! Errors of the election crate.

/// What can go wrong with `[election]`.
#[derive(Debug, thiserror::Error)]
pub enum ElectionError {
    #[error("config error: key \"{key}\": {message}")]
    Config { key: String, message: String },
}

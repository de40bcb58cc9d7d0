//! Errors of the IO layer.

use std::path::PathBuf;

/// Why a point was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PointError {
    #[error("point has an empty measurement name")]
    EmptyMeasurement,
    #[error("point {measurement:?} has no fields")]
    NoFields { measurement: String },
    #[error("point {measurement:?} has an empty {what} key")]
    EmptyKey {
        measurement: String,
        what: &'static str,
    },
    #[error("point {measurement:?} has {what} {key:?} twice")]
    DuplicateKey {
        measurement: String,
        what: &'static str,
        key: String,
    },
    #[error("point {measurement:?} field {key:?} is {value}, which line protocol cannot carry")]
    NonFiniteFloat {
        measurement: String,
        key: String,
        value: f64,
    },
    #[error("unknown category {0:?}")]
    UnknownCategory(String),
}

/// Failures of outputs and the writer task.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("output {output}: cannot open {path}: {source}")]
    Open {
        output: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("output {output}: write failed: {source}")]
    Write {
        output: String,
        source: std::io::Error,
    },
    #[error("the writer task has stopped")]
    WriterGone,
}

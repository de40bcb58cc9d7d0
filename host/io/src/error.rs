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
    #[error("output {output}: config: {message}")]
    Config { output: String, message: String },
    #[error("output {output}: {url} refused the batch: {reason}")]
    Rejected {
        output: String,
        url: String,
        reason: String,
    },
    /// The agent is stopping while the output was still trying: the batch's source sends it
    /// again at its next start (acknowledged as lost, not dropped).
    #[error("output {output}: stopped while retrying: {reason}")]
    Stopped { output: String, reason: String },
    #[error("output {output}: {url} unreachable: {reason}")]
    Unreachable {
        output: String,
        url: String,
        reason: String,
    },
}

/// A line protocol record that could not be decoded, and where: `line` and `column` are
/// 1-based, the column counted in bytes from the start of the line.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("line {line}, column {column}: {reason}")]
pub struct DecodeError {
    pub line: usize,
    pub column: usize,
    pub reason: DecodeReason,
}

/// Why a line protocol record was refused. Values quoted in the text are cut to 64 characters.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeReason {
    #[error("line is longer than the limit of {max} bytes")]
    LineTooLong { max: usize },
    #[error("invalid UTF-8")]
    InvalidUtf8,
    #[error("missing measurement")]
    MissingMeasurement,
    #[error("missing tag key")]
    MissingTagKey,
    #[error("tag key {key:?} is not followed by \"=\"")]
    MissingTagEquals { key: String },
    #[error("tag {key:?} has no value")]
    MissingTagValue { key: String },
    #[error("unescaped \"=\" in the value of tag {key:?}")]
    UnescapedEquals { key: String },
    #[error("duplicate tag key {key:?}")]
    DuplicateTag { key: String },
    #[error("missing fields")]
    MissingFields,
    #[error("missing field key")]
    MissingFieldKey,
    #[error("field key {key:?} is not followed by \"=\"")]
    MissingFieldEquals { key: String },
    #[error("field {key:?} has no value")]
    MissingFieldValue { key: String },
    #[error("invalid field value {value:?}")]
    InvalidFieldValue { value: String },
    #[error("integer field value {value:?} is out of range")]
    IntegerOutOfRange { value: String },
    #[error("unsigned field value {value:?} is negative")]
    NegativeUnsigned { value: String },
    #[error("float field value {value:?} is out of range")]
    FloatOutOfRange { value: String },
    #[error("float field value {value:?} is not finite")]
    NonFiniteFloat { value: String },
    #[error("string value of field {key:?} has no closing quote")]
    UnterminatedString { key: String },
    #[error("expected \",\" or \" \" after the string value of field {key:?}")]
    TextAfterString { key: String },
    #[error("duplicate field key {key:?}")]
    DuplicateField { key: String },
    #[error("invalid timestamp {value:?}")]
    InvalidTimestamp { value: String },
    #[error("timestamp {value:?} is out of range")]
    TimestampOutOfRange { value: String },
    #[error("unexpected text {text:?} after the timestamp")]
    TextAfterTimestamp { text: String },
    #[error("invalid point: {0}")]
    Point(#[from] PointError),
}

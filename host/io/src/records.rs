//! The pipeline record encoding as the agent reads it: the [`sandkit_records`] crate (shared
//! with the SDK and the guests' tests; the format is specified in docs/record-encoding.md), and
//! the conversions between its values and the agent's [`crate::FieldValue`].

pub use sandkit_records::{
    expansion_budget, kind, Header, Item, RecordError, RecordReader, EXPANSION_PER_LINE, F_MESSAGE,
    F_TIME, HEADER, MAGIC, MAX_EXPANSION, MAX_RECORDS_PER_LINE,
};

/// A field value borrowed from the output or the batch data (the crate's `Value`).
pub use sandkit_records::Value as FieldRef;

impl<'a> From<&'a crate::FieldValue> for FieldRef<'a> {
    fn from(v: &'a crate::FieldValue) -> Self {
        use crate::FieldValue;
        match v {
            FieldValue::Int(x) => FieldRef::Int(*x),
            FieldValue::Uint(x) => FieldRef::Uint(*x),
            FieldValue::Float(x) => FieldRef::Float(*x),
            FieldValue::Bool(x) => FieldRef::Bool(*x),
            FieldValue::Text(s) => FieldRef::Text(s),
            FieldValue::Shared(s) => FieldRef::Text(s),
        }
    }
}

impl From<FieldRef<'_>> for crate::FieldValue {
    /// The value, owned (text copied).
    fn from(v: FieldRef<'_>) -> Self {
        match v {
            FieldRef::Int(x) => crate::FieldValue::Int(x),
            FieldRef::Uint(x) => crate::FieldValue::Uint(x),
            FieldRef::Float(x) => crate::FieldValue::Float(x),
            FieldRef::Bool(x) => crate::FieldValue::Bool(x),
            FieldRef::Text(s) => crate::FieldValue::Text(s.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The agent's side of the fuzzing: arbitrary bytes after the magic are an error or
        /// records, never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..512), lines in 0usize..4) {
            let mut b = MAGIC.to_vec();
            b.extend_from_slice(&tail);
            let _ = RecordReader::validate(&b, "some data é", lines);
        }
    }

    #[test]
    fn values_convert_both_ways() {
        for v in [
            crate::FieldValue::Int(-1),
            crate::FieldValue::Uint(2),
            crate::FieldValue::Float(0.5),
            crate::FieldValue::Bool(true),
            crate::FieldValue::Text("é".into()),
        ] {
            assert_eq!(crate::FieldValue::from(FieldRef::from(&v)), v);
        }
    }
}

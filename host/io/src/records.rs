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

/// Record tags compared one by one below this many; past it, through a set (a pipeline may
/// write 65,535 tags in a record: a quadratic scan of them would cost seconds of the agent's time).
const LINEAR_TAGS: usize = 32;

/// A record's items sorted into what its point is made of, by the rules every consumer shares
/// (the agent's file path, its HTTP path and `sandkit pipeline test`): the last measurement
/// item wins, among the record's tags the first of a key wins, fields keep their order and a
/// field key written again keeps its first place and takes the last value (a parser that sets
/// a field twice means the second), and `message` is added from the input line when the record
/// asks and has no `message` field.
#[derive(Debug, Default)]
pub struct Parts<'a> {
    pub measurement: Option<&'a str>,
    pub tags: Vec<(&'a str, &'a str)>,
    pub fields: Vec<(&'a str, FieldRef<'a>)>,
    /// Add the input line as the `message` field.
    pub add_message: bool,
    seen: std::collections::HashSet<&'a str>,
    /// Where each field key is in `fields` (past [`LINEAR_TAGS`] items).
    field_at: std::collections::HashMap<&'a str, usize>,
}

impl<'a> Parts<'a> {
    /// Sort the items of one record (`keep_message` from its header); the vectors are reused.
    pub fn sort(&mut self, keep_message: bool, items: &[Item<'a>]) {
        self.measurement = None;
        self.tags.clear();
        self.fields.clear();
        self.seen.clear();
        self.field_at.clear();
        let many = items.len() > LINEAR_TAGS;
        let mut has_message = false;
        for item in items {
            match *item {
                Item::Measurement(m) => self.measurement = Some(m),
                Item::Tag(k, v) => {
                    let new = if many {
                        self.seen.insert(k)
                    } else {
                        !self.tags.iter().any(|(t, _)| *t == k)
                    };
                    if new {
                        self.tags.push((k, v));
                    }
                }
                Item::Field(k, v) => {
                    has_message |= k == "message";
                    let at = if many {
                        let next = self.fields.len();
                        Some(*self.field_at.entry(k).or_insert(next)).filter(|i| *i < next)
                    } else {
                        self.fields.iter().position(|(f, _)| *f == k)
                    };
                    match at {
                        Some(i) => self.fields[i].1 = v,
                        None => self.fields.push((k, v)),
                    }
                }
            }
        }
        self.add_message = keep_message && !has_message;
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
    fn parts_follow_the_shared_rules() {
        let mut parts = Parts::default();
        let items = [
            Item::Measurement("a"),
            Item::Tag("k", "1"),
            Item::Field("f", FieldRef::Int(1)),
            Item::Tag("k", "2"),
            Item::Measurement("b"),
            Item::Field("f", FieldRef::Int(2)),
        ];
        parts.sort(true, &items);
        assert_eq!(parts.measurement, Some("b"));
        assert_eq!(parts.tags, [("k", "1")]);
        // A field written twice: its first place, its last value.
        assert_eq!(parts.fields, [("f", FieldRef::Int(2))]);
        assert!(parts.add_message);
        parts.sort(true, &[Item::Field("message", FieldRef::Text("own"))]);
        assert!(!parts.add_message && parts.tags.is_empty() && parts.measurement.is_none());
        // Many tags take the set: the same first-wins result.
        let many: Vec<Item<'_>> = (0..100)
            .map(|i| Item::Tag(if i % 2 == 0 { "even" } else { "odd" }, "v"))
            .chain([Item::Tag("z", "last")])
            .collect();
        parts.sort(false, &many);
        assert_eq!(parts.tags, [("even", "v"), ("odd", "v"), ("z", "last")]);
        assert!(!parts.add_message);
        // Many fields take the map: the same first-place, last-value result.
        let many: Vec<Item<'_>> = (0..100)
            .map(|i| Item::Field(if i % 2 == 0 { "a" } else { "b" }, FieldRef::Int(i)))
            .collect();
        parts.sort(false, &many);
        assert_eq!(
            parts.fields,
            [("a", FieldRef::Int(98)), ("b", FieldRef::Int(99))]
        );
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

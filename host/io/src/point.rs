//! The one point model of the agent: measurement, sorted tags, typed fields, ns timestamp and
//! category.

use crate::PointError;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// Where a point goes on the gateway (`/v1/write/{category}`), as DataKit names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    Metric,
    Logging,
    Object,
    CustomObject,
    Keyevent,
    Network,
    Tracing,
    Rum,
    Security,
    Profiling,
}

impl Category {
    /// Every category, in a fixed order.
    pub const ALL: [Category; 10] = [
        Category::Metric,
        Category::Logging,
        Category::Object,
        Category::CustomObject,
        Category::Keyevent,
        Category::Network,
        Category::Tracing,
        Category::Rum,
        Category::Security,
        Category::Profiling,
    ];

    /// Its place in [`Category::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The name used in DataWay URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Metric => "metric",
            Category::Logging => "logging",
            Category::Object => "object",
            Category::CustomObject => "custom_object",
            Category::Keyevent => "keyevent",
            Category::Network => "network",
            Category::Tracing => "tracing",
            Category::Rum => "rum",
            Category::Security => "security",
            Category::Profiling => "profiling",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = PointError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| PointError::UnknownCategory(s.to_string()))
    }
}

/// A typed field value. `Text` and `Shared` with the same text are equal.
#[derive(Debug, Clone)]
pub enum FieldValue {
    Int(i64),
    Uint(u64),
    Float(f64),
    Bool(bool),
    Text(String),
    /// Text that is a slice of a shared buffer (a pipeline's batch of lines): no copy per field.
    /// It encodes like `Text`.
    Shared(SharedStr),
}

impl PartialEq for FieldValue {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (FieldValue::Int(a), FieldValue::Int(b)) => a == b,
            (FieldValue::Uint(a), FieldValue::Uint(b)) => a == b,
            (FieldValue::Float(a), FieldValue::Float(b)) => a == b,
            (FieldValue::Bool(a), FieldValue::Bool(b)) => a == b,
            _ => match (self.as_text(), other.as_text()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
        }
    }
}

impl FieldValue {
    /// The text of a `Text` or `Shared` value.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            FieldValue::Text(s) => Some(s),
            FieldValue::Shared(s) => Some(s.as_str()),
            _ => None,
        }
    }
}

/// A string that is a slice of a reference-counted buffer: making and cloning one costs a
/// reference count, not a copy. Equal to another when the texts are.
#[derive(Clone)]
pub struct SharedStr {
    buf: Arc<str>,
    start: u32,
    end: u32,
}

impl SharedStr {
    /// `buf[range]`, or `None` when the range is out of bounds, not on character boundaries, or
    /// past 4 GiB.
    pub fn new(buf: &Arc<str>, range: std::ops::Range<usize>) -> Option<SharedStr> {
        buf.get(range.clone())?;
        Some(SharedStr {
            buf: buf.clone(),
            start: u32::try_from(range.start).ok()?,
            end: u32::try_from(range.end).ok()?,
        })
    }

    /// The slice of `buf` that `s` is, if it is one (by address).
    pub fn of(buf: &Arc<str>, s: &str) -> Option<SharedStr> {
        let start = (s.as_ptr() as usize).checked_sub(buf.as_ptr() as usize)?;
        SharedStr::new(buf, start..start + s.len())
    }

    pub fn as_str(&self) -> &str {
        // In bounds and on boundaries: checked in `new`, and the buffer is immutable.
        self.buf
            .get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }
}

impl std::ops::Deref for SharedStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for SharedStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A field key: owned, or shared by many points (a file's pipeline records repeat the same dozen
/// keys on every line, so a key costs a reference count instead of an allocation). Reads as a
/// `str`; equal to another when the texts are.
#[derive(Clone)]
pub struct FieldKey(KeyRepr);

#[derive(Clone)]
enum KeyRepr {
    Owned(String),
    Shared(Arc<str>),
}

impl FieldKey {
    pub fn as_str(&self) -> &str {
        match &self.0 {
            KeyRepr::Owned(s) => s,
            KeyRepr::Shared(s) => s,
        }
    }
}

impl std::ops::Deref for FieldKey {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for FieldKey {
    fn from(s: String) -> Self {
        FieldKey(KeyRepr::Owned(s))
    }
}

impl From<&str> for FieldKey {
    fn from(s: &str) -> Self {
        FieldKey(KeyRepr::Owned(s.to_string()))
    }
}

impl From<Arc<str>> for FieldKey {
    fn from(s: Arc<str>) -> Self {
        FieldKey(KeyRepr::Shared(s))
    }
}

impl From<&Arc<str>> for FieldKey {
    fn from(s: &Arc<str>) -> Self {
        FieldKey(KeyRepr::Shared(s.clone()))
    }
}

impl PartialEq for FieldKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<str> for FieldKey {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for FieldKey {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for FieldKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for FieldKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Fields with their keys as [`FieldKey`]s (the vector's allocation is reused: same layout).
fn keyed(fields: Vec<(String, FieldValue)>) -> Vec<(FieldKey, FieldValue)> {
    fields.into_iter().map(|(k, v)| (k.into(), v)).collect()
}

/// One measurement at one instant. Built through [`Point::new`], which validates it, so every
/// `Point` can be encoded: tags are sorted by key, keys are unique, floats are finite.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    measurement: Name,
    tags: Tags,
    fields: Vec<(FieldKey, FieldValue)>,
    timestamp_ns: i64,
    category: Category,
}

/// A measurement name: owned, or shared by many points (a file source's lines).
#[derive(Debug, Clone)]
enum Name {
    Owned(String),
    Shared(Arc<str>),
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Name::Owned(s) => s,
            Name::Shared(s) => s,
        }
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

/// Tags: owned, or a validated set shared by many points.
#[derive(Debug, Clone)]
enum Tags {
    Owned(Vec<(String, String)>),
    Shared(SharedTags),
}

impl std::ops::Deref for Tags {
    type Target = [(String, String)];
    fn deref(&self) -> &[(String, String)] {
        match self {
            Tags::Owned(t) => t,
            Tags::Shared(t) => &t.0,
        }
    }
}

impl PartialEq for Tags {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

/// Tags validated and sorted once, for many points (e.g. every line of one file): cloning is a
/// reference count, not a copy of every string.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedTags(Arc<[(String, String)]>);

impl SharedTags {
    /// Sort and validate.
    ///
    /// # Errors
    /// An empty or duplicated key.
    pub fn new(mut tags: Vec<(String, String)>) -> Result<SharedTags, PointError> {
        tags.sort_by(|a, b| a.0.cmp(&b.0));
        check_tags(&tags, || "(shared tags)".to_string())?;
        Ok(SharedTags(tags.into()))
    }

    /// No tags.
    pub fn empty() -> SharedTags {
        SharedTags(Arc::from(Vec::new()))
    }

    pub fn as_slice(&self) -> &[(String, String)] {
        &self.0
    }
}

/// Keys of sorted tags are non-empty and unique.
fn check_tags(
    tags: &[(String, String)],
    measurement: impl Fn() -> String,
) -> Result<(), PointError> {
    for (i, (k, _)) in tags.iter().enumerate() {
        if k.is_empty() {
            return Err(PointError::EmptyKey {
                measurement: measurement(),
                what: "tag",
            });
        }
        if i > 0 && tags[i - 1].0 == *k {
            return Err(PointError::DuplicateKey {
                measurement: measurement(),
                what: "tag",
                key: k.clone(),
            });
        }
    }
    Ok(())
}

/// Fields are there, with non-empty unique keys and finite floats.
fn check_fields(
    fields: &[(FieldKey, FieldValue)],
    measurement: impl Fn() -> String,
) -> Result<(), PointError> {
    if fields.is_empty() {
        return Err(PointError::NoFields {
            measurement: measurement(),
        });
    }
    // Duplicate field keys: pairwise for the usual handful of fields, a set beyond that so a
    // hostile line with 100,000 fields costs linear time, not quadratic.
    let mut seen =
        (fields.len() > 16).then(|| std::collections::HashSet::with_capacity(fields.len()));
    for (i, (k, v)) in fields.iter().enumerate() {
        if k.is_empty() {
            return Err(PointError::EmptyKey {
                measurement: measurement(),
                what: "field",
            });
        }
        let dup = match seen.as_mut() {
            Some(set) => !set.insert(k.as_str()),
            None => fields[..i].iter().any(|(k2, _)| k2 == k),
        };
        if dup {
            let key = k.to_string();
            return Err(PointError::DuplicateKey {
                measurement: measurement(),
                what: "field",
                key,
            });
        }
        if let FieldValue::Float(f) = v {
            if !f.is_finite() {
                let (key, value) = (k.to_string(), *f);
                return Err(PointError::NonFiniteFloat {
                    measurement: measurement(),
                    key,
                    value,
                });
            }
        }
    }
    Ok(())
}

impl Point {
    /// Build a point from a shared measurement name and tag set (see [`SharedTags`]); only the
    /// fields are validated here.
    ///
    /// # Errors
    /// Empty measurement, no fields, an empty or duplicated field key, or a NaN or infinite
    /// float.
    pub fn with_shared(
        measurement: &Arc<str>,
        tags: &SharedTags,
        fields: Vec<(String, FieldValue)>,
        timestamp_ns: i64,
        category: Category,
    ) -> Result<Point, PointError> {
        Self::with_shared_keys(measurement, tags, keyed(fields), timestamp_ns, category)
    }

    /// As [`Point::with_shared`], with keys that may be shared too ([`FieldKey`]).
    ///
    /// # Errors
    /// As [`Point::with_shared`].
    pub fn with_shared_keys(
        measurement: &Arc<str>,
        tags: &SharedTags,
        fields: Vec<(FieldKey, FieldValue)>,
        timestamp_ns: i64,
        category: Category,
    ) -> Result<Point, PointError> {
        if measurement.is_empty() {
            return Err(PointError::EmptyMeasurement);
        }
        check_fields(&fields, || measurement.to_string())?;
        Ok(Point {
            measurement: Name::Shared(measurement.clone()),
            tags: Tags::Shared(tags.clone()),
            fields,
            timestamp_ns,
            category,
        })
    }

    /// Validate and build a point.
    ///
    /// # Errors
    /// Empty measurement or key, no fields, a duplicated tag or field key, or a NaN or infinite
    /// float.
    pub fn new(
        measurement: String,
        mut tags: Vec<(String, String)>,
        fields: Vec<(String, FieldValue)>,
        timestamp_ns: i64,
        category: Category,
    ) -> Result<Point, PointError> {
        if measurement.is_empty() {
            return Err(PointError::EmptyMeasurement);
        }
        let fields = keyed(fields);
        if fields.is_empty() {
            return Err(PointError::NoFields { measurement });
        }
        tags.sort_by(|a, b| a.0.cmp(&b.0));
        check_tags(&tags, || measurement.clone())?;
        check_fields(&fields, || measurement.clone())?;
        Ok(Point {
            measurement: Name::Owned(measurement),
            tags: Tags::Owned(tags),
            fields,
            timestamp_ns,
            category,
        })
    }
    pub fn measurement(&self) -> &str {
        &self.measurement
    }

    /// Tags sorted by key.
    pub fn tags(&self) -> &[(String, String)] {
        &self.tags
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| self.tags[i].1.as_str())
    }

    pub fn fields(&self) -> &[(FieldKey, FieldValue)] {
        &self.fields
    }

    pub fn field(&self, key: &str) -> Option<&FieldValue> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn timestamp_ns(&self) -> i64 {
        self.timestamp_ns
    }

    pub fn category(&self) -> Category {
        self.category
    }

    /// Add a tag (e.g. `host`) unless the point already has one with that key.
    pub fn add_tag_if_missing(&mut self, key: &str, value: &str) {
        if key.is_empty() {
            return;
        }
        if let Err(i) = self.tags.binary_search_by(|(k, _)| k.as_str().cmp(key)) {
            if let Tags::Shared(t) = &self.tags {
                self.tags = Tags::Owned(t.as_slice().to_vec());
            }
            if let Tags::Owned(t) = &mut self.tags {
                t.insert(i, (key.to_string(), value.to_string()));
            }
        }
    }

    /// Replace text that refers to a shared buffer by its own copy (so that a point kept for a
    /// while does not keep a whole batch alive).
    pub fn own_text(&mut self) {
        for (_, v) in &mut self.fields {
            if let FieldValue::Shared(s) = v {
                *v = FieldValue::Text(s.as_str().to_string());
            }
        }
    }

    /// A rough size in bytes, for caps: the length of the strings plus 8 per value.
    /// About what this point takes of the agent's memory, in bytes: the struct, its vectors
    /// and every owned string (what a flood of points costs the host, beyond its encoded size).
    pub fn heap_size(&self) -> usize {
        use std::mem::size_of;
        let tags: usize = self
            .tags
            .iter()
            .map(|(k, v)| size_of::<(String, String)>() + k.len() + v.len())
            .sum();
        let fields: usize = self
            .fields
            .iter()
            .map(|(k, v)| {
                size_of::<(FieldKey, FieldValue)>()
                    + k.as_str().len()
                    + match v {
                        FieldValue::Text(s) => s.len(),
                        _ => 0,
                    }
            })
            .sum();
        size_of::<Point>() + self.measurement().len() + tags + fields
    }

    pub fn approx_size(&self) -> usize {
        let tags: usize = self.tags.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
        let fields: usize = self
            .fields
            .iter()
            .map(|(k, v)| {
                k.len()
                    + 2
                    + match v {
                        FieldValue::Text(s) => s.len() + 2,
                        FieldValue::Shared(s) => s.len() + 2,
                        _ => 8,
                    }
            })
            .sum();
        self.measurement.len() + tags + fields + 20
    }
}

#[cfg(test)]
mod tests;

//! The points a plugin emits, checked against what its `describe` declares, so that the pages
//! `sandkit doc plugin` makes of a description stay true of what the plugin sends.
//!
//! A declared name is matched exactly, or, when it ends in `*`, as a prefix (`*` alone takes
//! every name): a plugin whose names come from its input (a Prometheus scrape, logfmt keys)
//! declares them so. `sandkit plugin test` prints each mismatch; a running agent counts the
//! points with any in `sandkit_plugin_undeclared_points_total` and logs each distinct mismatch
//! the first time (the first 256 of a plugin; later ones are counted only).

use crate::plugin::PluginDescription;
use sandkit_io::records::FieldRef;
use sandkit_io::{FieldValue, Point};
use std::collections::{HashMap, HashSet};
use std::fmt;

/// One way a point differs from the description.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Mismatch {
    /// No declared measurement has this name.
    Measurement(String),
    Tag {
        measurement: String,
        tag: String,
    },
    Field {
        measurement: String,
        field: String,
    },
    /// The field is declared with another kind.
    Kind {
        measurement: String,
        field: String,
        declared: &'static str,
        emitted: &'static str,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Measurement(m) => write!(f, "undeclared measurement {m:?}"),
            Mismatch::Tag { measurement, tag } => {
                write!(f, "undeclared tag {tag:?} of measurement {measurement:?}")
            }
            Mismatch::Field { measurement, field } => {
                write!(f, "undeclared field {field:?} of measurement {measurement:?}")
            }
            Mismatch::Kind {
                measurement,
                field,
                declared,
                emitted,
            } => write!(
                f,
                "field {field:?} of measurement {measurement:?} emitted as {emitted}, declared as {declared}"
            ),
        }
    }
}

impl Mismatch {
    /// The kind of mismatch, as the label of the `/metrics` counter shows it.
    pub fn kind(&self) -> &'static str {
        match self {
            Mismatch::Measurement(_) => "measurement",
            Mismatch::Tag { .. } => "tag",
            Mismatch::Field { .. } => "field",
            Mismatch::Kind { .. } => "kind",
        }
    }
}

/// The kind of a field value, named as `describe` names kinds.
pub fn value_kind(v: &FieldValue) -> &'static str {
    match v {
        FieldValue::Int(_) => "int",
        FieldValue::Uint(_) => "uint",
        FieldValue::Float(_) => "float",
        FieldValue::Bool(_) => "bool",
        FieldValue::Text(_) | FieldValue::Shared(_) => "string",
    }
}

/// The kind of a record's field value, named as `describe` names kinds.
fn ref_kind(v: &FieldRef<'_>) -> &'static str {
    match v {
        FieldRef::Int(_) => "int",
        FieldRef::Uint(_) => "uint",
        FieldRef::Float(_) => "float",
        FieldRef::Bool(_) => "bool",
        FieldRef::Text(_) => "string",
    }
}

/// Names a description declares in one list (tags, or fields with their kinds): exact names
/// looked up in a map, names ending in `*` kept as prefixes. A point costs a lookup per tag and
/// field whatever the size of the description; the prefixes are few (a description with more
/// than [`MAX_PATTERNS`] in one list has the rest ignored).
#[derive(Debug, Clone, Default)]
struct Names<K> {
    exact: HashMap<String, Vec<K>>,
    prefixes: Vec<(String, K)>,
}

/// Prefix patterns kept per list of names.
const MAX_PATTERNS: usize = 64;

impl<K: Copy> Names<K> {
    fn add(&mut self, name: &str, kind: K) {
        match name.strip_suffix('*') {
            Some(prefix) => {
                if self.prefixes.len() < MAX_PATTERNS {
                    self.prefixes.push((prefix.to_string(), kind));
                }
            }
            None => self.exact.entry(name.to_string()).or_default().push(kind),
        }
    }

    /// The kinds under which `name` is declared (empty: not declared).
    fn kinds(&self, name: &str, out: &mut Vec<K>) {
        if let Some(k) = self.exact.get(name) {
            out.extend_from_slice(k);
        }
        out.extend(
            self.prefixes
                .iter()
                .filter(|(p, _)| name.starts_with(p.as_str()))
                .map(|(_, k)| *k),
        );
    }
}

/// A description, ready to check points against.
#[derive(Debug, Clone)]
pub struct Declared {
    /// Measurement names, each to the index of its tags and fields in `declared`.
    measurements: Names<usize>,
    /// The tags and fields of each declared measurement.
    declared: Vec<(Names<()>, Names<&'static str>)>,
    /// A pipeline's records take the measurement of the source they come from, not one of the
    /// plugin's: their tags and fields are checked against every declared measurement's
    /// together, and their measurement is not checked.
    any_measurement: bool,
}

impl Declared {
    fn of(d: &PluginDescription, any_measurement: bool) -> Declared {
        let mut measurements = Names::default();
        let mut declared = Vec::new();
        let mut all = (Names::default(), Names::default());
        for m in &d.measurements {
            let mut tags = Names::default();
            let mut fields = Names::default();
            for (t, _) in &m.tags {
                tags.add(t, ());
                all.0.add(t, ());
            }
            for f in &m.fields {
                fields.add(&f.name, f.kind);
                all.1.add(&f.name, f.kind);
            }
            if !any_measurement {
                measurements.add(&m.name, declared.len());
                declared.push((tags, fields));
            }
        }
        if any_measurement {
            declared = vec![all];
        }
        Declared {
            measurements,
            declared,
            any_measurement,
        }
    }

    /// What a collector or an input declares.
    pub fn new(d: &PluginDescription) -> Declared {
        Declared::of(d, false)
    }

    /// What a pipeline declares: its records' tags and fields.
    pub fn for_pipeline(d: &PluginDescription) -> Declared {
        Declared::of(d, true)
    }

    /// Every way `p` differs from the description, appended to `out`.
    pub fn check(&self, p: &Point, out: &mut Vec<Mismatch>) {
        self.check_parts(
            p.measurement(),
            p.tags().iter().map(|(k, _)| k.as_str()),
            p.fields().iter().map(|(k, v)| (k.as_str(), value_kind(v))),
            out,
        );
    }

    /// As [`Declared::check`], for one record of a pipeline's output (`measurement` is the
    /// source's, for the messages).
    pub fn check_record(
        &self,
        measurement: &str,
        tags: &[(&str, &str)],
        fields: &[(&str, FieldRef<'_>)],
        out: &mut Vec<Mismatch>,
    ) {
        self.check_parts(
            measurement,
            tags.iter().map(|(k, _)| *k),
            fields.iter().map(|(k, v)| (*k, ref_kind(v))),
            out,
        );
    }

    /// Every way a point of `measurement` with these tag keys, field keys and kinds differs
    /// from the description. (The category is not checked: plugins that let their config
    /// choose it, as webhook does, declare the default one.)
    fn check_parts<'p>(
        &self,
        measurement: &str,
        tags: impl Iterator<Item = &'p str>,
        fields: impl Iterator<Item = (&'p str, &'static str)>,
        out: &mut Vec<Mismatch>,
    ) {
        let mut candidates = Vec::new();
        if self.any_measurement {
            candidates.extend(0..self.declared.len());
        } else {
            self.measurements.kinds(measurement, &mut candidates);
            if candidates.is_empty() {
                out.push(Mismatch::Measurement(shorten(measurement)));
                return;
            }
        }
        // (A pipeline that declares no measurement declares no tag or field either.)
        let mut found = Vec::new();
        for tag in tags {
            let declared = candidates.iter().any(|&i| {
                found.clear();
                self.declared[i].0.kinds(tag, &mut found);
                !found.is_empty()
            });
            if !declared {
                out.push(Mismatch::Tag {
                    measurement: shorten(measurement),
                    tag: shorten(tag),
                });
            }
        }
        let mut kinds: Vec<&'static str> = Vec::new();
        for (field, emitted) in fields {
            kinds.clear();
            for &i in &candidates {
                self.declared[i].1.kinds(field, &mut kinds);
            }
            if kinds.is_empty() {
                out.push(Mismatch::Field {
                    measurement: shorten(measurement),
                    field: shorten(field),
                });
            } else if !kinds.contains(&emitted) {
                out.push(Mismatch::Kind {
                    measurement: shorten(measurement),
                    field: shorten(field),
                    declared: kinds[0],
                    emitted,
                });
            }
        }
    }
}

/// A name as a mismatch keeps it: at most [`NAME_MAX`] bytes (a name can be as long as a
/// call's output), cut on a character boundary and marked.
fn shorten(name: &str) -> String {
    if name.len() <= NAME_MAX {
        return name.to_string();
    }
    let mut end = NAME_MAX;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &name[..end])
}

/// Bytes of a name kept in a mismatch.
const NAME_MAX: usize = 128;

/// The mismatches seen so far, each once: the first of each is logged, and a flood of one kind
/// costs one set entry. Bounded, so that a plugin naming fields after its input cannot grow it.
#[derive(Debug, Default)]
pub struct Seen {
    set: HashSet<Mismatch>,
}

/// Distinct mismatches remembered per plugin instance; past it, new ones are counted only.
const SEEN_MAX: usize = 256;

impl Seen {
    /// Whether `m` is new (and then remember it, while there is room).
    pub fn first(&mut self, m: &Mismatch) -> bool {
        if self.set.contains(m) || self.set.len() >= SEEN_MAX {
            return false;
        }
        self.set.insert(m.clone());
        true
    }
}

/// What a running collector or input checks its calls' points with.
#[derive(Debug)]
pub(crate) struct Conformance {
    declared: Declared,
    seen: std::sync::Mutex<Seen>,
}

impl Conformance {
    pub(crate) fn new(declared: Declared) -> Conformance {
        Conformance {
            declared,
            seen: std::sync::Mutex::new(Seen::default()),
        }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The points that differ from the description, and the mismatches first seen now.
    pub(crate) fn check(&self, points: &[Point]) -> (u64, Vec<Mismatch>) {
        // Checked without the lock (a large call takes a while); only the memory of what was
        // seen is shared.
        let (bad, mut distinct) = check_points(&self.declared, points, &mut Seen::default());
        let mut seen = self.seen();
        distinct.retain(|m| seen.first(m));
        (bad, distinct)
    }

    /// Whether one record of a pipeline's output differs from the description, and the
    /// mismatches first seen now.
    pub(crate) fn check_record(
        &self,
        source: &str,
        tags: &[(&str, &str)],
        fields: &[(&str, FieldRef<'_>)],
    ) -> (bool, Vec<Mismatch>) {
        let mut found = Vec::new();
        self.declared.check_record(source, tags, fields, &mut found);
        let bad = !found.is_empty();
        let mut seen = self.seen();
        found.retain(|m| seen.first(m));
        (bad, found)
    }
}

/// Check a call's points: how many have any mismatch, and the mismatches not seen before.
pub fn check_points(
    declared: &Declared,
    points: &[Point],
    seen: &mut Seen,
) -> (u64, Vec<Mismatch>) {
    let mut bad = 0;
    let mut new = Vec::new();
    let mut found = Vec::new();
    for p in points {
        found.clear();
        declared.check(p, &mut found);
        if !found.is_empty() {
            bad += 1;
            new.extend(found.drain(..).filter(|m| seen.first(m)));
        }
    }
    (bad, new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::{FieldDescription, MeasurementDescription};
    use sandkit_io::Category;
    use std::time::Duration;

    fn description() -> PluginDescription {
        let field = |name: &str, kind| FieldDescription {
            name: name.into(),
            kind,
            unit: String::new(),
            description: String::new(),
        };
        PluginDescription {
            name: "t".into(),
            version: "1".into(),
            description: String::new(),
            default_interval: Duration::from_secs(1),
            min_interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(1),
            measurements: vec![
                MeasurementDescription {
                    name: "cpu".into(),
                    category: "metric".into(),
                    description: String::new(),
                    tags: vec![("cpu".into(), String::new())],
                    fields: vec![field("usage", "float"), field("count", "int")],
                },
                MeasurementDescription {
                    name: "node_*".into(),
                    category: "metric".into(),
                    description: String::new(),
                    tags: vec![("*".into(), String::new())],
                    fields: vec![field("*", "float")],
                },
            ],
        }
    }

    fn point_of(
        m: &str,
        tags: &[&str],
        fields: &[(&str, FieldValue)],
        category: Category,
    ) -> Point {
        Point::new(
            m.into(),
            tags.iter().map(|t| (t.to_string(), "x".into())).collect(),
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            0,
            category,
        )
        .unwrap()
    }

    fn point(m: &str, tags: &[&str], fields: &[(&str, FieldValue)]) -> Point {
        point_of(m, tags, fields, Category::Metric)
    }

    fn mismatches(d: &Declared, p: &Point) -> Vec<String> {
        let mut out = Vec::new();
        d.check(p, &mut out);
        out.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn declared_points_pass_and_each_difference_is_named() {
        let d = Declared::new(&description());
        let ok = point("cpu", &["cpu"], &[("usage", FieldValue::Float(1.0))]);
        assert!(mismatches(&d, &ok).is_empty());
        let wild = point(
            "node_load",
            &["any", "other"],
            &[("load1", FieldValue::Float(0.5))],
        );
        assert!(mismatches(&d, &wild).is_empty());
        let bad = point(
            "cpu",
            &["cpu", "core"],
            &[
                ("usage", FieldValue::Int(1)),
                ("idle", FieldValue::Float(1.0)),
            ],
        );
        assert_eq!(
            mismatches(&d, &bad),
            [
                "undeclared tag \"core\" of measurement \"cpu\"",
                "field \"usage\" of measurement \"cpu\" emitted as int, declared as float",
                "undeclared field \"idle\" of measurement \"cpu\"",
            ]
        );
        let unknown = point("disk", &[], &[("free", FieldValue::Int(1))]);
        assert_eq!(
            mismatches(&d, &unknown),
            ["undeclared measurement \"disk\""]
        );
        // The category is the config's to choose (webhook's is): not checked.
        let logged = point_of(
            "cpu",
            &[],
            &[("count", FieldValue::Int(1))],
            Category::Logging,
        );
        assert!(mismatches(&d, &logged).is_empty());
        let long = "x".repeat(1000);
        let named = point(&long, &[], &[("f", FieldValue::Int(1))]);
        assert_eq!(
            mismatches(&d, &named),
            [format!(
                "undeclared measurement \"{}...\"",
                "x".repeat(NAME_MAX)
            )]
        );
    }

    #[test]
    fn a_pipeline_is_checked_on_tags_and_fields_whatever_its_measurement() {
        let d = Declared::for_pipeline(&description());
        let p = point("nginx", &["cpu"], &[("usage", FieldValue::Float(1.0))]);
        assert!(mismatches(&d, &p).is_empty());
        let p = point(
            "nginx",
            &["cpu"],
            &[("usage", FieldValue::Text("x".into()))],
        );
        // The wildcard measurement's `*` field takes it, but as a float.
        assert_eq!(
            mismatches(&d, &p),
            ["field \"usage\" of measurement \"nginx\" emitted as string, declared as float"]
        );
        let mut nothing = description();
        nothing.measurements.clear();
        assert_eq!(
            mismatches(&Declared::for_pipeline(&nothing), &p),
            [
                "undeclared tag \"cpu\" of measurement \"nginx\"",
                "undeclared field \"usage\" of measurement \"nginx\""
            ]
        );
    }

    #[test]
    fn a_record_is_checked_as_a_point_would_be() {
        let c = Conformance::new(Declared::for_pipeline(&description()));
        let tags = [("cpu", "0")];
        let ok = [("usage", FieldRef::Float(1.0)), ("count", FieldRef::Int(2))];
        assert_eq!(c.check_record("app", &tags, &ok), (false, vec![]));
        let bad = [
            ("usage", FieldRef::Text("x")),
            ("other", FieldRef::Bool(true)),
        ];
        let (unlike, first) = c.check_record("app", &[], &bad);
        assert!(unlike);
        // The `*` float field of `node_*` takes `other`, but not as a bool.
        let shown: Vec<String> = first.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "field \"usage\" of measurement \"app\" emitted as string, declared as float",
                "field \"other\" of measurement \"app\" emitted as bool, declared as float",
            ]
        );
        // Seen before: counted, not reported again.
        assert_eq!(c.check_record("app", &[], &bad), (true, vec![]));
    }

    #[test]
    fn each_mismatch_is_new_once_and_the_memory_is_bounded() {
        let d = Declared::new(&description());
        let mut seen = Seen::default();
        let points: Vec<Point> = (0..3)
            .map(|_| point("disk", &[], &[("free", FieldValue::Int(1))]))
            .collect();
        let (bad, new) = check_points(&d, &points, &mut seen);
        assert_eq!((bad, new.len()), (3, 1));
        let (bad, new) = check_points(&d, &points, &mut seen);
        assert_eq!((bad, new.len()), (3, 0));
        let many: Vec<Point> = (0..SEEN_MAX + 10)
            .map(|i| point(&format!("m{i}"), &[], &[("f", FieldValue::Int(1))]))
            .collect();
        let (bad, new) = check_points(&d, &many, &mut seen);
        assert_eq!(bad, (SEEN_MAX + 10) as u64);
        assert_eq!(new.len(), SEEN_MAX - 1);
    }
}

//! The golden vectors of the pipeline record encoding (`testdata/records/`, the format in
//! docs/record-encoding.md) read by the host's `RecordReader`: every valid vector decodes to its
//! expected records, every invalid one is refused at the byte and for the reason it names, and
//! cut or damaged copies of the valid ones are refused without a panic.

use sandkit_io::records::{FieldRef, Item, RecordReader, MAX_RECORDS_PER_LINE};
use serde_json::Value;
use std::path::PathBuf;

fn testdata(name: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/records")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    v.as_array().unwrap().clone()
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A case's batch: the lines concatenated, and where each starts.
struct Batch {
    lines: Vec<String>,
    data: String,
    starts: Vec<usize>,
}

fn batch(case: &Value) -> Batch {
    let lines: Vec<String> = case["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    let mut starts = Vec::new();
    let mut data = String::new();
    for l in &lines {
        starts.push(data.len());
        data.push_str(l);
    }
    Batch {
        lines,
        data,
        starts,
    }
}

/// What one expected item reads as; references resolved against the record's line.
#[derive(Debug, PartialEq)]
enum Expected {
    Tag(String, String),
    Text(String, String),
    Int(String, i64),
    Uint(String, u64),
    /// Compared by bits (NaN, -0.0).
    Float(String, u64),
    Bool(String, bool),
    Measurement(String),
}

fn float_bits(v: &Value) -> u64 {
    match v {
        Value::Object(o) => u64::from_str_radix(o["bits"].as_str().unwrap(), 16).unwrap(),
        v => v.as_f64().unwrap().to_bits(),
    }
}

fn expected(item: &Value, line: &str) -> Expected {
    let item = item.as_array().unwrap();
    let (kind, key, v) = (
        item[0].as_str().unwrap(),
        item[1].as_str().unwrap().to_string(),
        &item[2],
    );
    let span = || {
        let (s, e) = (
            v[0].as_u64().unwrap() as usize,
            v[1].as_u64().unwrap() as usize,
        );
        line.get(s..e)
            .unwrap_or_else(|| panic!("span {s}..{e} of {line:?}"))
            .to_string()
    };
    match kind {
        "tag" => Expected::Tag(key, v.as_str().unwrap().to_string()),
        "tag_ref" => Expected::Tag(key, span()),
        "text" => Expected::Text(key, v.as_str().unwrap().to_string()),
        "text_ref" => Expected::Text(key, span()),
        "int" => Expected::Int(key, v.as_i64().unwrap()),
        "uint" => Expected::Uint(key, v.as_u64().unwrap()),
        "float" => Expected::Float(key, float_bits(v)),
        "bool" => Expected::Bool(key, v.as_bool().unwrap()),
        "measurement" => {
            assert_eq!(key, "", "a measurement item has an empty key");
            Expected::Measurement(v.as_str().unwrap().to_string())
        }
        k => panic!("unknown kind {k:?} in the vectors"),
    }
}

fn read(item: &Item<'_>) -> Expected {
    match *item {
        Item::Tag(k, v) => Expected::Tag(k.into(), v.into()),
        Item::Field(k, FieldRef::Text(v)) => Expected::Text(k.into(), v.into()),
        Item::Field(k, FieldRef::Int(x)) => Expected::Int(k.into(), x),
        Item::Field(k, FieldRef::Uint(x)) => Expected::Uint(k.into(), x),
        Item::Field(k, FieldRef::Float(x)) => Expected::Float(k.into(), x.to_bits()),
        Item::Field(k, FieldRef::Bool(x)) => Expected::Bool(k.into(), x),
        Item::Measurement(m) => Expected::Measurement(m.into()),
    }
}

/// The size of an item in the encoding, from its expectation.
fn item_size(item: &Value) -> usize {
    let item = item.as_array().unwrap();
    let key = item[1].as_str().unwrap().len();
    3 + key
        + match item[0].as_str().unwrap() {
            "tag" | "text" | "measurement" => 4 + item[2].as_str().unwrap().len(),
            "tag_ref" | "text_ref" | "int" | "uint" | "float" => 8,
            "bool" => 1,
            k => panic!("unknown kind {k:?}"),
        }
}

/// Where each record ends in the output (the offsets a cut output is valid at).
fn record_ends(case: &Value) -> Vec<usize> {
    let mut at = 4;
    let mut ends = vec![at];
    for r in case["records"].as_array().unwrap() {
        at += 15
            + r["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(item_size)
                .sum::<usize>();
        ends.push(at);
    }
    ends
}

#[test]
fn the_golden_vectors_read_as_expected() {
    let cases = testdata("golden.json");
    assert!(cases.len() >= 10);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let b = batch(case);
        let out = unhex(case["hex"].as_str().unwrap());
        assert_eq!(
            *record_ends(case).last().unwrap(),
            out.len(),
            "{name}: the hex is not as long as its records"
        );
        let want = case["records"].as_array().unwrap();
        let mut reader = RecordReader::new(&out, &b.data, b.lines.len()).unwrap();
        let mut n = 0;
        while let Some(rec) = reader.next_record() {
            let (h, items) = rec.unwrap_or_else(|e| panic!("{name}: {e}"));
            let w = want
                .get(n)
                .unwrap_or_else(|| panic!("{name}: more records than expected"));
            let line = w["line"].as_u64().unwrap() as usize;
            assert_eq!(h.line as usize, line, "{name}: record {n}");
            assert_eq!(h.time, w["time"].as_i64(), "{name}: record {n}");
            assert_eq!(
                h.keep_message,
                w["keep_message"].as_bool().unwrap(),
                "{name}: record {n}"
            );
            let got: Vec<Expected> = items.iter().map(read).collect();
            let exp: Vec<Expected> = w["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| expected(i, &b.lines[line]))
                .collect();
            assert_eq!(got, exp, "{name}: record {n}");
            n += 1;
        }
        assert_eq!(n, want.len(), "{name}: records");
        assert_eq!(
            RecordReader::validate(&out, &b.data, b.lines.len()),
            Ok(want.len()),
            "{name}"
        );
    }
}

/// The references of the vectors are written against the batch (each line's start added to the
/// offsets within the line): check one by hand, so that a vector and a reader cannot agree on
/// line-relative offsets by mistake.
#[test]
fn references_are_offsets_into_the_whole_batch() {
    let cases = testdata("golden.json");
    let case = cases
        .iter()
        .find(|c| c["name"] == "non-ASCII references")
        .unwrap();
    let b = batch(case);
    assert_eq!(b.starts, [0, 13, 35]);
    let out = unhex(case["hex"].as_str().unwrap());
    // The last record (line 2, "🦀 crab"): its first item is text_ref "emoji" = line[0..4], the
    // batch's bytes 35..39.
    let at = record_ends(case)[2];
    assert_eq!(&out[at..at + 4], 2u32.to_le_bytes());
    let item = at + 15;
    assert_eq!(out[item], 3, "kind text_ref");
    assert_eq!(&out[item + 1..item + 3], 5u16.to_le_bytes());
    assert_eq!(&out[item + 3..item + 8], b"emoji");
    assert_eq!(&out[item + 8..item + 12], 35u32.to_le_bytes());
    assert_eq!(&out[item + 12..item + 16], 4u32.to_le_bytes());
    assert_eq!(&b.data[35..39], "🦀");
}

#[test]
fn the_invalid_vectors_are_refused_where_they_say() {
    let cases = testdata("invalid.json");
    assert!(cases.len() >= 10);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let b = batch(case);
        let out = unhex(case["hex"].as_str().unwrap());
        let e = RecordReader::validate(&out, &b.data, b.lines.len())
            .expect_err(&format!("{name}: accepted"));
        assert_eq!(e.at as u64, case["at"].as_u64().unwrap(), "{name}: {e}");
        let reason = case["reason"].as_str().unwrap();
        assert!(e.reason.contains(reason), "{name}: {e}");
        assert_eq!(
            e.over_limit,
            case["over_limit"].as_bool().unwrap(),
            "{name}: {e}"
        );
    }
}

/// Every prefix of a valid output is either the records before a record boundary or an error;
/// every byte replaced by 0xff or 0x00 gives a result, never a panic.
#[test]
fn cut_and_damaged_vectors_are_errors_not_panics() {
    for case in &testdata("golden.json") {
        let name = case["name"].as_str().unwrap();
        let b = batch(case);
        let out = unhex(case["hex"].as_str().unwrap());
        let ends = record_ends(case);
        for cut in 0..out.len() {
            let r = RecordReader::validate(&out[..cut], &b.data, b.lines.len());
            match ends.iter().position(|&e| e == cut) {
                Some(records) => assert_eq!(r, Ok(records), "{name}: cut at {cut}"),
                None => {
                    let e = r.expect_err(&format!("{name}: cut at {cut} accepted"));
                    assert!(e.at <= cut, "{name}: cut at {cut}: {e}");
                }
            }
        }
        for at in 0..out.len() {
            for byte in [0x00, 0xff] {
                let mut bad = out.clone();
                bad[at] = byte;
                let _ = RecordReader::validate(&bad, &b.data, b.lines.len());
            }
        }
        // The same output against a batch with one line fewer, or no text: refused or read,
        // never a panic.
        let _ = RecordReader::validate(&out, &b.data, b.lines.len().saturating_sub(1));
        let _ = RecordReader::validate(&out, "", b.lines.len());
    }
}

/// The per-line record limit, too long to keep as a vector: 1,000 records of one line are
/// read, the 1,001st is refused as over the limit, at its first byte.
#[test]
fn more_than_max_records_per_line_is_over_the_limit() {
    // 16 empty lines: a budget of 16 x 4096 bytes, more than 1,001 records x 64.
    let lines = 16;
    let mut out = b"SKR1".to_vec();
    let empty_record = [0u8; 15]; // line 0, no flags, time 0, no items
    for _ in 0..MAX_RECORDS_PER_LINE {
        out.extend_from_slice(&empty_record);
    }
    assert_eq!(
        RecordReader::validate(&out, "", lines),
        Ok(MAX_RECORDS_PER_LINE)
    );
    let at = out.len();
    out.extend_from_slice(&empty_record);
    let e = RecordReader::validate(&out, "", lines).unwrap_err();
    assert!(e.over_limit, "{e}");
    assert_eq!(e.at, at, "{e}");
    assert!(
        e.reason.contains("line 0 has more than 1000 records"),
        "{e}"
    );
    // Records of other lines do not count against line 0.
    let mut other = out[..at].to_vec();
    let mut rec = empty_record;
    rec[..4].copy_from_slice(&1u32.to_le_bytes());
    other.extend_from_slice(&rec);
    assert_eq!(
        RecordReader::validate(&other, "", lines),
        Ok(MAX_RECORDS_PER_LINE + 1)
    );
}

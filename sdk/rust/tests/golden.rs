//! The golden vectors of the pipeline record encoding (`testdata/records/golden.json`, the format
//! in docs/record-encoding.md), written with the public `Records` API: every case gives exactly
//! its bytes. References are written the way a pipeline writes them, by passing slices of the
//! batch's lines (the writer notices them by address).

use sandkit_sdk::records::{Batch, Records};
use serde_json::Value;
use std::path::PathBuf;

fn cases() -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/records/golden.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match serde_json::from_str(&text).expect("golden.json is JSON") {
        Value::Array(cases) => cases,
        v => panic!("golden.json is not a list: {v}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn float(v: &Value) -> f64 {
    match v {
        Value::Object(o) => f64::from_bits(
            u64::from_str_radix(o["bits"].as_str().expect("bits"), 16).expect("hex bits"),
        ),
        v => v.as_f64().expect("a float"),
    }
}

/// The bytes a case's records give when written with the SDK.
fn write(case: &Value) -> Vec<u8> {
    let lines: Vec<&str> = case["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| l.as_str().expect("a line"))
        .collect();
    let data: String = lines.concat();
    let mut ends = Vec::new();
    let mut end = 0u32;
    for l in &lines {
        end += l.len() as u32;
        ends.push(end);
    }
    let batch = Batch::new("golden", &data, &ends).expect("a batch");
    let mut out = Records::new(&batch, 0);
    for r in case["records"].as_array().expect("records") {
        let i = r["line"].as_u64().expect("line") as usize;
        // A slice of the batch's data, as a pipeline has it.
        let line = batch.line(i);
        out.set_line(i);
        let mut rec = out.record();
        if let Some(t) = r["time"].as_i64() {
            rec.time_ns(t);
        }
        if r["keep_message"].as_bool().expect("keep_message") {
            rec.keep_message();
        }
        let items = r.get("writer_items").unwrap_or(&r["items"]);
        for item in items.as_array().expect("items") {
            let item = item.as_array().expect("an item");
            let (kind, key, v) = (
                item[0].as_str().expect("kind"),
                item[1].as_str().expect("key"),
                &item[2],
            );
            let span = || {
                let s = v[0].as_u64().expect("start") as usize;
                let e = v[1].as_u64().expect("end") as usize;
                &line[s..e]
            };
            // Inline values come from the JSON, never from the batch: they are written inline.
            match kind {
                "tag" => rec.tag(key, v.as_str().expect("text")),
                "tag_ref" => rec.tag(key, span()),
                "text" => rec.field(key, v.as_str().expect("text")),
                "text_ref" => rec.field(key, span()),
                "int" => rec.field(key, v.as_i64().expect("i64")),
                "uint" => rec.field(key, v.as_u64().expect("u64")),
                "float" => rec.field(key, float(v)),
                "bool" => rec.field(key, v.as_bool().expect("bool")),
                "measurement" => rec.measurement(v.as_str().expect("text")),
                k => panic!("unknown kind {k:?}"),
            };
        }
    }
    out.into_bytes()
}

#[test]
fn the_sdk_writes_the_golden_vectors() {
    let cases = cases();
    assert!(cases.len() >= 10, "{} cases", cases.len());
    for case in &cases {
        let name = case["name"].as_str().expect("name");
        assert_eq!(
            hex(&write(case)),
            case["hex"].as_str().expect("hex"),
            "{name}"
        );
    }
}

/// A slice of another line of the batch is a reference too (offsets into the whole batch), and
/// a copy of the line's text is not.
#[test]
fn references_are_found_by_address_not_by_content() {
    let data = "ab";
    let batch = Batch::new("golden", data, &[1, 2]).expect("a batch");
    let mut out = Records::new(&batch, 0);
    out.set_line(0);
    let copy = String::from("b");
    out.record().tag("other", batch.line(1)).tag("copy", &copy);
    let b = out.into_bytes();
    let want = concat!(
        "534b5231",
        "00000000",
        "00",
        "0000000000000000",
        "0200",
        "020500", // tag_ref "other"
        "6f74686572",
        "01000000",
        "01000000",
        "000400", // tag "copy", inline
        "636f7079",
        "01000000",
        "62",
    );
    assert_eq!(hex(&b), want);
}

//! Test pipeline that writes its record output by hand (not through the SDK's writer), to show
//! what the host does with outputs a careless or hostile guest can return. For a batch with a
//! line holding:
//! - `MALFORMED`: the magic and then bytes that are no record;
//! - `GIANT`: 10,000 records for that line, each with a text field referring to the whole batch
//!   text (a 100 KB batch would expand to 1 GB);
//! - `MANY`: 2,000 empty records for that line;
//!
//! and otherwise one record per line with its text as `message`.
use sandkit_sdk::pipeline_bindings::sandkit::plugin::pipeline_types::LineBatch;
use sandkit_sdk::{Config, PluginInfo, Records};

struct BadRecords;

impl sandkit_sdk::Pipeline for BadRecords {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "badrecords",
            "0.1.0",
            "returns malformed and oversized record outputs, for tests",
        )
    }
    fn init(_config: Config) -> Result<Self, String> {
        Ok(BadRecords)
    }
    fn process_line(&mut self, _line: &str, _out: &mut Records) {}
}

const MAGIC: &[u8] = b"SKR1";
const TEXT_REF: u8 = 3;

/// One record for `line` with `items` (already encoded).
fn record(out: &mut Vec<u8>, line: u32, items: &[(u8, &str, u32, u32)]) {
    out.extend_from_slice(&line.to_le_bytes());
    out.push(0);
    out.extend_from_slice(&0i64.to_le_bytes());
    out.extend_from_slice(&(items.len() as u16).to_le_bytes());
    for (kind, key, start, len) in items {
        out.push(*kind);
        out.extend_from_slice(&(key.len() as u16).to_le_bytes());
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(&start.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
    }
}

struct Export;

impl sandkit_sdk::pipeline_bindings::Guest for Export {
    fn describe() -> sandkit_sdk::bindings::sandkit::plugin::types::PluginInfo {
        sandkit_sdk::__private::describe_pipeline::<BadRecords>()
    }
    fn init(config: String) -> Result<(), String> {
        sandkit_sdk::__private::init_pipeline::<BadRecords>(config)
    }
    fn process(batch: LineBatch) -> Result<Vec<u8>, String> {
        let mut out = MAGIC.to_vec();
        let all = batch.data.len() as u32;
        let mut start = 0u32;
        for (i, &end) in batch.ends.iter().enumerate() {
            let line = &batch.data[start as usize..end as usize];
            let i = i as u32;
            if line.contains("MALFORMED") {
                out.extend_from_slice(b"\xff\xff\xff\xffnot a record");
                return Ok(out);
            } else if line.contains("GIANT") {
                for _ in 0..10_000 {
                    record(&mut out, i, &[(TEXT_REF, "message", 0, all)]);
                }
            } else if line.contains("MANY") {
                for _ in 0..2_000 {
                    record(&mut out, i, &[]);
                }
            } else {
                record(&mut out, i, &[(TEXT_REF, "message", start, end - start)]);
            }
            start = end;
        }
        Ok(out)
    }
}

sandkit_sdk::pipeline_bindings::export_pipeline_world!(Export);

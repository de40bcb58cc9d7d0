//! Arbitrary bytes into the pipeline record reader (what a guest's `process` returns): it must
//! not panic, and what it accepts stays within the output limits.
//!
//! Shared by the fuzz target and the corpus replay in `make test`.

use sandkit_io::records::{Item, RecordReader, MAX_RECORDS_PER_LINE};

/// Panics when the property does not hold for `data`.
pub fn check(data: &[u8]) {
    // Byte 0: lines in the batch (1-16); bytes 1-2: length of the batch text; then the text
    // (made UTF-8), then the output.
    if data.len() < 3 {
        return;
    }
    let lines = usize::from(data[0] % 16) + 1;
    let n = usize::from(u16::from_le_bytes([data[1], data[2]])).min(data.len() - 3);
    let text = String::from_utf8_lossy(&data[3..3 + n]).into_owned();
    let output = &data[3 + n..];
    let Ok(mut reader) = RecordReader::new(output, &text, lines) else {
        return;
    };
    let mut per_line = vec![0usize; lines];
    while let Some(r) = reader.next_record() {
        let Ok((h, items)) = r else {
            break;
        };
        let line = h.line as usize;
        assert!(line < lines);
        per_line[line] += 1;
        assert!(per_line[line] <= MAX_RECORDS_PER_LINE);
        for item in items {
            if let Item::Measurement(m) = item {
                assert!(!m.is_empty());
            }
        }
    }
}

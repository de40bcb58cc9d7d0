//! The fuzz corpora (`host/io/fuzz/corpus/<target>/`), replayed through the same checks the
//! fuzz targets run (`host/io/fuzz/checks/`): every input a fuzzing run kept stays a test.
//! How they were run and what they found is in docs/performance.md, "Fuzzing".

#[allow(dead_code)]
#[path = "../../fuzz/checks/lpdecode.rs"]
mod lpdecode;
#[allow(dead_code)]
#[path = "../../fuzz/checks/promwrite.rs"]
mod promwrite;
#[allow(dead_code)]
#[path = "../../fuzz/checks/records.rs"]
mod records;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        if let Err(e) = std::panic::catch_unwind(|| check(&data)) {
            panic!("{}: {e:?}", path.display());
        }
        n += 1;
    }
    assert!(n > 0, "an empty corpus at {}", dir.display());
}

#[test]
fn the_line_protocol_corpus_holds() {
    replay("lpdecode", lpdecode::check);
}

#[test]
fn the_record_reader_corpus_holds() {
    replay("records", records::check);
}

#[test]
fn the_remote_write_corpus_holds() {
    replay("promwrite", promwrite::check);
}

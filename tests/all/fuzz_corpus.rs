//! The config fuzz corpus (`host/runtime/fuzz/corpus/config/`), replayed through the check the
//! fuzz target runs: every input a fuzzing run kept stays a test. The line protocol, record
//! and remote-write corpora are replayed by host/io's tests.

#[allow(dead_code)]
#[path = "../../host/runtime/fuzz/checks/config.rs"]
mod config;

#[test]
fn the_config_corpus_holds() {
    let dir = sandkit_tests::repo_root().join("host/runtime/fuzz/corpus/config");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        if let Err(e) = std::panic::catch_unwind(|| config::check(&data)) {
            panic!("{}: {e:?}", path.display());
        }
        n += 1;
    }
    assert!(n > 0, "an empty corpus at {}", dir.display());
}

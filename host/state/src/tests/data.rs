//! Reads, writes, scans and batches.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use super::{off, raw_get, raw_put, Offset};
use crate::migrate::stored_version;
use crate::{Batch, Family, StateError, Store, SCHEMA_VERSION};

#[test]
fn store_is_cheap_to_share_across_threads() {
    fn assert_send_sync_clone<T: Send + Sync + Clone>() {}
    assert_send_sync_clone::<Store>();
}

#[test]
fn put_get_delete_per_family_and_families_are_separate() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for (i, fam) in Family::ALL.into_iter().enumerate() {
        assert_eq!(store.get::<Offset>(fam, "k").unwrap(), None);
        store.put(fam, "k", &off(i as u64)).unwrap();
    }
    for (i, fam) in Family::ALL.into_iter().enumerate() {
        assert_eq!(store.get(fam, "k").unwrap(), Some(off(i as u64)));
    }
    store.put(Family::Instances, "k", &off(99)).unwrap();
    store.delete(Family::Tasks, "k").unwrap();
    store.delete(Family::Tasks, "never-there").unwrap();
    assert_eq!(store.get::<Offset>(Family::Tasks, "k").unwrap(), None);
    assert_eq!(store.get(Family::Instances, "k").unwrap(), Some(off(99)));
    assert_eq!(store.get(Family::Offsets, "k").unwrap(), Some(off(2)));
    assert!(store.scan::<Offset>(Family::Tasks, "").unwrap().is_empty());
    assert_eq!(
        store.scan::<Offset>(Family::Offsets, "").unwrap(),
        vec![("k".to_owned(), off(2))]
    );
    // Keys are stored under the version prefix.
    let db = store.raw();
    assert!(raw_get(db, "offsets", "v1/k").is_some());
    assert!(raw_get(db, "offsets", "k").is_none());
}

#[test]
fn scan_returns_the_prefix_in_key_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for key in [
        "task2/b", "task1/z", "task1/a", "task10/a", "task1", "other", "task1/m",
    ] {
        store.put(Family::Instances, key, key).unwrap();
    }
    store.put(Family::Offsets, "task1/x", "elsewhere").unwrap();
    // A key of another layout version is not seen.
    raw_put(store.raw(), "instances", "v2/task1/new", b"\"v2\"");
    let got: Vec<(String, String)> = store.scan(Family::Instances, "task1/").unwrap();
    let keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["task1/a", "task1/m", "task1/z"]);
    assert!(got.iter().all(|(k, v)| k == v));
    let all: Vec<(String, String)> = store.scan(Family::Instances, "").unwrap();
    let keys: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["other", "task1", "task1/a", "task1/m", "task1/z", "task10/a", "task2/b"]
    );
    assert!(store
        .scan::<String>(Family::Instances, "nothing")
        .unwrap()
        .is_empty());
}

#[test]
fn a_batch_applies_all_its_operations_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.put(Family::Instances, "old", &off(1)).unwrap();

    let mut batch = Batch::new();
    assert!(batch.is_empty());
    batch.put(Family::Tasks, "t", "task").unwrap();
    batch.put(Family::Instances, "new", &off(2)).unwrap();
    batch.put(Family::Offsets, "new", &off(3)).unwrap();
    batch.delete(Family::Instances, "old");
    // A value that cannot be encoded fails at `put` and leaves the batch as it was.
    let bad: HashMap<Vec<u8>, u8> = HashMap::from([(vec![1], 1)]);
    let err = batch.put(Family::Tasks, "bad", &bad).unwrap_err();
    assert!(matches!(err, StateError::Encode { .. }), "{err}");
    assert!(err.to_string().contains("tasks/bad"), "{err}");
    assert_eq!(batch.len(), 4);
    // Nothing is visible before the batch is written.
    assert_eq!(store.get::<String>(Family::Tasks, "t").unwrap(), None);
    assert_eq!(store.get(Family::Instances, "old").unwrap(), Some(off(1)));

    store.write(batch).unwrap();
    assert_eq!(
        store.get(Family::Tasks, "t").unwrap(),
        Some("task".to_owned())
    );
    assert_eq!(store.get(Family::Instances, "new").unwrap(), Some(off(2)));
    assert_eq!(store.get(Family::Offsets, "new").unwrap(), Some(off(3)));
    assert_eq!(store.get::<Offset>(Family::Instances, "old").unwrap(), None);
    assert_eq!(store.get::<Offset>(Family::Tasks, "bad").unwrap(), None);
    store.write(Batch::new()).unwrap();
}

#[test]
fn reopen_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let clone = store.clone();
        store.put(Family::Offsets, "f1", &off(10)).unwrap();
        clone.put(Family::Tasks, "t1", "task one").unwrap();
        store.put(Family::Offsets, "gone", &off(0)).unwrap();
        store.delete(Family::Offsets, "gone").unwrap();
        store.sync().unwrap();
        store.put(Family::Offsets, "f2", &off(20)).unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.get(Family::Offsets, "f1").unwrap(), Some(off(10)));
    assert_eq!(store.get(Family::Offsets, "f2").unwrap(), Some(off(20)));
    assert_eq!(
        store.get(Family::Tasks, "t1").unwrap(),
        Some("task one".to_owned())
    );
    assert_eq!(store.get::<Offset>(Family::Offsets, "gone").unwrap(), None);
    assert_eq!(
        stored_version(store.raw(), dir.path()).unwrap(),
        Some(SCHEMA_VERSION)
    );
}

/// Captures what `tracing` logs while `f` runs.
fn logged<R>(f: impl FnOnce() -> R) -> (R, String) {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    (out, text)
}

#[test]
fn a_corrupt_value_is_skipped_by_scan_and_named_by_get() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.put(Family::Offsets, "a", &off(1)).unwrap();
    store.put(Family::Offsets, "b", &off(2)).unwrap();
    store.put(Family::Offsets, "c", &off(3)).unwrap();
    raw_put(store.raw(), "offsets", "v1/b", b"{not json");
    // A value of another shape does not decode either.
    store.put(Family::Offsets, "d", "a string").unwrap();

    let (got, log) = logged(|| store.scan::<Offset>(Family::Offsets, "").unwrap());
    assert_eq!(
        got,
        vec![("a".to_owned(), off(1)), ("c".to_owned(), off(3))]
    );
    assert!(log.contains("WARN"), "{log}");
    assert!(
        log.contains("family=\"offsets\"") || log.contains("family=offsets"),
        "{log}"
    );
    assert!(log.contains("key=\"b\"") || log.contains("key=b"), "{log}");
    assert!(log.contains("key=\"d\"") || log.contains("key=d"), "{log}");

    let err = store.get::<Offset>(Family::Offsets, "b").unwrap_err();
    assert!(matches!(err, StateError::Decode { .. }), "{err}");
    assert!(
        err.to_string().starts_with("cannot decode offsets/b: "),
        "{err}"
    );
    assert_eq!(store.get(Family::Offsets, "c").unwrap(), Some(off(3)));
}

//! Opening: the store lock, schema versions and migrations.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use rocksdb::{WriteBatch, DB};

use super::{off, raw_get, raw_put, Offset};
use crate::db::{family_handle, open_db};
use crate::migrate::{stored_version, Migration, META, SCHEMA_KEY};
use crate::{Family, StateError, Store, SCHEMA_VERSION};

fn assert_in_use(err: StateError, dir: &Path) {
    assert!(matches!(err, StateError::InUse { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "state store {} is in use by another process \
             (is another sandkit running with the same data_dir?)",
            dir.display()
        )
    );
}

#[test]
fn a_second_open_in_the_same_process_is_refused_as_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_in_use(Store::open(dir.path()).unwrap_err(), dir.path());
    drop(store);
    Store::open(dir.path()).unwrap();
}

const HOLD_ENV: &str = "SANDKIT_STATE_TEST_HOLD";
/// What the child prints once it holds the store. libtest may print `test <name> ... ` on the
/// same line before it, so the parent looks for it anywhere in a line.
const HOLDING: &str = "SANDKIT-STATE-CHILD-HOLDS-THE-STORE";

/// Not a test of its own: the child of `an_open_by_another_process_is_refused_as_in_use`, which
/// runs this test binary again to hold the store open in another process.
#[test]
#[ignore = "run as a child process by an_open_by_another_process_is_refused_as_in_use"]
fn hold_store_open_child() {
    let Some(dir) = std::env::var_os(HOLD_ENV) else {
        return;
    };
    let _store = Store::open(Path::new(&dir)).unwrap();
    println!("\n{HOLDING}");
    // Hold the store until the parent closes our stdin.
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

#[test]
fn an_open_by_another_process_is_refused_as_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tests::open::hold_store_open_child",
            "--ignored",
            "--nocapture",
        ])
        .args(["--test-threads", "1"])
        .env(HOLD_ENV, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let holding = lines.any(|line| line.unwrap().contains(HOLDING));
    assert!(holding, "the child did not open the store");
    let err = Store::open(dir.path()).unwrap_err();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    assert_in_use(err, dir.path());
    Store::open(dir.path()).unwrap();
}

#[test]
fn a_store_with_a_newer_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    {
        let db = open_db(dir.path()).unwrap();
        let newer = (SCHEMA_VERSION + 1).to_string();
        raw_put(&db, META, SCHEMA_KEY, newer.as_bytes());
    }
    let err = Store::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, StateError::SchemaTooNew { found, known, .. }
            if found == SCHEMA_VERSION + 1 && known == SCHEMA_VERSION),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    assert!(message.contains("newer than version 1"), "{message}");
    // The refused store is left as it was.
    let db = open_db(dir.path()).unwrap();
    assert_eq!(
        stored_version(&db, dir.path()).unwrap(),
        Some(SCHEMA_VERSION + 1)
    );
}

/// A fake schema version 0 for the migration test: offsets under bare keys (no `v1/`), each a
/// bare JSON number. Version 1 keeps them under `v1/<key>` as an [`Offset`].
fn migrate_0_to_1(db: &DB, batch: &mut WriteBatch) -> Result<(), StateError> {
    let cf = family_handle(db, Path::new("test"), "offsets")?;
    for item in db.iterator_cf(cf, rocksdb::IteratorMode::Start) {
        let (key, value) = item.unwrap();
        if key.starts_with(b"v1/") {
            continue;
        }
        let key = std::str::from_utf8(&key).unwrap();
        let offset: u64 = serde_json::from_slice(&value).map_err(|source| StateError::Decode {
            family: "offsets",
            key: key.to_owned(),
            source,
        })?;
        let new = serde_json::to_vec(&off(offset)).unwrap();
        batch.put_cf(cf, crate::versioned(key), new);
        batch.delete_cf(cf, key);
    }
    Ok(())
}

/// Writes a version-0 store: schema_version 0 and offsets in the old layout.
fn write_version_0_store(dir: &Path, offsets: &[(&str, &[u8])]) {
    let db = open_db(dir).unwrap();
    raw_put(&db, META, SCHEMA_KEY, b"0");
    for (key, value) in offsets {
        raw_put(&db, "offsets", key, value);
    }
}

#[test]
fn open_migrates_an_older_layout_step_by_step() {
    let step = Migration {
        from: 0,
        name: "offsets to v1 keys",
        run: migrate_0_to_1,
    };
    let dir = tempfile::tempdir().unwrap();
    write_version_0_store(dir.path(), &[("f1", b"10"), ("f2", b"20")]);

    // No migration from version 0: refused, and the store is left at version 0.
    let err = Store::open_with(dir.path(), 1, &[]).unwrap_err();
    assert!(
        matches!(err, StateError::NoMigration { from: 0, .. }),
        "{err}"
    );
    assert_eq!(
        stored_version(&open_db(dir.path()).unwrap(), dir.path()).unwrap(),
        Some(0)
    );

    let store = Store::open_with(dir.path(), 1, std::slice::from_ref(&step)).unwrap();
    assert_eq!(
        store.scan::<Offset>(Family::Offsets, "").unwrap(),
        vec![("f1".to_owned(), off(10)), ("f2".to_owned(), off(20))]
    );
    assert_eq!(raw_get(store.raw(), "offsets", "f1"), None);
    assert_eq!(stored_version(store.raw(), dir.path()).unwrap(), Some(1));
    drop(store);
    // Once migrated, a plain open of this build is happy with it.
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.get(Family::Offsets, "f2").unwrap(), Some(off(20)));
}

#[test]
fn a_failed_migration_leaves_the_store_untouched() {
    let step = Migration {
        from: 0,
        name: "offsets to v1 keys",
        run: migrate_0_to_1,
    };
    let dir = tempfile::tempdir().unwrap();
    write_version_0_store(dir.path(), &[("f1", b"10"), ("f2", b"not a number")]);
    let err = Store::open_with(dir.path(), 1, std::slice::from_ref(&step)).unwrap_err();
    assert!(
        matches!(err, StateError::Migration { from: 0, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("cannot decode offsets/f2"),
        "{err}"
    );
    let db = open_db(dir.path()).unwrap();
    assert_eq!(stored_version(&db, dir.path()).unwrap(), Some(0));
    assert_eq!(raw_get(&db, "offsets", "f1"), Some(b"10".to_vec()));
    assert_eq!(raw_get(&db, "offsets", "v1/f1"), None);
}

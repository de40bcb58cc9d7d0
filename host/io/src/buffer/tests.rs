use super::*;
use std::io::Write;

fn cfg(max: u64, seg: u64) -> QueueConfig {
    QueueConfig {
        max_bytes: max,
        segment_bytes: seg,
        fsync: false,
    }
}

fn drain(q: &mut DiskQueue) -> Vec<(u32, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(r) = q.peek().unwrap() {
        q.commit(r.pos, r.next);
        out.push((r.points, r.body));
    }
    out
}

fn body(i: u32) -> Vec<u8> {
    format!("m v={i}i\n")
        .repeat(1 + i as usize % 7)
        .into_bytes()
}

#[test]
fn fifo_across_segments_and_reopen() {
    let d = tempfile::tempdir().unwrap();
    let mut q = DiskQueue::open(d.path(), cfg(1 << 30, 256)).unwrap();
    assert!(q.is_empty());
    for i in 0..100 {
        q.append(i, &body(i)).unwrap();
    }
    assert!(q.segments.len() > 5, "{}", q.segments.len());
    // Read half, reopen, read the rest: order kept, nothing twice.
    let mut got = Vec::new();
    for _ in 0..50 {
        let r = q.peek().unwrap().unwrap();
        q.commit(r.pos, r.next);
        got.push(r.points);
    }
    drop(q);
    let mut q = DiskQueue::open(d.path(), cfg(1 << 30, 256)).unwrap();
    got.extend(drain(&mut q).into_iter().map(|(p, b)| {
        assert_eq!(b, body(p));
        p
    }));
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    assert!(q.is_empty());
    // Delivered segments are deleted; appends go on after a drain.
    let segs = std::fs::read_dir(d.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "seg")
        })
        .count();
    assert_eq!(segs, 1);
    q.append(7, b"x").unwrap();
    assert_eq!(drain(&mut q), vec![(7, b"x".to_vec())]);
}

#[test]
fn torn_tail_is_cut_and_appends_continue() {
    let d = tempfile::tempdir().unwrap();
    let mut q = DiskQueue::open(d.path(), cfg(1 << 30, 1 << 20)).unwrap();
    for i in 0..10 {
        q.append(i, &body(i)).unwrap();
    }
    drop(q);
    // A kill -9 in the middle of an append: half a record at the end.
    let seg = d.path().join(seg_name(1));
    let full = std::fs::read(&seg).unwrap();
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(&[40, 0, 0, 0, 1, 2, 3, 4, 9, 0, 0, 0, b'a', b'b'])
        .unwrap();
    drop(f);
    let mut q = DiskQueue::open(d.path(), cfg(1 << 30, 1 << 20)).unwrap();
    assert_eq!(std::fs::read(&seg).unwrap(), full);
    q.append(10, &body(10)).unwrap();
    let got: Vec<u32> = drain(&mut q).into_iter().map(|r| r.0).collect();
    assert_eq!(got, (0..11).collect::<Vec<_>>());
}

#[test]
fn every_truncation_point_recovers_a_prefix() {
    let d = tempfile::tempdir().unwrap();
    let mut q = DiskQueue::open(d.path(), cfg(1 << 30, 1 << 20)).unwrap();
    for i in 0..5 {
        q.append(i, &body(i)).unwrap();
    }
    drop(q);
    let seg = d.path().join(seg_name(1));
    let full = std::fs::read(&seg).unwrap();
    for cut in 0..=full.len() {
        std::fs::write(&seg, &full[..cut]).unwrap();
        let _ = std::fs::remove_file(d.path().join("cursor"));
        let mut q = DiskQueue::open(d.path(), cfg(1 << 30, 1 << 20)).unwrap();
        let got: Vec<u32> = drain(&mut q).into_iter().map(|r| r.0).collect();
        let want = got.len() as u32;
        assert_eq!(got, (0..want).collect::<Vec<_>>(), "cut at {cut}");
    }
}

#[test]
fn corrupt_record_is_skipped_and_counted() {
    let d = tempfile::tempdir().unwrap();
    let mut q = DiskQueue::open(d.path(), cfg(1 << 30, 200)).unwrap();
    for i in 0..20 {
        q.append(i, &body(i)).unwrap();
    }
    // Flip a byte in the body of the first record of the first segment.
    let seg = d.path().join(seg_name(1));
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[MAGIC.len() + HEADER as usize] ^= 0xff;
    std::fs::write(&seg, &bytes).unwrap();
    let got: Vec<u32> = drain(&mut q).into_iter().map(|r| r.0).collect();
    assert!(!got.contains(&0) && got.contains(&19), "{got:?}");
    let lost = q.take_dropped().corrupt_bytes;
    assert_eq!(lost, bytes.len() as u64 - MAGIC_LEN);
}

#[test]
fn cap_drops_oldest_segments_and_counts_them() {
    let d = tempfile::tempdir().unwrap();
    let mut q = DiskQueue::open(d.path(), cfg(2_000, 500)).unwrap();
    let mut dropped = Dropped::default();
    for i in 0..200 {
        dropped.add(q.append(i, &body(i)).unwrap());
    }
    assert!(q.unread_bytes() <= 2_000 + 500, "{}", q.unread_bytes());
    let got: Vec<u32> = drain(&mut q).into_iter().map(|r| r.0).collect();
    // What is left is the newest, in order, and everything else was counted.
    assert_eq!(*got.last().unwrap(), 199);
    assert!(got.windows(2).all(|w| w[1] == w[0] + 1));
    assert_eq!(dropped.overflow_records + got.len() as u64, 200);
    assert_eq!(
        dropped.overflow_points + got.iter().map(|&p| u64::from(p)).sum::<u64>(),
        (0..200u64).sum::<u64>()
    );
}

#[test]
fn commit_of_a_record_dropped_meanwhile_is_ignored() {
    let d = tempfile::tempdir().unwrap();
    let mut q = DiskQueue::open(d.path(), cfg(600, 300)).unwrap();
    q.append(0, &[b'a'; 200]).unwrap();
    let r = q.peek().unwrap().unwrap();
    // While record 0 is being sent, the cap pushes its segment out.
    let mut dropped = Dropped::default();
    for i in 1..10 {
        dropped.add(q.append(i, &[b'b'; 200]).unwrap());
    }
    q.commit(r.pos, r.next);
    let got: Vec<u32> = drain(&mut q).into_iter().map(|r| r.0).collect();
    assert!(!got.is_empty() && !got.contains(&0), "{got:?}");
    assert!(got.windows(2).all(|w| w[1] == w[0] + 1));
    // Record 0 was being sent, so it is not counted as dropped: every other one is either
    // read or counted.
    assert_eq!(
        dropped.overflow_records + got.len() as u64,
        9,
        "{dropped:?}"
    );
}

#[test]
fn new_segments_start_after_a_stale_cursor() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("cursor"), "57 100\n").unwrap();
    let mut q = DiskQueue::open(d.path(), cfg(1 << 30, 256)).unwrap();
    for i in 0..20 {
        q.append(i, &body(i)).unwrap();
    }
    assert_eq!(q.segments.front().unwrap().id, 58);
    drop(q);
    // Reopened without a single commit: nothing is skipped.
    let mut q = DiskQueue::open(d.path(), cfg(1 << 30, 256)).unwrap();
    let got: Vec<u32> = drain(&mut q).into_iter().map(|r| r.0).collect();
    assert_eq!(got, (0..20).collect::<Vec<_>>());
}

#[test]
fn fsync_creates_nested_directories() {
    let d = tempfile::tempdir().unwrap();
    let qdir = d.path().join("a/b/c");
    let mut q = DiskQueue::open(&qdir, QueueConfig::with_cap(1 << 20, true)).unwrap();
    q.append(1, b"x").unwrap();
    drop(q);
    assert_eq!(read_queue(&qdir).unwrap(), vec![(1, b"x".to_vec())]);
}

#[test]
fn read_queue_leaves_the_queue_untouched() {
    let d = tempfile::tempdir().unwrap();
    let qdir = d.path().join("q");
    let mut q = DiskQueue::open(&qdir, cfg(1 << 30, 1 << 20)).unwrap();
    q.append(3, b"abc").unwrap();
    drop(q);
    assert_eq!(read_queue(&qdir).unwrap(), vec![(3, b"abc".to_vec())]);
    assert_eq!(read_queue(&qdir).unwrap().len(), 1);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Any damage to a segment (flipped bytes, a cut) never panics or fails the queue: what
    /// comes out is a subsequence of what went in, in order, byte for byte.
    #[test]
    fn damaged_segments_yield_an_ordered_subset(
        n in 1u32..20,
        flips in proptest::collection::vec((0usize..4096, 0u8..=255), 0..6),
        cut in proptest::option::of(0usize..4096),
    ) {
        let d = tempfile::tempdir().unwrap();
        let mut q = DiskQueue::open(d.path(), cfg(1 << 30, 1 << 20)).unwrap();
        for i in 0..n {
            q.append(i, &body(i)).unwrap();
        }
        drop(q);
        let seg = d.path().join(seg_name(1));
        let mut bytes = std::fs::read(&seg).unwrap();
        for (at, v) in flips {
            if !bytes.is_empty() {
                let at = at % bytes.len();
                bytes[at] ^= v;
            }
        }
        if let Some(c) = cut {
            bytes.truncate(c.min(bytes.len()));
        }
        std::fs::write(&seg, &bytes).unwrap();
        let mut q = DiskQueue::open(d.path(), cfg(1 << 30, 1 << 20)).unwrap();
        let got = drain(&mut q);
        let mut last = None;
        for (p, b) in got {
            proptest::prop_assert!(p < n && b == body(p));
            proptest::prop_assert!(last.is_none_or(|l| l < p));
            last = Some(p);
        }
        // The queue still works after the damage.
        q.append(99, b"after").unwrap();
        proptest::prop_assert_eq!(drain(&mut q), vec![(99, b"after".to_vec())]);
    }
}

//! The sliding window of offsets of one file: batches of records go out in order, their
//! acknowledgements come back in any order, and the offset that may be saved is the end of the
//! last batch such that it and every batch before it are done. After a crash, reading resumes
//! there: records of batches still in flight are read again (the duplicates are bounded by the
//! window), and none is skipped.

use std::collections::VecDeque;

#[derive(Debug)]
pub struct OffsetWindow {
    /// Sequence number of the first entry.
    base: u64,
    /// End offset of each batch in flight, and whether it is done.
    entries: VecDeque<(u64, bool)>,
    committed: u64,
}

impl OffsetWindow {
    pub fn new(committed: u64) -> Self {
        OffsetWindow {
            base: 0,
            entries: VecDeque::new(),
            committed,
        }
    }

    /// A batch ending at `end` went out; returns its sequence number.
    pub fn push(&mut self, end: u64) -> u64 {
        self.entries.push_back((end, false));
        self.base + self.entries.len() as u64 - 1
    }

    /// The batch `seq` is done (delivered, buffered, or given up by the IO layer). Returns the
    /// new offset to save when the window moved.
    pub fn complete(&mut self, seq: u64) -> Option<u64> {
        let i = seq.checked_sub(self.base)?;
        let e = self.entries.get_mut(usize::try_from(i).ok()?)?;
        e.1 = true;
        let mut moved = None;
        while let Some(&(end, true)) = self.entries.front() {
            self.entries.pop_front();
            self.base += 1;
            self.committed = end;
            moved = Some(end);
        }
        moved
    }

    /// Batches out and not yet acknowledged in order.
    pub fn in_flight(&self) -> usize {
        self.entries.len()
    }

    pub fn committed(&self) -> u64 {
        self.committed
    }

    /// Start over at `offset` (the file was truncated): acknowledgements of earlier batches are
    /// ignored from now on.
    pub fn reset(&mut self, offset: u64) {
        self.base += self.entries.len() as u64;
        self.entries.clear();
        self.committed = offset;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_only_the_done_prefix() {
        let mut w = OffsetWindow::new(10);
        let a = w.push(20);
        let b = w.push(30);
        let c = w.push(40);
        assert_eq!(w.complete(b), None);
        assert_eq!(w.committed(), 10);
        assert_eq!(w.complete(a), Some(30));
        assert_eq!(w.in_flight(), 1);
        assert_eq!(w.complete(c), Some(40));
        assert_eq!(w.complete(c), None, "a second ack changes nothing");
    }

    #[test]
    fn acks_from_before_a_reset_are_ignored() {
        let mut w = OffsetWindow::new(0);
        let old = w.push(100);
        w.reset(0);
        let new = w.push(5);
        assert_eq!(w.complete(old), None);
        assert_eq!(w.committed(), 0);
        assert_eq!(w.complete(new), Some(5));
    }

    proptest::proptest! {
        /// In any order of acknowledgements, the committed offset never passes a batch that is
        /// not done, and ends at the last one.
        #[test]
        fn never_passes_an_unacked_batch(order in proptest::strategy::Strategy::prop_shuffle(proptest::strategy::Just((0..20usize).collect::<Vec<_>>()))) {
            use proptest::prelude::*;
            let mut w = OffsetWindow::new(0);
            let seqs: Vec<u64> = (0..20u64).map(|i| w.push((i + 1) * 10)).collect();
            let mut done = [false; 20];
            for &i in &order {
                done[i] = true;
                w.complete(seqs[i]);
                let prefix = done.iter().take_while(|d| **d).count() as u64;
                prop_assert_eq!(w.committed(), prefix * 10);
            }
            prop_assert_eq!(w.committed(), 200);
        }
    }
}

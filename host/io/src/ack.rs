//! Acknowledgements: a source hands records to the IO layer with an [`Ack`] and is told, once,
//! what became of all of them. The file source commits its offsets on this.
//!
//! The records of one send may be cut into several batches (per category, at `max_points`), and
//! a batch may carry records of many sends. Each batch holds a share of every `Ack` it carries;
//! when the last share is done, the source's callback runs with the worst outcome of its
//! batches. A share dropped without an outcome (the writer stopped or panicked) counts as
//! [`AckOutcome::Lost`], so a source never takes lost records for delivered ones.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

/// What became of a source's records, from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AckOutcome {
    /// The output took them (2xx, or written to the file).
    Delivered,
    /// They are in the durable buffer and will be sent when the output is back.
    Buffered,
    /// They were given up for good: refused by the server (4xx), pushed out of a full buffer,
    /// or the output failed without a buffer. Counted and logged; re-sending would not help.
    Dropped,
    /// The agent stopped before their batch finished: the source should send them again.
    Lost,
}

impl AckOutcome {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => AckOutcome::Delivered,
            1 => AckOutcome::Buffered,
            2 => AckOutcome::Dropped,
            _ => AckOutcome::Lost,
        }
    }

    /// Delivered or durably buffered: safe to commit the source's offsets.
    pub fn is_safe(self) -> bool {
        matches!(self, AckOutcome::Delivered | AckOutcome::Buffered)
    }
}

type Callback = Box<dyn FnOnce(AckOutcome) + Send>;

struct State {
    worst: AtomicU8,
    callback: Mutex<Option<Callback>>,
}

impl Drop for State {
    fn drop(&mut self) {
        let cb = self.callback.get_mut().ok().and_then(Option::take);
        if let Some(cb) = cb {
            cb(AckOutcome::from_u8(self.worst.load(Ordering::Acquire)));
        }
    }
}

/// A share of an acknowledgement; see the module docs. The source creates one with
/// [`Ack::new`] and passes it to [`crate::Sink::send_acked`].
pub struct Ack {
    state: Arc<State>,
    done: bool,
}

impl std::fmt::Debug for Ack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ack")
            .field(
                "worst",
                &AckOutcome::from_u8(self.state.worst.load(Ordering::Relaxed)),
            )
            .field("done", &self.done)
            .finish()
    }
}

impl Ack {
    /// `callback` runs once, on the thread that finishes the last batch.
    pub fn new(callback: impl FnOnce(AckOutcome) + Send + 'static) -> Self {
        Ack {
            state: Arc::new(State {
                worst: AtomicU8::new(0),
                callback: Mutex::new(Some(Box::new(callback))),
            }),
            done: false,
        }
    }

    /// An acknowledgement that sends `(id, outcome)` on `tx`.
    pub fn to_channel<T: Send + 'static>(
        tx: tokio::sync::mpsc::UnboundedSender<(T, AckOutcome)>,
        id: T,
    ) -> Self {
        Ack::new(move |o| {
            let _ = tx.send((id, o));
        })
    }

    /// Another share, for one more batch.
    pub(crate) fn share(&self) -> Ack {
        Ack {
            state: self.state.clone(),
            done: false,
        }
    }

    pub(crate) fn same(&self, other: &Ack) -> bool {
        Arc::ptr_eq(&self.state, &other.state)
    }

    /// This share is done with `outcome`.
    pub(crate) fn complete(mut self, outcome: AckOutcome) {
        self.state.worst.fetch_max(outcome as u8, Ordering::AcqRel);
        self.done = true;
    }

    /// This share is done and adds nothing (its records were handed on to other shares).
    pub(crate) fn release(mut self) {
        self.done = true;
    }
}

impl Drop for Ack {
    fn drop(&mut self) {
        if !self.done {
            self.state
                .worst
                .fetch_max(AckOutcome::Lost as u8, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe() -> (Ack, Arc<Mutex<Vec<AckOutcome>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        (Ack::new(move |o| s.lock().unwrap().push(o)), seen)
    }

    #[test]
    fn fires_once_with_the_worst_outcome_after_the_last_share() {
        let (ack, seen) = probe();
        let a = ack.share();
        let b = ack.share();
        ack.release();
        a.complete(AckOutcome::Delivered);
        assert!(seen.lock().unwrap().is_empty());
        b.complete(AckOutcome::Buffered);
        assert_eq!(*seen.lock().unwrap(), vec![AckOutcome::Buffered]);
    }

    #[test]
    fn a_share_dropped_without_outcome_is_lost() {
        let (ack, seen) = probe();
        let a = ack.share();
        ack.release();
        drop(a);
        assert_eq!(*seen.lock().unwrap(), vec![AckOutcome::Lost]);
        let (ack, seen) = probe();
        drop(ack);
        assert_eq!(*seen.lock().unwrap(), vec![AckOutcome::Lost]);
    }

    #[test]
    fn released_with_no_batches_is_delivered() {
        let (ack, seen) = probe();
        ack.release();
        assert_eq!(*seen.lock().unwrap(), vec![AckOutcome::Delivered]);
        assert!(AckOutcome::Buffered.is_safe() && !AckOutcome::Lost.is_safe());
    }
}

//! Leader election. With `backend = "none"` this agent always leads. With `"etcd"` it campaigns
//! in etcd's election API (`v3election`) under a lease it keeps alive: the agent whose key was
//! created first leads, and the others wait in line. A leader that cannot renew its lease for two
//! thirds of its TTL (etcd down, a partition, a keep-alive failure) steps down at once, before
//! etcd lets the next agent lead when the lease expires; it then campaigns again. A graceful stop
//! resigns, so the next agent takes over without waiting for the TTL.
//!
//! Plugins whose config says `election = true` run only while [`Election::leader`] says so.
//!
//! The [`fleet`] module follows plugin configs kept in etcd.

mod config;
mod error;
mod etcd;
pub mod fleet;

pub use config::{Backend, ElectionConfig, EtcdConfig, RawElectionConfig, RawFleetConfig};
pub use error::ElectionError;

use serde::Serialize;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// This agent's view of the election.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leadership {
    /// "none" or "etcd".
    pub backend: &'static str,
    /// This agent's name in the election.
    pub id: String,
    /// Whether this agent leads now.
    pub leader: bool,
    /// The term of this agent's leadership: the etcd revision at which its election key was
    /// created (it grows with every campaign in the namespace); 0 when not leading (and always
    /// 1 for a single node).
    pub term: i64,
    /// Who leads, when known (a follower learns it from etcd every third of the TTL).
    pub leader_id: Option<String>,
    /// When `leader` last changed (ms since the Unix epoch).
    pub since_ms: i64,
    /// How many times this agent started or stopped leading.
    pub transitions: u64,
    /// The last failure talking to etcd, if any since the last success.
    pub last_error: Option<String>,
}

impl Leadership {
    /// The `sandkit_election_*` families (for the agent's metrics registry).
    pub fn families(&self, out: &mut sandkit_metrics::Families) {
        let l = || {
            vec![
                ("backend", self.backend.to_string()),
                ("id", self.id.clone()),
            ]
        };
        out.gauge(
            "sandkit_election_leader",
            "1 when this agent leads the election (a single node always does)",
            [(l(), f64::from(u8::from(self.leader)))],
        );
        out.gauge(
            "sandkit_election_term",
            "the term this agent leads in (etcd revision of its election key); 0 when it follows",
            [(l(), self.term as f64)],
        );
        out.counter(
            "sandkit_election_transitions_total",
            "times this agent started or stopped leading",
            [(l(), self.transitions as f64)],
        );
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A running election: its state, and the task that keeps it (etcd only).
#[derive(Debug)]
pub struct Election {
    status: watch::Receiver<Leadership>,
    leader: watch::Receiver<bool>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    _fixed: Option<(watch::Sender<Leadership>, watch::Sender<bool>)>,
}

impl Election {
    /// Starts the election of `config` (on the current tokio runtime).
    pub fn start(config: &ElectionConfig) -> Election {
        let (stop, stop_rx) = watch::channel(false);
        match &config.backend {
            Backend::None => {
                let (status_tx, status) = watch::channel(Leadership {
                    backend: "none",
                    id: config.id.clone(),
                    leader: true,
                    term: 1,
                    leader_id: Some(config.id.clone()),
                    since_ms: now_ms(),
                    transitions: 0,
                    last_error: None,
                });
                let (leader_tx, leader) = watch::channel(true);
                Election {
                    status,
                    leader,
                    stop,
                    task: None,
                    // Nothing changes: the senders live as long as the election, so receivers
                    // never see a closed channel.
                    _fixed: Some((status_tx, leader_tx)),
                }
            }
            Backend::Etcd(etcd) => {
                let publisher = Publisher::new(config.id.clone());
                let status = publisher.status.subscribe();
                let leader = publisher.leader.subscribe();
                let task = tokio::spawn(etcd::run(
                    etcd.clone(),
                    config.id.clone(),
                    publisher,
                    stop_rx,
                ));
                Election {
                    status,
                    leader,
                    stop,
                    task: Some(task),
                    _fixed: None,
                }
            }
        }
    }

    /// The election's state, updated as it changes.
    pub fn status(&self) -> watch::Receiver<Leadership> {
        self.status.clone()
    }

    /// Whether this agent leads, updated as it changes.
    pub fn leader(&self) -> watch::Receiver<bool> {
        self.leader.clone()
    }

    /// Stops campaigning: a leader resigns (so another agent takes over at once) and revokes
    /// its lease, within a bounded time.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                tracing::warn!("election.stop: no clean resignation within 5s");
            }
        }
    }
}

/// Publishes state changes to the two channels.
#[derive(Debug)]
pub(crate) struct Publisher {
    status: watch::Sender<Leadership>,
    leader: watch::Sender<bool>,
}

impl Publisher {
    fn new(id: String) -> Self {
        let (status, _) = watch::channel(Leadership {
            backend: "etcd",
            id,
            leader: false,
            term: 0,
            leader_id: None,
            since_ms: now_ms(),
            transitions: 0,
            last_error: None,
        });
        let (leader, _) = watch::channel(false);
        Publisher { status, leader }
    }

    /// This agent leads from now, in `term`.
    fn lead(&self, term: i64) {
        self.status.send_modify(|s| {
            if !s.leader {
                s.transitions += 1;
                s.since_ms = now_ms();
            }
            s.leader = true;
            s.term = term;
            s.leader_id = Some(s.id.clone());
            s.last_error = None;
        });
        self.leader.send_replace(true);
    }

    /// This agent follows from now (the flag first: plugins pause before anything else).
    fn follow(&self, error: Option<String>) {
        self.leader.send_replace(false);
        self.status.send_modify(|s| {
            if s.leader {
                s.transitions += 1;
                s.since_ms = now_ms();
                s.leader_id = None;
            }
            s.leader = false;
            s.term = 0;
            if error.is_some() {
                s.last_error = error;
            }
        });
    }

    /// Who leads, as etcd says (followers only).
    fn seen_leader(&self, id: Option<String>) {
        self.status.send_if_modified(|s| {
            let changed = !s.leader && s.leader_id != id;
            if changed {
                s.leader_id = id;
            }
            changed
        });
    }

    fn ok(&self) {
        self.status
            .send_if_modified(|s| s.last_error.take().is_some());
    }
}

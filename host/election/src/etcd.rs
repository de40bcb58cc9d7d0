//! The etcd election loop: connect, grant a lease, keep it alive, campaign, lead until the lease
//! cannot be renewed, and start over. Every call to etcd has a deadline, so a dead etcd never
//! blocks a step-down.

use crate::{EtcdConfig, Publisher};
use etcd_client::{Client, ConnectOptions, LeaseKeepAliveStream, LeaseKeeper, ResignOptions};
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio::time::{timeout, Instant};

/// Why one round of the loop ended.
enum End {
    /// Asked to stop.
    Stopped,
    /// Something failed (connecting, the lease, the campaign): campaign again after a pause.
    Failed(String),
}

pub(crate) async fn run(
    cfg: EtcdConfig,
    id: String,
    publisher: Publisher,
    mut stop: watch::Receiver<bool>,
) {
    let name = cfg.election_name();
    let ttl = cfg.lease_ttl;
    let mut backoff = Duration::from_millis(200);
    tracing::info!(id = %id, election = %name, ttl = ?ttl, endpoints = ?cfg.endpoints, "election.start: campaigning in etcd");
    loop {
        if *stop.borrow() {
            break;
        }
        let started = Instant::now();
        match round(&cfg, &name, &id, &publisher, &mut stop).await {
            End::Stopped => break,
            End::Failed(why) => {
                tracing::warn!(id = %id, election = %name, "election.retry: {why}");
                publisher.follow(Some(why));
                // A round that lasted (a term, a long campaign) starts the backoff again.
                if started.elapsed() > ttl {
                    backoff = Duration::from_millis(200);
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stopped(&mut stop) => break,
                }
                backoff = (backoff * 2).min(ttl / 2);
            }
        }
    }
    publisher.follow(None);
    tracing::info!(id = %id, "election.stop: done");
}

/// Resolves once a stop is asked for (the guard `wait_for` returns must not live across an
/// await of the branch that follows).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// A bounded etcd call: its result, or a message naming what timed out.
async fn bounded<T, E: std::fmt::Display>(
    what: &str,
    limit: Duration,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match timeout(limit, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no answer within {limit:?}")),
    }
}

async fn round(
    cfg: &EtcdConfig,
    name: &str,
    id: &str,
    publisher: &Publisher,
    stop: &mut watch::Receiver<bool>,
) -> End {
    let ttl = cfg.lease_ttl;
    let third = ttl / 3;
    let options = ConnectOptions::new()
        .with_connect_timeout(third)
        .with_keep_alive(third, third);
    let mut client = match bounded(
        "connecting to etcd",
        ttl,
        Client::connect(&cfg.endpoints, Some(options)),
    )
    .await
    {
        Ok(c) => c,
        Err(e) => return End::Failed(e),
    };
    let ttl_secs = ttl.as_secs() as i64;
    // The lease's life is counted from before it is asked for: etcd's clock may start earlier
    // than any answer we see.
    let granted_at = Instant::now();
    let lease = match bounded("granting a lease", ttl, client.lease_grant(ttl_secs, None)).await {
        Ok(l) => l.id(),
        Err(e) => return End::Failed(e),
    };
    let (keeper, stream) = match bounded(
        "keeping the lease alive",
        ttl,
        client.lease_keep_alive(lease),
    )
    .await
    {
        Ok(k) => k,
        Err(e) => {
            revoke(&mut client, lease, third).await;
            return End::Failed(e);
        }
    };
    publisher.ok();
    let (lost_tx, mut lost) = oneshot::channel();
    let keeping = tokio::spawn(keep_alive(keeper, stream, ttl, granted_at, lost_tx));
    let end = lead_when_elected(
        &mut client,
        name,
        id,
        lease,
        publisher,
        stop,
        &mut lost,
        ttl,
    )
    .await;
    keeping.abort();
    revoke(&mut client, lease, third).await;
    end
}

/// Campaigns, then leads until the lease is lost or a stop is asked for.
#[allow(clippy::too_many_arguments)]
async fn lead_when_elected(
    client: &mut Client,
    name: &str,
    id: &str,
    lease: i64,
    publisher: &Publisher,
    stop: &mut watch::Receiver<bool>,
    lost: &mut oneshot::Receiver<String>,
    ttl: Duration,
) -> End {
    let mut observer = client.clone();
    let mut campaigner = client.clone();
    let campaign = campaigner.campaign(name, id, lease);
    tokio::pin!(campaign);
    let mut look = tokio::time::interval(ttl / 3);
    let leader_key = loop {
        tokio::select! {
            biased;
            why = &mut *lost => {
                return End::Failed(why.unwrap_or_else(|_| "lease keeper ended".into()));
            }
            () = stopped(stop) => return End::Stopped,
            r = &mut campaign => match r {
                Ok(mut resp) => match resp.take_leader() {
                    Some(k) => break k,
                    None => return End::Failed("the campaign returned no leader key".into()),
                },
                Err(e) => return End::Failed(format!("campaign: {e}")),
            },
            _ = look.tick() => {
                // Who leads, for the status of a follower.
                if let Ok(Ok(r)) = timeout(ttl / 3, observer.leader(name)).await {
                    publisher.seen_leader(
                        r.kv().and_then(|kv| kv.value_str().ok()).map(str::to_string),
                    );
                }
            }
        }
    };
    let term = leader_key.rev();
    let own_key = leader_key.key().to_vec();
    publisher.lead(term);
    tracing::info!(id, term, "election.leader: this agent leads");
    // While leading: the lease must stay renewed, and the election's leader key must stay this
    // agent's (an operator deleting it, or a restore, would let another agent lead too).
    let mut check = tokio::time::interval(ttl / 3);
    check.tick().await;
    let displaced = async {
        loop {
            check.tick().await;
            match timeout(ttl / 3, observer.leader(name)).await {
                Ok(Ok(r)) => {
                    let current = r.kv().map(|kv| kv.key().to_vec());
                    if current.as_deref() != Some(own_key.as_slice()) {
                        return "this agent's election key is gone: another agent may lead"
                            .to_string();
                    }
                }
                // etcd says nobody leads: this agent's key is gone.
                Ok(Err(e)) if e.to_string().contains("no leader") => {
                    return "this agent's election key is gone".to_string();
                }
                // Unreachable etcd is the lease keeper's business.
                Ok(Err(_)) | Err(_) => {}
            }
        }
    };
    tokio::select! {
        biased;
        why = displaced => {
            publisher.follow(Some(why.clone()));
            tracing::warn!(id, term, "election.lost: {why}");
            End::Failed(why)
        }
        why = &mut *lost => {
            let why = why.unwrap_or_else(|_| "lease keeper ended".into());
            // Pause the election plugins first, then tidy up.
            publisher.follow(Some(why.clone()));
            tracing::warn!(id, term, "election.lost: this agent no longer leads: {why}");
            End::Failed(why)
        }
        () = stopped(stop) => {
            publisher.follow(None);
            let resign = client.resign(Some(ResignOptions::new().with_leader(leader_key)));
            match timeout(ttl / 3, resign).await {
                Ok(Ok(_)) => tracing::info!(id, term, "election.resign: done"),
                Ok(Err(e)) => tracing::warn!(id, term, error = %e, "election.resign failed"),
                Err(_) => tracing::warn!(id, term, "election.resign: no answer"),
            }
            End::Stopped
        }
    }
}

/// Best effort: a revoked lease frees its election key at once.
async fn revoke(client: &mut Client, lease: i64, limit: Duration) {
    let _ = timeout(limit, client.lease_revoke(lease)).await;
}

/// Renews the lease every third of its TTL. Reports it lost when no renewal has succeeded for
/// two thirds of the TTL (before etcd expires it, so two agents never lead at once), or when
/// etcd says it expired.
async fn keep_alive(
    mut keeper: LeaseKeeper,
    mut stream: LeaseKeepAliveStream,
    ttl: Duration,
    granted_at: Instant,
    lost: oneshot::Sender<String>,
) {
    let every = ttl / 3;
    let give_up_after = ttl * 2 / 3;
    let mut last_ok = granted_at;
    let why = loop {
        let deadline = last_ok + give_up_after;
        let sent = Instant::now();
        let renewal = async {
            keeper.keep_alive().await?;
            stream.message().await
        };
        match tokio::time::timeout_at(deadline, renewal).await {
            Err(_) => {
                break format!(
                    "no lease renewal for {give_up_after:?} (two thirds of the lease TTL)"
                )
            }
            Ok(Ok(Some(resp))) if resp.ttl() <= 0 => break "the lease expired in etcd".into(),
            Ok(Ok(Some(_))) => {
                last_ok = sent;
                tokio::time::sleep(every).await;
            }
            Ok(Ok(None)) => {
                // The stream ended: etcd closed it. Keep trying until the deadline.
                if Instant::now() + Duration::from_millis(100) >= deadline {
                    break "the keep-alive stream ended".into();
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(Err(e)) => {
                if Instant::now() + Duration::from_millis(100) >= deadline {
                    break format!("lease renewal failed: {e}");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let _ = lost.send(why);
}

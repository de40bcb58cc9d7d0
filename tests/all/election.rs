//! Leader election on a real etcd (Debian `etcd-server`, loopback, temporary data dir): three
//! agents run one `election = true` collector, exactly one of them at a time.

use sandkit_tests::{free_port, installed, sandkit_bin, wasm, ChildGuard};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The lease TTL of the test agents (etcd's minimum is about 2 s).
const TTL: Duration = Duration::from_secs(3);
/// The ticker's interval.
const INTERVAL: Duration = Duration::from_secs(1);

/// A single-member etcd on free loopback ports, killed when dropped.
struct Etcd {
    child: Option<ChildGuard>,
    endpoint: String,
    _dir: tempfile::TempDir,
}

impl Etcd {
    fn start() -> Option<Etcd> {
        let etcd = installed("/usr/bin/etcd", "etcd-server")?;
        let dir = tempfile::tempdir().unwrap();
        let (client, peer) = (free_port(), free_port());
        let endpoint = format!("127.0.0.1:{client}");
        let child = Command::new(etcd)
            .arg("--data-dir")
            .arg(dir.path().join("etcd"))
            .args([
                "--listen-client-urls",
                &format!("http://{endpoint}"),
                "--advertise-client-urls",
                &format!("http://{endpoint}"),
                "--listen-peer-urls",
                &format!("http://127.0.0.1:{peer}"),
                "--initial-advertise-peer-urls",
                &format!("http://127.0.0.1:{peer}"),
                "--initial-cluster",
                &format!("default=http://127.0.0.1:{peer}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let guard = ChildGuard(child);
        let end = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(&endpoint).is_err() {
            assert!(Instant::now() < end, "etcd not listening on {endpoint}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Etcd {
            child: Some(guard),
            endpoint,
            _dir: dir,
        })
    }

    /// `kill -9`.
    fn kill(&mut self) {
        self.child = None;
    }
}

/// An agent directory with the ticker collector in its plugins directory.
fn ticker_agent_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("plugins")).unwrap();
    std::fs::create_dir_all(d.join("conf.d")).unwrap();
    std::fs::copy(wasm("ticker"), d.join("plugins/ticker.wasm")).unwrap();
    dir
}

/// `sandkit run` in `dir` (its sandkit.toml, output to out.lp, HTTP on a free port).
fn spawn_agent(dir: &std::path::Path) -> std::process::Child {
    Command::new(sandkit_bin())
        .args(["run", "-c", "sandkit.toml", "--http-listen", "127.0.0.1:0"])
        .arg("--output-file")
        .arg(dir.join("out.lp"))
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// One agent in its own directory, with the ticker collector under `election = true`.
struct Agent {
    id: String,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl Agent {
    fn start(id: &str, etcd: &str) -> Agent {
        let dir = ticker_agent_dir();
        let d = dir.path();
        std::fs::write(
            d.join("conf.d/ticker.toml"),
            format!("interval = \"{}s\"\nelection = true\n", INTERVAL.as_secs()),
        )
        .unwrap();
        std::fs::write(
            d.join("sandkit.toml"),
            format!(
                "[output]\nflush_interval = \"100ms\"\n\
                 [election]\nbackend = \"etcd\"\nendpoints = [\"{etcd}\"]\n\
                 namespace = \"test\"\nlease_ttl = \"{}s\"\nid = \"{id}\"\n",
                TTL.as_secs()
            ),
        )
        .unwrap();
        let child = spawn_agent(d);
        Agent {
            id: id.to_string(),
            dir,
            child: Some(child),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// election.json, once written.
    fn election(&self) -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(self.path("data/election.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn leads(&self) -> bool {
        self.election()
            .is_some_and(|e| e["leader"] == serde_json::Value::Bool(true))
    }

    /// Ticker points in the output so far.
    fn ticks(&self) -> usize {
        std::fs::read_to_string(self.path("out.lp"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("ticker,"))
            .count()
    }

    fn metrics(&self) -> String {
        let addr = std::fs::read_to_string(self.path("data/http.addr")).unwrap();
        let (code, body) = sandkit_tests::http(&addr, "GET", "/metrics", "");
        assert_eq!(code, 200);
        body
    }

    fn kill_9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill_9();
    }
}

fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn leaders(agents: &[Agent]) -> Vec<usize> {
    (0..agents.len()).filter(|&i| agents[i].leads()).collect()
}

#[test]
fn three_agents_one_leader_and_a_new_one_within_ttl_of_a_kill_9() {
    let Some(etcd) = Etcd::start() else {
        return;
    };
    let mut agents: Vec<Agent> = (1..=3)
        .map(|i| Agent::start(&format!("agent{i}"), &etcd.endpoint))
        .collect();
    wait_until(Duration::from_secs(20), || leaders(&agents).len() == 1)
        .expect("no leader elected in 20 s");
    let leader = leaders(&agents)[0];
    // Everyone has a status, and the followers know who leads.
    assert!(
        wait_until(Duration::from_secs(5), || agents.iter().all(|a| a
            .election()
            .is_some_and(|e| e["leader_id"] == agents[leader].id.as_str())))
        .is_some(),
        "{:?}",
        agents.iter().map(Agent::election).collect::<Vec<_>>()
    );
    // Over three intervals, only the leader collects.
    std::thread::sleep(INTERVAL * 3);
    assert_eq!(leaders(&agents), vec![leader], "exactly one leader");
    assert!(agents[leader].ticks() >= 2, "the leader collects");
    for (i, a) in agents.iter().enumerate() {
        if i != leader {
            assert_eq!(a.ticks(), 0, "{} collected without leading", a.id);
        }
    }
    let metrics = agents[leader].metrics();
    let want = format!(
        "sandkit_election_leader{{backend=\"etcd\",id=\"{}\"}} 1",
        agents[leader].id
    );
    assert!(metrics.contains(&want), "{metrics}");
    let term = agents[leader].election().unwrap()["term"].as_i64().unwrap();
    assert!(term > 0);
    assert!(metrics.contains(&format!(
        "sandkit_election_term{{backend=\"etcd\",id=\"{}\"}} {term}",
        agents[leader].id
    )));
    let follower = (leader + 1) % 3;
    assert!(agents[follower]
        .metrics()
        .contains("sandkit_plugin_state{plugin=\"ticker\",state=\"standby\"} 1"));

    // kill -9 the leader: another leads within one TTL and one interval.
    let old = agents[leader].id.clone();
    agents[leader].kill_9();
    let took = wait_until(TTL * 3, || leaders(&agents).iter().any(|&i| i != leader))
        .expect("no new leader");
    let new = leaders(&agents).into_iter().find(|&i| i != leader).unwrap();
    eprintln!(
        "election: {old} killed, {} leads after {took:?}",
        agents[new].id
    );
    // TTL + one interval, and half a second for etcd, which looks for expired leases twice a
    // second, and for the new leader's status file to be written and read.
    assert!(
        took <= TTL + INTERVAL + Duration::from_millis(500),
        "a new leader took {took:?}, more than TTL + interval"
    );
    let new_term = agents[new].election().unwrap()["term"].as_i64().unwrap();
    assert!(new_term > term, "the term grows: {new_term} after {term}");
    assert!(
        wait_until(INTERVAL * 4, || agents[new].ticks() >= 1).is_some(),
        "the new leader collects"
    );
    let others: Vec<usize> = (0..3).filter(|&i| i != leader && i != new).collect();
    assert_eq!(agents[others[0]].ticks(), 0);
    drop(etcd);
}

#[test]
fn a_leader_that_loses_etcd_pauses_its_election_plugins_within_one_ttl() {
    let Some(mut etcd) = Etcd::start() else {
        return;
    };
    let agent = Agent::start("solo", &etcd.endpoint);
    wait_until(Duration::from_secs(20), || agent.leads()).expect("the agent never led");
    assert!(wait_until(INTERVAL * 4, || agent.ticks() >= 1).is_some());
    etcd.kill();
    let lost = Instant::now();
    let took = wait_until(TTL * 3, || !agent.leads()).expect("the leader never stepped down");
    eprintln!("election: etcd killed, the leader stepped down after {took:?}");
    assert!(
        took <= TTL,
        "stepped down after {took:?}, more than one TTL"
    );
    let e = agent.election().unwrap();
    assert!(e["last_error"].is_string(), "{e}");
    // Nothing more is collected once it has stepped down (one tick in flight at most).
    std::thread::sleep(INTERVAL / 2);
    let after = agent.ticks();
    std::thread::sleep(INTERVAL * 3);
    assert!(
        agent.ticks() <= after + 1,
        "collected while not leading: {} then {}",
        after,
        agent.ticks()
    );
    assert!(agent
        .metrics()
        .contains("sandkit_election_leader{backend=\"etcd\",id=\"solo\"} 0"));
    eprintln!("election: {:?} since etcd died", lost.elapsed());
}

/// `etcdctl put` (or `del` with no value) against `endpoint`.
fn etcdctl(endpoint: &str, args: &[&str]) {
    let ctl = installed("/usr/bin/etcdctl", "etcd-client").expect("etcdctl");
    let out = Command::new(ctl)
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoint}"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The ticker's status from `/v1/plugins`.
fn ticker_status(addr: &str) -> Option<serde_json::Value> {
    let (code, body) = sandkit_tests::http(addr, "GET", "/v1/plugins", "");
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v.as_array()?
        .iter()
        .find(|p| p["name"] == "ticker")
        .cloned()
}

#[test]
fn fleet_configs_from_etcd_apply_are_refused_when_bad_and_yield_to_a_local_file() {
    let Some(etcd) = Etcd::start() else {
        return;
    };
    if installed("/usr/bin/etcdctl", "etcd-client").is_none() {
        return;
    }
    let key = "test/conf.d/ticker.toml";
    etcdctl(&etcd.endpoint, &["put", key, "interval = \"100ms\"\n"]);
    let dir = ticker_agent_dir();
    let d = dir.path();
    std::fs::write(
        d.join("sandkit.toml"),
        format!(
            "[fleet]\nbackend = \"etcd\"\nendpoints = [\"{}\"]\nprefix = \"test/conf.d/\"\n",
            etcd.endpoint
        ),
    )
    .unwrap();
    let _guard = ChildGuard(spawn_agent(d));
    let addr = {
        let f = d.join("data/http.addr");
        wait_until(Duration::from_secs(20), || f.exists()).expect("no http.addr");
        std::fs::read_to_string(f).unwrap()
    };
    let interval = |want: u64| {
        wait_until(Duration::from_secs(10), || {
            ticker_status(&addr).is_some_and(|s| s["interval_ms"] == want)
        })
        .is_some()
    };
    // The fleet config applies, and its version is in the status.
    assert!(interval(100), "{:?}", ticker_status(&addr));
    let s = ticker_status(&addr).unwrap();
    let version = s["config_version"].as_str().unwrap().to_string();
    assert!(version.starts_with(&format!("{key}@")), "{s}");

    // A bad one is refused: the running config stays, fleet.json says why.
    etcdctl(&etcd.endpoint, &["put", key, "interval = \"soon\"\n"]);
    let fleet = || -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(d.join("data/fleet.json")).unwrap_or_default(),
        )
        .unwrap_or_default()
    };
    assert!(
        wait_until(Duration::from_secs(10), || fleet()["keys"]["ticker"]
            ["applied"]
            == false)
        .is_some(),
        "{}",
        fleet()
    );
    let why = fleet()["keys"]["ticker"]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(why.contains("interval") && why.contains("soon"), "{why}");
    let shown = sandkit_tests::sandkit_status(d);
    assert!(
        shown.contains("fleet (test/conf.d/): up to date with etcd revision")
            && shown.contains("1 config(s), 1 refused"),
        "{shown}"
    );
    std::thread::sleep(Duration::from_millis(500));
    let s = ticker_status(&addr).unwrap();
    assert_eq!(s["interval_ms"], 100);
    assert_eq!(s["config_version"], version.as_str());

    // A good one applies with its new version.
    etcdctl(&etcd.endpoint, &["put", key, "interval = \"200ms\"\n"]);
    assert!(interval(200));
    assert_ne!(
        ticker_status(&addr).unwrap()["config_version"],
        version.as_str()
    );

    // A local conf.d file wins; removing it brings the fleet config back.
    std::fs::write(d.join("conf.d/ticker.toml"), "interval = \"300ms\"\n").unwrap();
    assert!(interval(300));
    assert!(ticker_status(&addr).unwrap()["config_version"].is_null());
    std::fs::remove_file(d.join("conf.d/ticker.toml")).unwrap();
    assert!(interval(200));

    // Deleting the key leaves the plugin on its defaults (the ticker's 1 s).
    etcdctl(&etcd.endpoint, &["del", key]);
    assert!(interval(1000), "{:?}", ticker_status(&addr));
    assert!(fleet()["keys"].as_object().is_some_and(|k| k.is_empty()));
}

#[test]
fn a_leader_whose_election_key_is_deleted_steps_down_and_campaigns_again() {
    let Some(etcd) = Etcd::start() else {
        return;
    };
    if installed("/usr/bin/etcdctl", "etcd-client").is_none() {
        return;
    }
    let agent = Agent::start("solo", &etcd.endpoint);
    wait_until(Duration::from_secs(20), || agent.leads()).expect("the agent never led");
    let first = agent.election().unwrap();
    // An operator wipes the election (or etcd is restored from an older snapshot).
    etcdctl(&etcd.endpoint, &["del", "--prefix", "test/election"]);
    let took = wait_until(TTL * 3, || {
        agent
            .election()
            .is_some_and(|e| e["transitions"].as_u64() > first["transitions"].as_u64())
    })
    .expect("the leader did not notice that its key was gone");
    eprintln!("election: key deleted, noticed after {took:?}");
    assert!(took <= TTL, "noticed after {took:?}");
    // Alone, it leads again, in a new term.
    wait_until(TTL * 3, || {
        agent
            .election()
            .is_some_and(|e| e["leader"] == true && e["term"].as_i64() > first["term"].as_i64())
    })
    .expect("no new term");
}

//! The fault catalog every guest language runs (`c`, `js`, `python`): one table per language of
//! faults and what each must do, checked the same way. A crash is restarted and the plugin
//! disabled after six; an error is not a crash; a flood of log lines is rate-limited; a healthy
//! plugin of the language keeps one instance, and the Rust ticker beside them keeps its
//! schedule (no gap of 2 s).

use sandkit_io::FieldValue;
use sandkit_runtime::{PluginState, PluginStatus};
use sandkit_tests::Harness;
use std::collections::BTreeMap;
use std::time::Duration;

/// A language's fault guest and what each of its modes must do.
pub(crate) struct Catalog<'a> {
    /// The fault guest (`cfaults`, `jsfaults`, `pyfaults`): its measurement too.
    pub guest: &'a str,
    /// Plugins to install: name, `[config] mode`, extra config.
    pub faults: &'a [(&'a str, &'a str, &'a str)],
    /// Plugins that crash: name and the crash kinds they may be disabled with.
    pub crashes: &'a [(&'a str, &'a [&'a str])],
    /// Plugins whose calls fail without crashing: name and what their last error holds.
    pub errors: &'a [(&'a str, &'a [&'a str])],
    /// Plugins that flood their logs: rate-limited, never a fault.
    pub floods: &'a [&'a str],
    /// The plugin that must run untouched beside the others.
    pub healthy: &'a str,
    /// How long a crashing plugin may take to be disabled (interpreters start slowly).
    pub crash_wait: Duration,
    /// How long the other waits may take.
    pub wait: Duration,
}

impl Catalog<'_> {
    /// Install the ticker and the faults, start them all, and check the catalog; the statuses
    /// of the crashing and failing plugins, for a language's own further checks.
    pub(crate) async fn run(&self, h: &Harness) -> BTreeMap<String, PluginStatus> {
        h.conf("ticker", "interval = \"100ms\"\n");
        h.install("ticker", "ticker");
        for (name, mode, extra) in self.faults {
            h.fault(self.guest, name, mode, extra);
        }
        let start = std::time::Instant::now();
        for f in sandkit_runtime::plugin_files(&h.plugins()).unwrap() {
            h.sup.upsert(&f).await;
        }
        let mut seen = BTreeMap::new();
        for (name, kinds) in self.crashes {
            let st = h
                .wait_state(name, PluginState::Disabled, self.crash_wait)
                .await;
            assert_eq!(st.crashes, 6, "{name}: {st:#?}");
            assert_eq!(st.restarts, 5, "{name}: {st:#?}");
            let kind = st.last_crash_kind.clone().unwrap_or_default();
            assert!(kinds.contains(&kind.as_str()), "{name}: {kind:?}: {st:#?}");
            assert_eq!(st.points, 0, "{name}");
            seen.insert(name.to_string(), st);
        }
        for (name, what) in self.errors {
            let st = h.wait_for(name, self.wait, |s| s.errors >= 3).await;
            assert_eq!(
                (st.crashes, st.restarts, st.state),
                (0, 0, PluginState::Running),
                "{name}: an error is not a crash: {st:#?}"
            );
            let err = st.last_error.clone().unwrap_or_default();
            for w in *what {
                assert!(err.contains(w), "{name}: {w:?} not in the error: {err}");
            }
            seen.insert(name.to_string(), st);
        }
        for name in self.floods {
            rate_limited(h, name, 2, Duration::from_secs(60)).await;
        }
        let ok = h.wait_for(self.healthy, self.wait, |s| s.points >= 5).await;
        assert_eq!((ok.crashes, ok.errors), (0, 0), "{ok:#?}");
        let ticker = h
            .wait_for("ticker", Duration::from_secs(60), |s| s.calls >= 12)
            .await;
        h.wait_points("ticker", 10).await;
        assert_eq!(
            (ticker.state, ticker.crashes),
            (PluginState::Running, 0),
            "{ticker:#?}"
        );
        let times = h.times("ticker");
        let max_gap = times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
        assert!(
            max_gap < 2_000_000_000,
            "the ticker stalled {max_gap} ns while {} plugins misbehaved ({:?} in)",
            self.guest,
            start.elapsed()
        );
        let calls: Vec<u64> = h
            .out
            .points()
            .iter()
            .filter(|p| p.measurement() == self.guest)
            .filter_map(|p| match p.field("calls") {
                Some(FieldValue::Uint(n)) => Some(*n),
                _ => None,
            })
            .collect();
        assert!(
            calls.len() >= 5 && calls.windows(2).all(|w| w[1] == w[0] + 1),
            "one instance served {} throughout: {calls:?}",
            self.healthy
        );
        seen
    }
}

/// Plugin `name`, which floods its log, has made `calls` calls with 30,000 lines suppressed by
/// the host's rate limit, and is running without a crash or an error: a flood is not a fault.
pub(crate) async fn rate_limited(h: &Harness, name: &str, calls: u64, wait: Duration) {
    let st = h
        .wait_for(name, wait, |s| {
            s.calls >= calls && s.log_suppressed >= 30_000
        })
        .await;
    assert_eq!(
        (st.state, st.crashes, st.errors),
        (PluginState::Running, 0, 0),
        "{name}: {st:#?}"
    );
}

/// A granted directory (`a.txt` holding `hello`, an empty `sub/`, and `link` to a `secret`
/// outside it) and the directory outside, for the `files` import's checks in every language.
pub(crate) struct Grants {
    pub granted: tempfile::TempDir,
    pub outside: tempfile::TempDir,
}

impl Grants {
    pub(crate) fn new() -> Self {
        let granted = tempfile::tempdir().unwrap();
        let g = granted.path();
        std::fs::write(g.join("a.txt"), "hello").unwrap();
        std::fs::create_dir(g.join("sub")).unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s3cret").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), g.join("link")).unwrap();
        Grants { granted, outside }
    }

    /// The granted directory, as a string.
    pub(crate) fn g(&self) -> String {
        self.granted.path().display().to_string()
    }

    /// The directory outside the grant, as a string.
    pub(crate) fn o(&self) -> String {
        self.outside.path().display().to_string()
    }

    /// The fault guest `guest` installed as `name` in mode `files`, reading `paths` with
    /// `read_only_dirs` = the granted directory and `/proc`: what it reported for each path.
    pub(crate) async fn probe(
        &self,
        h: &Harness,
        guest: &str,
        name: &str,
        paths: &[String],
    ) -> Probe {
        let list: Vec<String> = paths.iter().map(|p| format!("{p:?}")).collect();
        h.conf(
            name,
            &format!(
                "interval = \"1s\"\n[sandbox]\nread_only_dirs = [\"{}\", \"/proc\"]\n\
                 [config]\nmode = \"files\"\npaths = [{}]\n",
                self.g(),
                list.join(", ")
            ),
        );
        let f = h.install(guest, name);
        h.sup.upsert(&f).await;
        h.wait_points("files", paths.len()).await;
        Probe(h.out.points())
    }
}

/// The points a `files` probe reported, one per path.
pub(crate) struct Probe(pub Vec<sandkit_io::Point>);

impl Probe {
    /// The point for path `p`.
    pub(crate) fn point(&self, p: &str) -> &sandkit_io::Point {
        self.0
            .iter()
            .find(|x| x.field("path") == Some(&FieldValue::Text(p.to_string())))
            .unwrap_or_else(|| panic!("no point for {p}"))
    }

    /// Whether reading `p` succeeded.
    pub(crate) fn ok(&self, p: &str) -> bool {
        self.point(p).field("ok") == Some(&FieldValue::Bool(true))
    }

    /// The error reading `p` gave.
    pub(crate) fn error(&self, p: &str) -> String {
        match self.point(p).field("error") {
            Some(FieldValue::Text(t)) => t.clone(),
            other => panic!("{p}: no error ({other:?})"),
        }
    }

    /// Whether any point holds `text` (a secret that must not leak).
    pub(crate) fn shows(&self, text: &str) -> bool {
        self.0.iter().any(|p| format!("{p:?}").contains(text))
    }
}

//! `sandkit monitor`: a live view of a running agent in the terminal, as DataKit's `datakit
//! monitor`: its plugins (state, calls, errors, crashes, points unlike their description, CPU
//! and memory), file tasks (lines, lag) and outputs (sent, retried, buffered, dropped), read
//! from the agent's `/metrics` every second. It draws with plain ANSI escapes (any terminal
//! will do) and quits on `q` or Ctrl-C; with `--once`, or when stdout is not a terminal, it
//! prints one view and exits.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// One sample of `/metrics`: family name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    fn label(&self, key: &str) -> &str {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// The samples of a Prometheus text exposition (comments and malformed lines skipped).
pub fn parse_metrics(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (head, value) = match line.rfind('}') {
            Some(close) => (&line[..=close], line[close + 1..].trim()),
            None => match line.split_once(' ') {
                Some((h, v)) => (h, v.trim()),
                None => continue,
            },
        };
        let value = value.split(' ').next().unwrap_or("");
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let (name, labels) = match head.split_once('{') {
            Some((n, rest)) => (n, parse_labels(rest.trim_end_matches('}'))),
            None => (head, Vec::new()),
        };
        out.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    out
}

fn parse_labels(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let key: String = chars
            .by_ref()
            .skip_while(|c| *c == ',' || c.is_whitespace())
            .take_while(|c| *c != '=')
            .collect();
        if key.is_empty() || chars.next() != Some('"') {
            return out;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(o) => value.push(o),
                    None => break,
                },
                '"' => break,
                c => value.push(c),
            }
        }
        out.push((key.trim().to_string(), value));
    }
}

/// The largest `/metrics` body read (an agent with thousands of plugins stays far below).
const MAX_BODY: u64 = 16 << 20;
/// The longest a fetch may take, however slowly the bytes come.
const FETCH_DEADLINE: Duration = Duration::from_secs(5);

/// `GET path` of the agent: the body of a 200, else an error naming the status.
fn get(addr: SocketAddr, path: &str) -> Result<String> {
    let deadline = Instant::now() + FETCH_DEADLINE;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .with_context(|| format!("cannot reach the agent at {addr}"))?;
    s.set_write_timeout(Some(Duration::from_secs(2)))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: sandkit-monitor\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("{addr}{path}: no whole answer within {FETCH_DEADLINE:?}");
        }
        s.set_read_timeout(Some(left))?;
        let n = s
            .read(&mut buf)
            .with_context(|| format!("reading {path} from {addr}"))?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if raw.len() as u64 > MAX_BODY {
            bail!("{addr}{path}: the answer is larger than {MAX_BODY} bytes");
        }
    }
    let text = String::from_utf8_lossy(&raw);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        bail!("{addr}{path}: not an HTTP response");
    };
    let status = head.split(' ').nth(1).unwrap_or("");
    if status != "200" {
        bail!("{addr}{path}: HTTP {status}");
    }
    Ok(body.to_string())
}

/// A plugin's row.
#[derive(Debug, Default, Clone)]
struct PluginRow {
    state: String,
    calls: f64,
    errors: f64,
    crashes: f64,
    points: f64,
    undeclared: f64,
    cpu_seconds: f64,
    memory_peak: f64,
}

/// What one view shows, summed from the samples.
#[derive(Debug, Default)]
struct View {
    uptime: f64,
    plugins: BTreeMap<String, PluginRow>,
    /// task -> (open files, lines, lag bytes)
    files: BTreeMap<String, (f64, f64, f64)>,
    /// output -> (sent points, retries, buffered points, buffer bytes, dropped points)
    outputs: BTreeMap<String, [f64; 5]>,
}

fn view_of(samples: &[Sample]) -> View {
    let mut v = View::default();
    for s in samples {
        let name = s.name.as_str();
        if name == "sandkit_uptime_seconds" {
            v.uptime = s.value;
        } else if let Some(rest) = name.strip_prefix("sandkit_plugin_") {
            let p = v.plugins.entry(s.label("plugin").to_string()).or_default();
            match rest {
                "state" if s.value > 0.0 => p.state = s.label("state").to_string(),
                "calls_total" => p.calls = s.value,
                "errors_total" => p.errors = s.value,
                "traps_total" => p.crashes = s.value,
                "points_total" => p.points = s.value,
                "undeclared_points_total" => p.undeclared = s.value,
                "cpu_seconds_total" => p.cpu_seconds = s.value,
                "memory_peak_bytes" => p.memory_peak = s.value,
                _ => {}
            }
        } else if let Some(rest) = name.strip_prefix("sandkit_files_") {
            let t = v.files.entry(s.label("task").to_string()).or_default();
            match rest {
                "open" => t.0 = s.value,
                "lines_total" => t.1 = s.value,
                "lag_bytes" => t.2 = s.value,
                _ => {}
            }
        } else if let Some(rest) = name.strip_prefix("sandkit_output_") {
            let i = match rest {
                "points_sent_total" => 0,
                "retries_total" => 1,
                "buffered_points_total" => 2,
                "buffer_bytes" => 3,
                "dropped_points_total" => 4,
                _ => continue,
            };
            v.outputs.entry(s.label("output").to_string()).or_default()[i] += s.value;
        }
    }
    v.plugins.retain(|k, _| !k.is_empty());
    v
}

fn human_bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The view as text; CPU is the share of one core since `prev` (the view a second before).
fn render(addr: SocketAddr, v: &View, prev: Option<(&View, Duration)>) -> String {
    let mut s = String::new();
    let up = sandkit_conf::format_duration(Duration::from_secs(v.uptime.max(0.0) as u64));
    let _ = writeln!(s, "sandkit monitor  {addr}  up {up}  (q or Ctrl-C quits)\n");
    let _ = writeln!(
        s,
        "{:<20} {:<10} {:>9} {:>7} {:>7} {:>10} {:>9} {:>6} {:>10}",
        "PLUGIN", "STATE", "CALLS", "ERRORS", "CRASHES", "POINTS", "UNDECL", "CPU%", "MEM PEAK"
    );
    for (name, p) in &v.plugins {
        let cpu = prev
            .and_then(|(pv, dt)| {
                let before = pv.plugins.get(name)?.cpu_seconds;
                Some(100.0 * (p.cpu_seconds - before).max(0.0) / dt.as_secs_f64().max(0.001))
            })
            .map_or_else(|| "-".to_string(), |c| format!("{c:.1}"));
        let _ = writeln!(
            s,
            "{:<20} {:<10} {:>9} {:>7} {:>7} {:>10} {:>9} {:>6} {:>10}",
            truncate(name, 20),
            truncate(&p.state, 10),
            p.calls,
            p.errors,
            p.crashes,
            p.points,
            p.undeclared,
            cpu,
            human_bytes(p.memory_peak)
        );
    }
    if v.plugins.is_empty() {
        let _ = writeln!(s, "(no plugin loaded)");
    }
    let _ = writeln!(
        s,
        "\n{:<20} {:>6} {:>12} {:>12}",
        "FILE TASK", "OPEN", "LINES", "LAG"
    );
    for (task, (open, lines, lag)) in &v.files {
        let _ = writeln!(
            s,
            "{:<20} {:>6} {:>12} {:>12}",
            truncate(task, 20),
            open,
            lines,
            human_bytes(*lag)
        );
    }
    if v.files.is_empty() {
        let _ = writeln!(s, "(no file task)");
    }
    let _ = writeln!(
        s,
        "\n{:<20} {:>12} {:>9} {:>12} {:>12} {:>10}",
        "OUTPUT", "SENT", "RETRIED", "BUFFERED", "BUFFER", "DROPPED"
    );
    for (name, o) in &v.outputs {
        let _ = writeln!(
            s,
            "{:<20} {:>12} {:>9} {:>12} {:>12} {:>10}",
            truncate(name, 20),
            o[0],
            o[1],
            o[2],
            human_bytes(o[3]),
            o[4]
        );
    }
    if v.outputs.is_empty() {
        let _ = writeln!(s, "(no output request yet)");
    }
    s
}

/// `s` in at most `n` characters, control characters (escape sequences a hostile label could
/// carry to the terminal) shown as `?`.
fn truncate(s: &str, n: usize) -> String {
    let clean = printable(s);
    if clean.chars().count() <= n {
        clean
    } else {
        let mut t: String = clean.chars().take(n - 1).collect();
        t.push('~');
        t
    }
}

/// `s` with every control character but the newline as `?`.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() && c != '\n' { '?' } else { c })
        .collect()
}

/// The terminal in raw mode (no echo, no line buffering, Ctrl-C as a byte) on the alternate
/// screen with the cursor hidden, until dropped.
struct RawMode {
    saved: Option<rustix::termios::Termios>,
}

impl RawMode {
    fn enter() -> RawMode {
        use rustix::termios::{tcgetattr, tcsetattr, OptionalActions};
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).ok();
        if let Some(t) = &saved {
            let mut raw = t.clone();
            raw.make_raw();
            let _ = tcsetattr(&stdin, OptionalActions::Now, &raw);
        }
        let mut out = std::io::stdout();
        let _ = write!(out, "\x1b[?1049h\x1b[?25l");
        let _ = out.flush();
        RawMode { saved }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // The cursor and the main screen back, whatever ended the view (an error, a panic).
        let mut out = std::io::stdout();
        let _ = write!(out, "\x1b[?25h\x1b[?1049l");
        let _ = out.flush();
        if let Some(t) = &self.saved {
            let _ = rustix::termios::tcsetattr(
                std::io::stdin(),
                rustix::termios::OptionalActions::Now,
                t,
            );
        }
    }
}

impl std::fmt::Debug for RawMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawMode").finish_non_exhaustive()
    }
}

/// Where the agent of `cfg` listens: `<data_dir>/http.addr` (written by a running agent),
/// else `[http] listen`.
pub fn agent_addr(cfg: &crate::config::AgentConfig) -> Result<SocketAddr> {
    if let Ok(text) = std::fs::read_to_string(cfg.data_dir.join("http.addr")) {
        if let Ok(a) = text.trim().parse() {
            return Ok(a);
        }
    }
    match &cfg.http {
        Some(h) => Ok(h.listen),
        None => bail!(
            "{}: [http] is disabled, so there is no API to monitor",
            cfg.source.display()
        ),
    }
}

/// `sandkit monitor`.
pub fn run(addr: &str, once: bool) -> Result<()> {
    let addr = addr
        .to_socket_addrs()
        .with_context(|| format!("{addr:?} is not an address"))?
        .next()
        .with_context(|| format!("{addr:?} resolves to nothing"))?;
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let fetch = move || -> Result<View> { Ok(view_of(&parse_metrics(&get(addr, "/metrics")?))) };
    if once || !tty {
        print!("{}", render(addr, &fetch()?, None));
        return Ok(());
    }
    // Keys and views each from a thread of their own: a slow agent never keeps a key from
    // being read, and q or Ctrl-C quits at once.
    let (keys, key) = std::sync::mpsc::channel::<u8>();
    let raw = RawMode::enter();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut b = [0u8; 1];
        while let Ok(1) = stdin.read(&mut b) {
            if keys.send(b[0]).is_err() {
                return;
            }
        }
        // End of input: as a quit.
        let _ = keys.send(b'q');
    });
    let (views, view) = std::sync::mpsc::channel::<(Result<View>, Instant)>();
    std::thread::spawn(move || loop {
        let started = Instant::now();
        if views.send((fetch(), started)).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_secs(1).saturating_sub(started.elapsed()));
    });
    let mut out = std::io::stdout();
    let mut prev: Option<(View, Instant)> = None;
    let mut frame =
        format!("sandkit monitor  {addr}  (q or Ctrl-C quits)\n\nreading /metrics...\n");
    let mut drawn = false;
    loop {
        if let Ok((fetched, at)) = view.try_recv() {
            frame = match fetched {
                Ok(v) => {
                    let text = render(
                        addr,
                        &v,
                        prev.as_ref().map(|(p, t)| (p, at.duration_since(*t))),
                    );
                    prev = Some((v, at));
                    text
                }
                Err(e) => printable(&format!(
                    "sandkit monitor  {addr}  (q or Ctrl-C quits)\n\n{e:#}\n"
                )),
            };
            drawn = false;
        }
        if !drawn {
            // Raw mode: lines need a carriage return.
            write!(out, "\x1b[H\x1b[2J{}", frame.replace('\n', "\r\n"))?;
            out.flush()?;
            drawn = true;
        }
        match key.recv_timeout(Duration::from_millis(100)) {
            Ok(b'q' | b'Q' | 3) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Ok(_) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
    drop(raw);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_text_becomes_a_view() {
        let text = r#"# HELP sandkit_plugin_state 1 for the state each plugin is in
# TYPE sandkit_plugin_state gauge
sandkit_plugin_state{plugin="cpu",state="running"} 1
sandkit_plugin_calls_total{plugin="cpu"} 12
sandkit_plugin_cpu_seconds_total{plugin="cpu"} 0.5
sandkit_plugin_undeclared_points_total{plugin="cpu"} 3
sandkit_files_lag_bytes{task="ng\"inx"} 2048
sandkit_output_points_sent_total{output="dw",url="http://a",category="metric"} 10
sandkit_output_points_sent_total{output="dw",url="http://b",category="metric"} 5
sandkit_uptime_seconds 61
"#;
        let samples = parse_metrics(text);
        assert_eq!(samples.len(), 8);
        assert_eq!(samples[4].label("task"), "ng\"inx");
        let v = view_of(&samples);
        let cpu = &v.plugins["cpu"];
        assert_eq!(
            (cpu.state.as_str(), cpu.calls, cpu.undeclared),
            ("running", 12.0, 3.0)
        );
        assert_eq!(v.outputs["dw"][0], 15.0);
        let addr: SocketAddr = "127.0.0.1:9529".parse().unwrap();
        let mut later = view_of(&samples);
        later.plugins.get_mut("cpu").unwrap().cpu_seconds = 0.75;
        let shown = render(addr, &later, Some((&v, Duration::from_secs(1))));
        assert!(shown.contains("up 1m 1s"), "{shown}");
        assert!(shown.contains("25.0"), "a quarter of a core: {shown}");
        assert!(shown.contains("2.0 KiB"), "{shown}");
    }
}

//! Native baselines for the `collect` benches: the same files read and parsed in the same way as
//! the cpu and mem collectors, the same points built with `sandkit_io::Point`, but plain Rust in
//! the host process. They approximate the guests' work (same reads, same arithmetic, same output),
//! they are not the guests' code.

use sandkit_io::now_ns;
use sandkit_io::{Category, FieldValue, Point};
use sandkit_tests::CPU_FIELDS;
use std::collections::HashMap;

/// Clock ticks of one CPU line: user nice system idle iowait irq softirq steal guest guest_nice.
type Times = [u64; 10];

/// The cpu collector, natively: read /proc/stat, diff every CPU line against the previous sample
/// and build one point per CPU whose counters moved (Telegraf's formula, as the guest does).
#[derive(Debug, Default)]
pub struct NativeCpu {
    last: HashMap<String, Times>,
}

impl NativeCpu {
    /// A collector that has taken its first sample, as the guest's `init` does.
    pub fn new() -> Self {
        let mut c = NativeCpu::default();
        c.collect();
        c
    }

    /// One collection: the points since the previous call.
    ///
    /// # Panics
    /// When /proc/stat cannot be read.
    pub fn collect(&mut self) -> Vec<Point> {
        let text = std::fs::read_to_string("/proc/stat").expect("read /proc/stat");
        let ts = now_ns();
        let mut points = Vec::new();
        let mut now = HashMap::with_capacity(self.last.len());
        for line in text.lines() {
            let mut words = line.split_whitespace();
            let Some(name) = words.next() else { continue };
            let Some(digits) = name.strip_prefix("cpu") else {
                continue;
            };
            let name = if digits.is_empty() { "cpu-total" } else { name };
            let mut t: Times = [0; 10];
            for (slot, w) in t.iter_mut().zip(words) {
                *slot = w.parse().unwrap_or(0);
            }
            if let Some(prev) = self.last.get(name) {
                if let Some(p) = cpu_point(name, prev, &t, ts) {
                    points.push(p);
                }
            }
            now.insert(name.to_string(), t);
        }
        self.last = now;
        points
    }
}

fn cpu_point(name: &str, prev: &Times, cur: &Times, ts: i64) -> Option<Point> {
    // Denominator without guest and guest_nice, which the kernel counts inside user and nice.
    let total = |t: &Times| t[..8].iter().map(|&v| v as f64).sum::<f64>();
    let span = total(cur) - total(prev);
    if span <= 0.0 {
        return None;
    }
    let d = |i: usize| cur[i] as f64 - prev[i] as f64;
    let (guest, guest_nice) = (d(8), d(9));
    let values = [
        d(0) - guest,
        d(2),
        d(3),
        d(1) - guest_nice,
        d(4),
        d(5),
        d(6),
        d(7),
        guest,
        guest_nice,
    ];
    let fields = CPU_FIELDS
        .iter()
        .zip(values)
        .map(|(f, v)| (f.to_string(), FieldValue::Float(100.0 * v / span)))
        .collect();
    Point::new(
        "cpu".into(),
        vec![("cpu".into(), name.to_string())],
        fields,
        ts,
        Category::Metric,
    )
    .ok()
}

/// The /proc/meminfo lines the mem collector copies, and their field names.
const MEM_COPIED: [(&str, &str); 26] = [
    ("Active", "active"),
    ("Inactive", "inactive"),
    ("Slab", "slab"),
    ("SReclaimable", "sreclaimable"),
    ("SUnreclaim", "sunreclaim"),
    ("Shmem", "shared"),
    ("Dirty", "dirty"),
    ("Writeback", "write_back"),
    ("WritebackTmp", "write_back_tmp"),
    ("SwapTotal", "swap_total"),
    ("SwapFree", "swap_free"),
    ("SwapCached", "swap_cached"),
    ("CommitLimit", "commit_limit"),
    ("Committed_AS", "committed_as"),
    ("HugePages_Total", "huge_pages_total"),
    ("HugePages_Free", "huge_pages_free"),
    ("Hugepagesize", "huge_page_size"),
    ("Mapped", "mapped"),
    ("PageTables", "page_tables"),
    ("VmallocTotal", "vmalloc_total"),
    ("VmallocUsed", "vmalloc_used"),
    ("VmallocChunk", "vmalloc_chunk"),
    ("HighTotal", "high_total"),
    ("HighFree", "high_free"),
    ("LowTotal", "low_total"),
    ("LowFree", "low_free"),
];

/// The mem collector, natively: read /proc/meminfo and build one point with the derived fields
/// (total, available, used, free, buffered, cached and the two percentages) and the 26 lines the
/// guest copies (kB values in bytes).
///
/// # Panics
/// When /proc/meminfo cannot be read or has no MemTotal.
pub fn mem_collect() -> Point {
    let text = std::fs::read_to_string("/proc/meminfo").expect("read /proc/meminfo");
    let ts = now_ns();
    let mut lines: Vec<(&str, u64)> = Vec::with_capacity(64);
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let Some(Ok(n)) = words.next().map(str::parse::<u64>) else {
            continue;
        };
        let v = if words.next() == Some("kB") {
            n * 1024
        } else {
            n
        };
        lines.push((key, v));
    }
    let get = |k: &str| lines.iter().find(|(key, _)| *key == k).map(|&(_, v)| v);
    let total = get("MemTotal").expect("MemTotal in /proc/meminfo");
    let free = get("MemFree").unwrap_or(0);
    let buffered = get("Buffers").unwrap_or(0);
    let cached = get("Cached").unwrap_or(0) + get("SReclaimable").unwrap_or(0);
    let available = get("MemAvailable").unwrap_or(free + cached);
    let used = total.saturating_sub(free + buffered + cached);
    let pct = |x: u64| 100.0 * x as f64 / total as f64;
    let mut fields = vec![
        ("total".to_string(), FieldValue::Uint(total)),
        ("available".into(), FieldValue::Uint(available)),
        ("used".into(), FieldValue::Uint(used)),
        ("free".into(), FieldValue::Uint(free)),
        ("buffered".into(), FieldValue::Uint(buffered)),
        ("cached".into(), FieldValue::Uint(cached)),
        ("used_percent".into(), FieldValue::Float(pct(used))),
        (
            "available_percent".into(),
            FieldValue::Float(pct(available)),
        ),
    ];
    for (key, field) in MEM_COPIED {
        if let Some(v) = get(key) {
            fields.push((field.to_string(), FieldValue::Uint(v)));
        }
    }
    Point::new("mem".into(), Vec::new(), fields, ts, Category::Metric).expect("a valid mem point")
}

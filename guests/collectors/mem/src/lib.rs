//! `mem` collector: memory usage from `/proc/meminfo`, with the field names and definitions of
//! Telegraf's `inputs.mem` on Linux (which takes them from gopsutil).
//!
//! Sizes are bytes (`kB` values times 1024); the huge page counts are counts. Derived fields follow
//! gopsutil: `cached` is `Cached + SReclaimable`, `used` is `total - free - buffered - cached`,
//! `used_percent` and `available_percent` are shares of `total`. On kernels older than 3.14 (no
//! `MemAvailable`), `available` falls back to `free + cached`. Fields whose `/proc/meminfo` line
//! the kernel does not have (`HighTotal` on 64-bit, for example) are left out rather than sent as
//! zero.
//!
//! Config: none.

use std::collections::HashMap;

use sandkit_sdk::{
    Collector, Config, Emitter, FieldKind, FieldValue, MeasurementInfo, PluginInfo, Point,
};

const MEMINFO: &str = "/proc/meminfo";

/// Fields always sent (computed), with kind, unit and description.
const DERIVED: [(&str, FieldKind, &str, &str); 8] = [
    ("total", FieldKind::Uint, "bytes", "usable RAM (MemTotal)"),
    (
        "available",
        FieldKind::Uint,
        "bytes",
        "memory available for new work without swapping (MemAvailable)",
    ),
    (
        "used",
        FieldKind::Uint,
        "bytes",
        "total - free - buffered - cached",
    ),
    ("free", FieldKind::Uint, "bytes", "unused RAM (MemFree)"),
    (
        "buffered",
        FieldKind::Uint,
        "bytes",
        "block device buffers (Buffers)",
    ),
    (
        "cached",
        FieldKind::Uint,
        "bytes",
        "page cache plus reclaimable slab (Cached + SReclaimable)",
    ),
    ("used_percent", FieldKind::Float, "percent", "used / total"),
    (
        "available_percent",
        FieldKind::Float,
        "percent",
        "available / total",
    ),
];

/// Fields copied from one `/proc/meminfo` line when the kernel has it: (line key, field, unit,
/// description). A `kB` value is sent in bytes, a bare number as it is.
const COPIED: [(&str, &str, &str, &str); 26] = [
    ("Active", "active", "bytes", "recently used memory (Active)"),
    (
        "Inactive",
        "inactive",
        "bytes",
        "less recently used memory (Inactive)",
    ),
    ("Slab", "slab", "bytes", "kernel slab allocations (Slab)"),
    (
        "SReclaimable",
        "sreclaimable",
        "bytes",
        "reclaimable slab (SReclaimable)",
    ),
    (
        "SUnreclaim",
        "sunreclaim",
        "bytes",
        "unreclaimable slab (SUnreclaim)",
    ),
    (
        "Shmem",
        "shared",
        "bytes",
        "shared memory and tmpfs (Shmem)",
    ),
    (
        "Dirty",
        "dirty",
        "bytes",
        "waiting to be written back to disk (Dirty)",
    ),
    (
        "Writeback",
        "write_back",
        "bytes",
        "being written back to disk (Writeback)",
    ),
    (
        "WritebackTmp",
        "write_back_tmp",
        "bytes",
        "FUSE temporary writeback buffers (WritebackTmp)",
    ),
    ("SwapTotal", "swap_total", "bytes", "swap space (SwapTotal)"),
    (
        "SwapFree",
        "swap_free",
        "bytes",
        "unused swap space (SwapFree)",
    ),
    (
        "SwapCached",
        "swap_cached",
        "bytes",
        "swapped out and back in, still in swap (SwapCached)",
    ),
    (
        "CommitLimit",
        "commit_limit",
        "bytes",
        "memory that can be committed (CommitLimit)",
    ),
    (
        "Committed_AS",
        "committed_as",
        "bytes",
        "memory committed to processes (Committed_AS)",
    ),
    (
        "HugePages_Total",
        "huge_pages_total",
        "count",
        "huge pages in the pool (HugePages_Total)",
    ),
    (
        "HugePages_Free",
        "huge_pages_free",
        "count",
        "unallocated huge pages (HugePages_Free)",
    ),
    (
        "Hugepagesize",
        "huge_page_size",
        "bytes",
        "size of one huge page (Hugepagesize)",
    ),
    (
        "Mapped",
        "mapped",
        "bytes",
        "files mapped into memory (Mapped)",
    ),
    (
        "PageTables",
        "page_tables",
        "bytes",
        "memory used by page tables (PageTables)",
    ),
    (
        "VmallocTotal",
        "vmalloc_total",
        "bytes",
        "vmalloc address space (VmallocTotal)",
    ),
    (
        "VmallocUsed",
        "vmalloc_used",
        "bytes",
        "used vmalloc area (VmallocUsed)",
    ),
    (
        "VmallocChunk",
        "vmalloc_chunk",
        "bytes",
        "largest free vmalloc block (VmallocChunk)",
    ),
    (
        "HighTotal",
        "high_total",
        "bytes",
        "highmem, 32-bit kernels only (HighTotal)",
    ),
    ("HighFree", "high_free", "bytes", "free highmem (HighFree)"),
    (
        "LowTotal",
        "low_total",
        "bytes",
        "lowmem, 32-bit kernels only (LowTotal)",
    ),
    ("LowFree", "low_free", "bytes", "free lowmem (LowFree)"),
];

/// `/proc/meminfo` as key -> value, `kB` values in bytes. Malformed lines are skipped.
fn parse_meminfo(text: &str) -> HashMap<&str, u64> {
    text.lines()
        .filter_map(|line| {
            let (key, rest) = line.split_once(':')?;
            let mut words = rest.split_whitespace();
            let value: u64 = words.next()?.parse().ok()?;
            let value = match words.next() {
                None => value,
                Some("kB") => value.checked_mul(1024)?,
                Some(_) => return None,
            };
            Some((key.trim(), value))
        })
        .collect()
}

/// The `mem` point's fields.
fn fields(info: &HashMap<&str, u64>) -> Result<Vec<(&'static str, FieldValue)>, String> {
    let get = |k: &str| info.get(k).copied();
    let total = get("MemTotal")
        .filter(|&t| t > 0)
        .ok_or_else(|| format!("{MEMINFO} has no MemTotal"))?;
    let free = get("MemFree").ok_or_else(|| format!("{MEMINFO} has no MemFree"))?;
    let buffered = get("Buffers").unwrap_or(0);
    let cached = get("Cached")
        .unwrap_or(0)
        .saturating_add(get("SReclaimable").unwrap_or(0));
    let available = get("MemAvailable").unwrap_or_else(|| cached.saturating_add(free));
    let used = total
        .saturating_sub(free)
        .saturating_sub(buffered)
        .saturating_sub(cached);
    let pct = |x: u64| 100.0 * x as f64 / total as f64;

    let mut out: Vec<(&'static str, FieldValue)> = vec![
        ("total", total.into()),
        ("available", available.into()),
        ("used", used.into()),
        ("free", free.into()),
        ("buffered", buffered.into()),
        ("cached", cached.into()),
        ("used_percent", pct(used).into()),
        ("available_percent", pct(available).into()),
    ];
    for (key, field, _, _) in COPIED {
        if let Some(v) = get(key) {
            out.push((field, v.into()));
        }
    }
    Ok(out)
}

fn read() -> Result<Vec<(&'static str, FieldValue)>, String> {
    fields(&parse_meminfo(&sandkit_sdk::fs::read_to_string(MEMINFO)?))
}

struct Mem;

impl Collector for Mem {
    fn describe() -> PluginInfo {
        let mut m = MeasurementInfo::new("mem", "memory usage, as Telegraf's mem input on Linux");
        for (name, kind, unit, description) in DERIVED {
            m = m.field(name, kind, unit, description);
        }
        for (_, name, unit, description) in COPIED {
            m = m.field(name, FieldKind::Uint, unit, description);
        }
        PluginInfo::new("mem", "0.1.0", "memory usage from /proc/meminfo")
            .interval_ms(10_000, 1_000, 3_600_000)
            .measurement(m)
    }

    fn init(config: Config) -> Result<Self, String> {
        config.check_keys(&[])?;
        read()?;
        Ok(Mem)
    }

    fn collect(&mut self, out: &mut Emitter) -> Result<(), String> {
        let mut p = Point::new("mem");
        for (k, v) in read()? {
            p = p.field(k, v);
        }
        out.push(p);
        Ok(())
    }
}

sandkit_sdk::collector!(Mem);
sandkit_sdk::default_conf!("../conf.toml");

#[cfg(test)]
mod tests {
    use super::*;

    const MEMINFO_X86_64: &str = "\
MemTotal:       24684092 kB
MemFree:        22798776 kB
MemAvailable:   24260012 kB
Buffers:            6728 kB
Cached:          1642204 kB
SwapCached:            0 kB
Active:           695392 kB
Inactive:         949196 kB
Active(anon):       1512 kB
Inactive(anon):     3020 kB
Active(file):     693880 kB
Inactive(file):   946176 kB
Unevictable:       11152 kB
Mlocked:           10084 kB
SwapTotal:       2097148 kB
SwapFree:        2097148 kB
Zswap:                 0 kB
Zswapped:              0 kB
Dirty:            229012 kB
Writeback:             0 kB
AnonPages:          6824 kB
Mapped:            10616 kB
Shmem:              8856 kB
KReclaimable:      85568 kB
Slab:             111240 kB
SReclaimable:      85568 kB
SUnreclaim:        25672 kB
KernelStack:        1328 kB
PageTables:         1476 kB
SecPageTables:         0 kB
NFS_Unstable:          0 kB
Bounce:                0 kB
WritebackTmp:          0 kB
CommitLimit:    12342044 kB
Committed_AS:      49712 kB
VmallocTotal:   34359738367 kB
VmallocUsed:       14108 kB
VmallocChunk:          0 kB
Percpu:              664 kB
AnonHugePages:         0 kB
HugePages_Total:      16
HugePages_Free:        8
HugePages_Rsvd:        0
HugePages_Surp:        0
Hugepagesize:       2048 kB
Hugetlb:           32768 kB
DirectMap4k:       32768 kB
DirectMap2M:     2064384 kB
DirectMap1G:    25165824 kB
";

    fn field<'a>(f: &'a [(&str, FieldValue)], name: &str) -> Option<&'a FieldValue> {
        f.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    #[test]
    fn derived_fields_like_gopsutil() {
        let f = fields(&parse_meminfo(MEMINFO_X86_64)).expect("fields");
        let kib = |x: u64| FieldValue::Uint(x * 1024);
        assert_eq!(field(&f, "total"), Some(&kib(24684092)));
        assert_eq!(field(&f, "free"), Some(&kib(22798776)));
        assert_eq!(field(&f, "available"), Some(&kib(24260012)));
        assert_eq!(field(&f, "buffered"), Some(&kib(6728)));
        assert_eq!(field(&f, "cached"), Some(&kib(1642204 + 85568)));
        let used = 24684092 - 22798776 - 6728 - (1642204 + 85568);
        assert_eq!(field(&f, "used"), Some(&kib(used)));
        let Some(FieldValue::Float(p)) = field(&f, "used_percent") else {
            panic!("used_percent");
        };
        assert!((p - 100.0 * used as f64 / 24684092.0).abs() < 1e-9);
        let Some(FieldValue::Float(p)) = field(&f, "available_percent") else {
            panic!("available_percent");
        };
        assert!((p - 100.0 * 24260012.0 / 24684092.0).abs() < 1e-9);
    }

    #[test]
    fn copied_fields_units() {
        let f = fields(&parse_meminfo(MEMINFO_X86_64)).expect("fields");
        assert_eq!(field(&f, "huge_pages_total"), Some(&FieldValue::Uint(16)));
        assert_eq!(field(&f, "huge_pages_free"), Some(&FieldValue::Uint(8)));
        assert_eq!(
            field(&f, "huge_page_size"),
            Some(&FieldValue::Uint(2048 * 1024))
        );
        assert_eq!(
            field(&f, "vmalloc_total"),
            Some(&FieldValue::Uint(34359738367 * 1024))
        );
        assert_eq!(
            field(&f, "committed_as"),
            Some(&FieldValue::Uint(49712 * 1024))
        );
        assert_eq!(field(&f, "shared"), Some(&FieldValue::Uint(8856 * 1024)));
        assert_eq!(field(&f, "write_back"), Some(&FieldValue::Uint(0)));
        // Not on a 64-bit kernel: left out.
        assert_eq!(field(&f, "high_total"), None);
        assert_eq!(field(&f, "low_free"), None);
        // Lines Telegraf does not report are not copied.
        assert!(f.iter().all(|(k, _)| !k.contains("anon")));
        // 8 derived + 24 copied (no high/low on x86_64) = 30 fields.
        assert_eq!(f.len(), 8 + 22);
    }

    #[test]
    fn old_kernel_without_memavailable() {
        let text = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 200 kB\n\
                    SReclaimable: 25 kB\nHighTotal: 0 kB\nLowTotal: 1000 kB\n";
        let f = fields(&parse_meminfo(text)).expect("fields");
        assert_eq!(field(&f, "available"), Some(&FieldValue::Uint(325 * 1024)));
        assert_eq!(field(&f, "used"), Some(&FieldValue::Uint(625 * 1024)));
        assert_eq!(field(&f, "high_total"), Some(&FieldValue::Uint(0)));
        assert_eq!(field(&f, "low_total"), Some(&FieldValue::Uint(1000 * 1024)));
    }

    #[test]
    fn malformed_lines_are_skipped_and_missing_total_is_an_error() {
        let info = parse_meminfo("MemTotal: lots kB\nMemFree: 1 MB\nnonsense\nDirty: 3 kB\n");
        assert_eq!(info.len(), 1);
        assert_eq!(info.get("Dirty"), Some(&3072));
        assert!(fields(&info).is_err());
        assert!(fields(&parse_meminfo("MemTotal: 0 kB\nMemFree: 0 kB\n")).is_err());
    }

    #[test]
    fn used_does_not_wrap() {
        let f = fields(&parse_meminfo(
            "MemTotal: 100 kB\nMemFree: 90 kB\nCached: 50 kB\n",
        ))
        .expect("fields");
        assert_eq!(field(&f, "used"), Some(&FieldValue::Uint(0)));
    }
}

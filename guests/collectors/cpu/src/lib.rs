//! `cpu` collector: CPU usage in percent, computed from `/proc/stat` the way Telegraf's
//! `inputs.cpu` does (with `collect_cpu_time = false`, `report_active = false`).
//!
//! One `cpu` point per CPU (tag `cpu` = `cpu0`, `cpu1`, ...) when `percpu` is on, and one for the
//! whole machine (`cpu = cpu-total`) when `totalcpu` is on. Each field is the share of the time
//! elapsed since the previous sample spent in one state. The kernel counts guest time inside user
//! time (and guest_nice inside nice), so `usage_user` and `usage_nice` have the guest parts taken
//! out, and the total used as the denominator leaves guest and guest_nice out, exactly like
//! Telegraf. `init` takes a first sample so the first `collect` already reports usage since
//! `init`. A CPU that appears between two samples (hot-plug) is reported from the next sample on.
//!
//! Config: `percpu` (bool, default true), `totalcpu` (bool, default true).

use std::collections::HashMap;

use sandkit_sdk::{Collector, Config, Emitter, FieldKind, MeasurementInfo, PluginInfo, Point};

const STAT: &str = "/proc/stat";
const TOTAL: &str = "cpu-total";

/// The usage fields, in the order they are emitted, with their descriptions.
const FIELDS: [(&str, &str); 10] = [
    ("usage_user", "time in user mode, guest time excluded"),
    ("usage_system", "time in kernel mode"),
    ("usage_idle", "idle time"),
    (
        "usage_nice",
        "time in user mode at low priority, guest_nice time excluded",
    ),
    ("usage_iowait", "idle time with I/O outstanding"),
    ("usage_irq", "time servicing hardware interrupts"),
    ("usage_softirq", "time servicing software interrupts"),
    (
        "usage_steal",
        "time stolen by the hypervisor for other guests",
    ),
    ("usage_guest", "time running a virtual CPU for a guest"),
    (
        "usage_guest_nice",
        "time running a niced guest's virtual CPU",
    ),
];

/// Cumulative times of one CPU line of `/proc/stat`, in clock ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Times {
    user: u64,
    nice: u64,
    system: u64,
    idle: u64,
    iowait: u64,
    irq: u64,
    softirq: u64,
    steal: u64,
    guest: u64,
    guest_nice: u64,
}

impl Times {
    /// The denominator Telegraf uses: guest and guest_nice are already inside user and nice.
    fn total(&self) -> f64 {
        [
            self.user,
            self.system,
            self.nice,
            self.iowait,
            self.irq,
            self.softirq,
            self.steal,
            self.idle,
        ]
        .iter()
        .map(|&t| t as f64)
        .sum()
    }
}

/// The CPU lines of `/proc/stat`: `("cpu-total", ..)` for the `cpu` line and `("cpuN", ..)` for
/// each CPU. Lines that do not parse are skipped.
fn parse_stat(text: &str) -> Vec<(String, Times)> {
    text.lines().filter_map(parse_cpu_line).collect()
}

fn parse_cpu_line(line: &str) -> Option<(String, Times)> {
    let mut words = line.split_whitespace();
    let name = words.next()?;
    let digits = name.strip_prefix("cpu")?;
    let name = if digits.is_empty() {
        TOTAL.to_string()
    } else if digits.bytes().all(|b| b.is_ascii_digit()) {
        name.to_string()
    } else {
        return None;
    };
    let values = words
        .map(str::parse::<u64>)
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    // user..softirq exist since Linux 2.6; steal, guest and guest_nice came later.
    if values.len() < 7 {
        return None;
    }
    let at = |i: usize| values.get(i).copied().unwrap_or(0);
    Some((
        name,
        Times {
            user: at(0),
            nice: at(1),
            system: at(2),
            idle: at(3),
            iowait: at(4),
            irq: at(5),
            softirq: at(6),
            steal: at(7),
            guest: at(8),
            guest_nice: at(9),
        },
    ))
}

/// What comparing two samples of one CPU gives.
#[derive(Debug, PartialEq)]
enum Usage {
    /// The usage fields, in the order of [`FIELDS`].
    Percent([f64; 10]),
    /// No tick elapsed: nothing to report (Telegraf skips the CPU too).
    NoTime,
    /// The total went backwards (counter reset or a different CPU behind the same name).
    Backwards,
}

fn usage(prev: &Times, cur: &Times) -> Usage {
    let total = cur.total() - prev.total();
    if total < 0.0 {
        return Usage::Backwards;
    }
    if total == 0.0 {
        return Usage::NoTime;
    }
    let d = |c: u64, p: u64| c as f64 - p as f64;
    let guest = d(cur.guest, prev.guest);
    let guest_nice = d(cur.guest_nice, prev.guest_nice);
    let pct = |x: f64| 100.0 * x / total;
    Usage::Percent([
        pct(d(cur.user, prev.user) - guest),
        pct(d(cur.system, prev.system)),
        pct(d(cur.idle, prev.idle)),
        pct(d(cur.nice, prev.nice) - guest_nice),
        pct(d(cur.iowait, prev.iowait)),
        pct(d(cur.irq, prev.irq)),
        pct(d(cur.softirq, prev.softirq)),
        pct(d(cur.steal, prev.steal)),
        pct(guest),
        pct(guest_nice),
    ])
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Options {
    percpu: bool,
    totalcpu: bool,
}

fn options(config: &Config) -> Result<Options, String> {
    config.check_keys(&["percpu", "totalcpu"])?;
    let opts = Options {
        percpu: config.bool_or("percpu", true)?,
        totalcpu: config.bool_or("totalcpu", true)?,
    };
    if !opts.percpu && !opts.totalcpu {
        return Err("percpu and totalcpu are both false: nothing to collect".into());
    }
    Ok(opts)
}

/// The points for one sample against the previous one, and the names of the CPUs whose total
/// went backwards.
fn points(
    opts: Options,
    last: &HashMap<String, Times>,
    now: &[(String, Times)],
) -> (Vec<Point>, Vec<String>) {
    let mut out = Vec::new();
    let mut backwards = Vec::new();
    for (name, cur) in now {
        let wanted = if name == TOTAL {
            opts.totalcpu
        } else {
            opts.percpu
        };
        if !wanted {
            continue;
        }
        let Some(prev) = last.get(name) else {
            continue;
        };
        match usage(prev, cur) {
            Usage::Percent(values) => {
                let mut p = Point::new("cpu").tag("cpu", name.as_str());
                for ((field, _), v) in FIELDS.iter().zip(values) {
                    p = p.field(*field, v);
                }
                out.push(p);
            }
            Usage::NoTime => {}
            Usage::Backwards => backwards.push(name.clone()),
        }
    }
    (out, backwards)
}

fn read_stat() -> Result<Vec<(String, Times)>, String> {
    let text = sandkit_sdk::fs::read_to_string(STAT)?;
    let sample = parse_stat(&text);
    if sample.is_empty() {
        return Err(format!("{STAT} has no cpu lines"));
    }
    Ok(sample)
}

struct Cpu {
    opts: Options,
    last: HashMap<String, Times>,
}

impl Collector for Cpu {
    fn describe() -> PluginInfo {
        let mut m = MeasurementInfo::new(
            "cpu",
            "CPU time shares since the previous sample, as Telegraf's cpu input",
        )
        .tag("cpu", "cpu-total for the whole machine, cpuN for one CPU");
        for (field, description) in FIELDS {
            m = m.field(field, FieldKind::Float, "percent", description);
        }
        PluginInfo::new(
            "cpu",
            "0.1.0",
            "CPU usage per CPU and in total, from /proc/stat",
        )
        .interval_ms(10_000, 1_000, 3_600_000)
        .measurement(m)
    }

    fn init(config: Config) -> Result<Self, String> {
        let opts = options(&config)?;
        let last = read_stat()?.into_iter().collect();
        Ok(Cpu { opts, last })
    }

    fn collect(&mut self, out: &mut Emitter) -> Result<(), String> {
        let now = read_stat()?;
        let (points, backwards) = points(self.opts, &self.last, &now);
        self.last = now.into_iter().collect();
        for p in points {
            out.push(p);
        }
        if backwards.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "current total CPU time is less than the previous one for {}",
                backwards.join(", ")
            ))
        }
    }
}

sandkit_sdk::collector!(Cpu);
sandkit_sdk::default_conf!("../conf.toml");

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const STAT_A: &str = "\
cpu  85592 9564 10477 187466 483 0 65 766 0 0
cpu0 42512 4798 5039 94365 111 0 6 364 0 0
cpu1 43080 4766 5438 93100 372 0 59 402 0 0
intr 425012 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 1 13 0 0
ctxt 371690
btime 1795320228
processes 8873
procs_running 1
procs_blocked 0
softirq 164607 0 34794 5 2446 14837 0 132 46922 0 65471
";

    // 1000 ticks later on each CPU, with guest time inside user and guest_nice inside nice.
    const STAT_B: &str = "\
cpu  86192 9664 10677 188366 583 10 75 806 200 40
cpu0 42812 4848 5139 94815 161 5 11 384 100 20
cpu1 43380 4816 5538 93551 422 5 64 422 100 20
intr 425900 0 0 0
ctxt 371990
";

    fn times(sample: &[(String, Times)], name: &str) -> Times {
        sample
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| *t)
            .expect("cpu in sample")
    }

    #[test]
    fn parses_cpu_lines_only() {
        let s = parse_stat(STAT_A);
        let names: Vec<_> = s.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["cpu-total", "cpu0", "cpu1"]);
        assert_eq!(
            times(&s, "cpu0"),
            Times {
                user: 42512,
                nice: 4798,
                system: 5039,
                idle: 94365,
                iowait: 111,
                irq: 0,
                softirq: 6,
                steal: 364,
                guest: 0,
                guest_nice: 0,
            }
        );
    }

    #[test]
    fn old_kernels_without_steal_and_guest() {
        let s = parse_stat("cpu  10 20 30 40 50 60 70\n");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].1.softirq, 70);
        assert_eq!(s[0].1.steal, 0);
        assert_eq!(s[0].1.guest_nice, 0);
    }

    #[test]
    fn skips_malformed_lines() {
        let s =
            parse_stat("cpu 1 2 3\ncpux 1 2 3 4 5 6 7\ncpu0 1 2 x 4 5 6 7\ncpu1 1 2 3 4 5 6 7\n");
        let names: Vec<_> = s.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["cpu1"]);
    }

    #[test]
    fn usage_like_telegraf() {
        let a = parse_stat(STAT_A);
        let b = parse_stat(STAT_B);
        let Usage::Percent(u) = usage(&times(&a, "cpu0"), &times(&b, "cpu0")) else {
            panic!("expected percentages");
        };
        // Deltas: user 300 (guest 100), nice 50 (guest_nice 20), system 100, idle 450,
        // iowait 50, irq 5, softirq 5, steal 20; total = 300+100+50+50+5+5+20+450 = 980.
        let total = 980.0;
        let expected = [200.0, 100.0, 450.0, 30.0, 50.0, 5.0, 5.0, 20.0, 100.0, 20.0]
            .map(|x: f64| 100.0 * x / total);
        for (got, want) in u.iter().zip(expected) {
            assert!((got - want).abs() < 1e-9, "{got} != {want}");
        }
        // Guest time is taken out of user and nice but stays in the total, so all ten add up
        // to 100 %.
        let sum: f64 = u.iter().sum();
        assert!((sum - 100.0).abs() < 1e-9);
    }

    #[test]
    fn no_time_and_backwards() {
        let a = times(&parse_stat(STAT_A), "cpu-total");
        assert_eq!(usage(&a, &a), Usage::NoTime);
        let b = times(&parse_stat(STAT_B), "cpu-total");
        assert_eq!(usage(&b, &a), Usage::Backwards);
    }

    #[test]
    fn points_follow_options() {
        let last: HashMap<_, _> = parse_stat(STAT_A).into_iter().collect();
        let now = parse_stat(STAT_B);
        let all = Options {
            percpu: true,
            totalcpu: true,
        };
        let (p, back) = points(all, &last, &now);
        assert_eq!(p.len(), 3);
        assert!(back.is_empty());
        let total_only = Options {
            percpu: false,
            totalcpu: true,
        };
        let (p, _) = points(total_only, &last, &now);
        assert_eq!(p.len(), 1);
        let Usage::Percent(u) = usage(
            &times(&parse_stat(STAT_A), "cpu-total"),
            &times(&now, "cpu-total"),
        ) else {
            panic!("expected percentages");
        };
        let mut want = Point::new("cpu").tag("cpu", "cpu-total");
        for ((f, _), v) in FIELDS.iter().zip(u) {
            want = want.field(*f, v);
        }
        assert_eq!(p[0], want);
    }

    #[test]
    fn new_cpu_waits_for_a_second_sample() {
        let last: HashMap<_, _> = parse_stat("cpu0 1 2 3 4 5 6 7 0 0 0\n")
            .into_iter()
            .collect();
        let now = parse_stat("cpu0 2 2 3 4 5 6 7 0 0 0\ncpu1 9 9 9 9 9 9 9 0 0 0\n");
        let opts = Options {
            percpu: true,
            totalcpu: true,
        };
        let (p, _) = points(opts, &last, &now);
        assert_eq!(p.len(), 1);
    }

    fn options_of(config: serde_json::Value) -> Result<Options, String> {
        options(&Config::from_value(config))
    }

    #[test]
    fn config() {
        assert_eq!(
            options(&Config::default()),
            Ok(Options {
                percpu: true,
                totalcpu: true
            })
        );
        assert_eq!(
            options_of(json!({"percpu": false})),
            Ok(Options {
                percpu: false,
                totalcpu: true
            })
        );
        assert!(options_of(json!({"percpu": false, "totalcpu": false})).is_err());
        assert_eq!(
            options_of(json!({"percpu": "yes"})),
            Err("config key \"percpu\": expected a boolean".to_string())
        );
        assert_eq!(
            options_of(json!({"per_cpu": true})),
            Err("unknown config key \"per_cpu\" (known: percpu, totalcpu)".to_string())
        );
        assert!(options_of(json!([1])).is_err());
    }
}

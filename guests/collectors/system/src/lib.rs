//! `system` collector: load averages, CPU count and uptime, with the names of Telegraf's
//! `inputs.system`.
//!
//! `load1`, `load5` and `load15` come from `/proc/loadavg`, `n_cpus` is the number of `cpuN`
//! lines in `/proc/stat` (the CPUs online), and `uptime` is the whole seconds of `/proc/uptime`.
//! Telegraf's `n_users` and `n_unique_users` are left out: counting logged-in users needs
//! `/var/run/utmp`, which the sandbox does not grant. The deprecated `uptime_format` text field is
//! left out too.
//!
//! Config: none.

use sandkit_sdk::fs::read_to_string as read;
use sandkit_sdk::{Collector, Config, Emitter, FieldKind, MeasurementInfo, PluginInfo, Point};

const LOADAVG: &str = "/proc/loadavg";
const STAT: &str = "/proc/stat";
const UPTIME: &str = "/proc/uptime";

/// The three load averages of `/proc/loadavg`.
fn parse_loadavg(text: &str) -> Result<[f64; 3], String> {
    let mut w = text.split_whitespace();
    let mut next = || -> Result<f64, String> {
        w.next()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("{LOADAVG}: unexpected content {:?}", text.trim()))
    };
    Ok([next()?, next()?, next()?])
}

/// The number of `cpuN` lines in `/proc/stat`.
fn count_cpus(stat: &str) -> u64 {
    stat.lines()
        .filter_map(|l| l.split_whitespace().next()?.strip_prefix("cpu"))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .count() as u64
}

/// The whole seconds since boot in `/proc/uptime`.
fn parse_uptime(text: &str) -> Result<u64, String> {
    text.split_whitespace()
        .next()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|x| x.is_finite() && *x >= 0.0)
        .map(|x| x as u64)
        .ok_or_else(|| format!("{UPTIME}: unexpected content {:?}", text.trim()))
}

fn point(loadavg: &str, stat: &str, uptime: &str) -> Result<Point, String> {
    let [load1, load5, load15] = parse_loadavg(loadavg)?;
    let n_cpus = count_cpus(stat);
    if n_cpus == 0 {
        return Err(format!("{STAT} has no cpuN lines"));
    }
    Ok(Point::new("system")
        .field("load1", load1)
        .field("load5", load5)
        .field("load15", load15)
        .field("n_cpus", n_cpus)
        .field("uptime", parse_uptime(uptime)?))
}

struct System;

impl System {
    fn sample() -> Result<Point, String> {
        point(&read(LOADAVG)?, &read(STAT)?, &read(UPTIME)?)
    }
}

impl Collector for System {
    fn describe() -> PluginInfo {
        let f = FieldKind::Float;
        PluginInfo::new("system", "0.1.0", "load averages, CPU count and uptime")
            .interval_ms(10_000, 1_000, 3_600_000)
            .measurement(
                MeasurementInfo::new("system", "machine-wide figures, as Telegraf's system input")
                    .field("load1", f, "", "load average over 1 minute")
                    .field("load5", f, "", "load average over 5 minutes")
                    .field("load15", f, "", "load average over 15 minutes")
                    .field("n_cpus", FieldKind::Uint, "count", "CPUs online")
                    .field("uptime", FieldKind::Uint, "s", "seconds since boot"),
            )
    }

    fn init(config: Config) -> Result<Self, String> {
        config.check_keys(&[])?;
        Self::sample()?;
        Ok(System)
    }

    fn collect(&mut self, out: &mut Emitter) -> Result<(), String> {
        out.push(Self::sample()?);
        Ok(())
    }
}

sandkit_sdk::collector!(System);
sandkit_sdk::default_conf!("../conf.toml");

#[cfg(test)]
mod tests {
    use super::*;

    const STAT_SAMPLE: &str = "\
cpu  85592 9564 10477 187466 483 0 65 766 0 0
cpu0 42512 4798 5039 94365 111 0 6 364 0 0
cpu1 43080 4766 5438 93100 372 0 59 402 0 0
cpu2 43080 4766 5438 93100 372 0 59 402 0 0
cpu3 43080 4766 5438 93100 372 0 59 402 0 0
intr 425012 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 1 13 0 0
ctxt 371690
btime 1795320228
processes 8873
procs_running 1
procs_blocked 0
softirq 164607 0 34794 5 2446 14837 0 132 46922 0 65471
";

    #[test]
    fn full_point() {
        let p = point(
            "0.88 1.67 1.12 1/81 8878\n",
            STAT_SAMPLE,
            "1474.86 1874.66\n",
        );
        let want = Point::new("system")
            .field("load1", 0.88)
            .field("load5", 1.67)
            .field("load15", 1.12)
            .field("n_cpus", 4u64)
            .field("uptime", 1474u64);
        assert_eq!(p, Ok(want));
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert!(parse_loadavg("0.1 0.2\n").is_err());
        assert!(parse_loadavg("0.1 x 0.3 1/2 3\n").is_err());
        assert!(parse_uptime("").is_err());
        assert!(parse_uptime("-1 2").is_err());
        assert!(point("0.1 0.2 0.3 1/2 3", "intr 1\n", "1 2").is_err());
    }

    #[test]
    fn counts_only_numbered_cpus() {
        assert_eq!(count_cpus("cpu 1 2\ncpu0 1\ncpu12 1\ncpux 1\nintr 1\n"), 2);
    }
}

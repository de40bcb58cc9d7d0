//! `net` collector: cumulative traffic counters of each network interface from `/proc/net/dev`,
//! with the names of Telegraf's `inputs.net`.
//!
//! One `net` point per interface (tag `interface`). Differences from Telegraf: Telegraf skips
//! loopback and interfaces that are down unless `interfaces` lists them; the interface flags are
//! not readable from `/proc/net/dev`, so this collector reports every interface, `lo` included
//! unless `skip_loopback = true`. Telegraf's protocol statistics (the `interface=all` point from
//! `/proc/net/snmp`) are not collected, so `ignore_protocol_stats` is accepted and has no effect.
//!
//! Config: `interfaces` (list of exact interface names; default all), `skip_loopback` (bool,
//! default false), `ignore_protocol_stats` (bool, ignored).

use sandkit_sdk::{Collector, Config, Emitter, FieldKind, MeasurementInfo, PluginInfo, Point};

const NET_DEV: &str = "/proc/net/dev";
const LOOPBACK: &str = "lo";

/// The fields in emission order: (name, unit, description, column in the counters after the
/// colon of a `/proc/net/dev` line).
const FIELDS: [(&str, &str, &str, usize); 8] = [
    ("bytes_sent", "bytes", "bytes sent", 8),
    ("bytes_recv", "bytes", "bytes received", 0),
    ("packets_sent", "count", "packets sent", 9),
    ("packets_recv", "count", "packets received", 1),
    ("err_in", "count", "receive errors", 2),
    ("err_out", "count", "transmit errors", 10),
    ("drop_in", "count", "received packets dropped", 3),
    ("drop_out", "count", "transmitted packets dropped", 11),
];

/// One interface line of `/proc/net/dev`, values in the order of [`FIELDS`].
#[derive(Debug, Clone, PartialEq)]
struct Interface {
    name: String,
    values: [u64; 8],
}

/// The interfaces in `/proc/net/dev`. The two header lines have no colon and are skipped, as are
/// lines with fewer than 16 counters or a counter that is not a number.
fn parse_net_dev(text: &str) -> Vec<Interface> {
    text.lines()
        .filter_map(|line| {
            let (name, counters) = line.split_once(':')?;
            let name = name.trim();
            let c = counters
                .split_whitespace()
                .map(str::parse::<u64>)
                .collect::<Result<Vec<_>, _>>()
                .ok()?;
            if name.is_empty() || c.len() < 16 {
                return None;
            }
            Some(Interface {
                name: name.to_string(),
                values: FIELDS.map(|(_, _, _, col)| c[col]),
            })
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Options {
    interfaces: Option<Vec<String>>,
    skip_loopback: bool,
}

impl Options {
    fn wanted(&self, name: &str) -> bool {
        match &self.interfaces {
            Some(list) => list.iter().any(|i| i == name),
            None => !(self.skip_loopback && name == LOOPBACK),
        }
    }
}

fn options(config: &Config) -> Result<Options, String> {
    config.check_keys(&["interfaces", "skip_loopback", "ignore_protocol_stats"])?;
    // Accepted for Telegraf compatibility and checked, but it has nothing to turn off.
    config.bool_or("ignore_protocol_stats", false)?;
    Ok(Options {
        interfaces: config.get_str_list("interfaces")?,
        skip_loopback: config.bool_or("skip_loopback", false)?,
    })
}

fn point(i: &Interface) -> Point {
    let mut p = Point::new("net").tag("interface", i.name.as_str());
    for ((field, _, _, _), v) in FIELDS.iter().zip(i.values) {
        p = p.field(*field, v);
    }
    p
}

fn read() -> Result<Vec<Interface>, String> {
    sandkit_sdk::fs::read_to_string(NET_DEV).map(|text| parse_net_dev(&text))
}

struct Net {
    opts: Options,
}

impl Collector for Net {
    fn describe() -> PluginInfo {
        let mut m = MeasurementInfo::new(
            "net",
            "cumulative traffic counters of one interface, as Telegraf's net input",
        )
        .tag("interface", "interface name");
        for (field, unit, description, _) in FIELDS {
            m = m.field(field, FieldKind::Uint, unit, description);
        }
        PluginInfo::new(
            "net",
            "0.1.0",
            "network interface counters from /proc/net/dev",
        )
        .interval_ms(10_000, 1_000, 3_600_000)
        .measurement(m)
    }

    fn init(config: Config) -> Result<Self, String> {
        let opts = options(&config)?;
        read()?;
        Ok(Net { opts })
    }

    fn collect(&mut self, out: &mut Emitter) -> Result<(), String> {
        for i in read()? {
            if self.opts.wanted(&i.name) {
                out.push(point(&i));
            }
        }
        Ok(())
    }
}

sandkit_sdk::collector!(Net);
sandkit_sdk::default_conf!("../conf.toml");

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NET_DEV_SAMPLE: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0
  eth0: 84055793    3504    1    2    0     0          0         0   170716    1569    3    4    0     0       0          0
wlp2s0:18446744073709551615 7 0 0 0 0 0 0 42 6 0 0 0 0 0 0
 bad0: 1 2 3
 bad1: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 x
";

    #[test]
    fn parses_interfaces() {
        let i = parse_net_dev(NET_DEV_SAMPLE);
        let names: Vec<_> = i.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["lo", "eth0", "wlp2s0"]);
        assert_eq!(i[1].values, [170716, 84055793, 1569, 3504, 1, 3, 2, 4]);
        // Old kernels print no space after the colon; counters can be large.
        assert_eq!(i[2].values[1], u64::MAX);
    }

    #[test]
    fn point_fields() {
        let i = &parse_net_dev(NET_DEV_SAMPLE)[1];
        let want = Point::new("net")
            .tag("interface", "eth0")
            .field("bytes_sent", 170716u64)
            .field("bytes_recv", 84055793u64)
            .field("packets_sent", 1569u64)
            .field("packets_recv", 3504u64)
            .field("err_in", 1u64)
            .field("err_out", 3u64)
            .field("drop_in", 2u64)
            .field("drop_out", 4u64);
        assert_eq!(point(i), want);
    }

    fn options_of(config: serde_json::Value) -> Result<Options, String> {
        options(&Config::from_value(config))
    }

    #[test]
    fn filters() {
        let d = options(&Config::default()).expect("defaults");
        assert!(d.wanted("lo") && d.wanted("eth0"));
        let s = options_of(json!({"skip_loopback": true})).expect("options");
        assert!(!s.wanted("lo") && s.wanted("eth0"));
        let only =
            options_of(json!({"interfaces": ["lo"], "skip_loopback": true})).expect("options");
        assert!(only.wanted("lo") && !only.wanted("eth0"));
    }

    #[test]
    fn config_errors() {
        assert!(options_of(json!({"ignore_protocol_stats": true})).is_ok());
        assert_eq!(
            options_of(json!({"ignore_protocol_stats": "yes"})),
            Err("config key \"ignore_protocol_stats\": expected a boolean".to_string())
        );
        assert!(options_of(json!({"interfaces": "eth0"})).is_err());
        assert!(options_of(json!({"skip_loopback": 1})).is_err());
        assert_eq!(
            options_of(json!({"iface": ["eth0"]})),
            Err(
                "unknown config key \"iface\" (known: interfaces, skip_loopback, ignore_protocol_stats)"
                    .to_string()
            )
        );
    }
}

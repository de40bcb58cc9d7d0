//! `diskio` collector: cumulative I/O counters of each block device from `/proc/diskstats`, with
//! the names of Telegraf's `inputs.diskio`.
//!
//! One `diskio` point per device (tag `name`, the kernel's device name such as `sda` or
//! `nvme0n1p1`). Byte counts are sectors times 512 (the kernel always counts 512-byte sectors
//! there); times are milliseconds. Counters are sent as they are: rates are for the query side.
//! Telegraf's `serial` tag and udev-based `name_templates` need udev's database, which the
//! sandbox does not grant, so they are left out.
//!
//! Config: `devices` (list of exact device names; default every device except `loop*` and
//! `ram*`).

use sandkit_sdk::{Collector, Config, Emitter, FieldKind, MeasurementInfo, PluginInfo, Point};

const DISKSTATS: &str = "/proc/diskstats";
const SECTOR: u64 = 512;

/// The fields in emission order, with unit and description.
const FIELDS: [(&str, &str, &str); 11] = [
    ("reads", "count", "reads completed"),
    ("writes", "count", "writes completed"),
    ("read_bytes", "bytes", "bytes read"),
    ("write_bytes", "bytes", "bytes written"),
    ("read_time", "ms", "time spent reading"),
    ("write_time", "ms", "time spent writing"),
    ("io_time", "ms", "time the device had I/O in flight"),
    (
        "weighted_io_time",
        "ms",
        "I/O time weighted by the number of requests in flight",
    ),
    ("iops_in_progress", "count", "requests in flight now"),
    ("merged_reads", "count", "adjacent reads merged into one"),
    ("merged_writes", "count", "adjacent writes merged into one"),
];

/// One device line of `/proc/diskstats`, values in the order of [`FIELDS`].
#[derive(Debug, Clone, PartialEq)]
struct Device {
    name: String,
    values: [u64; 11],
}

/// The devices in `/proc/diskstats`. Lines with fewer than 14 fields or a field that is not a
/// number are skipped. Only the first 14 fields are read (later kernels append discard and flush
/// counters).
fn parse_diskstats(text: &str) -> Vec<Device> {
    text.lines()
        .filter_map(|line| {
            let w: Vec<&str> = line.split_whitespace().collect();
            if w.len() < 14 {
                return None;
            }
            let n = |i: usize| w[i].parse::<u64>().ok();
            // 3 reads, 4 merged reads, 5 sectors read, 6 ms reading, 7 writes, 8 merged writes,
            // 9 sectors written, 10 ms writing, 11 in flight, 12 ms doing I/O, 13 weighted ms.
            Some(Device {
                name: w[2].to_string(),
                values: [
                    n(3)?,
                    n(7)?,
                    n(5)?.checked_mul(SECTOR)?,
                    n(9)?.checked_mul(SECTOR)?,
                    n(6)?,
                    n(10)?,
                    n(12)?,
                    n(13)?,
                    n(11)?,
                    n(4)?,
                    n(8)?,
                ],
            })
        })
        .collect()
}

/// Whether to report `name`: the listed devices only when `devices` is set, otherwise all but
/// loop and ram disks.
fn wanted(name: &str, devices: Option<&[String]>) -> bool {
    match devices {
        Some(list) => list.iter().any(|d| d == name),
        None => !name.starts_with("loop") && !name.starts_with("ram"),
    }
}

fn point(d: &Device) -> Point {
    let mut p = Point::new("diskio").tag("name", d.name.as_str());
    for ((field, _, _), v) in FIELDS.iter().zip(d.values) {
        p = p.field(*field, v);
    }
    p
}

fn devices_option(config: &Config) -> Result<Option<Vec<String>>, String> {
    config.check_keys(&["devices"])?;
    config.get_str_list("devices")
}

fn read() -> Result<Vec<Device>, String> {
    sandkit_sdk::fs::read_to_string(DISKSTATS).map(|text| parse_diskstats(&text))
}

struct DiskIo {
    devices: Option<Vec<String>>,
}

impl Collector for DiskIo {
    fn describe() -> PluginInfo {
        let mut m = MeasurementInfo::new(
            "diskio",
            "cumulative I/O counters of one block device, as Telegraf's diskio input",
        )
        .tag(
            "name",
            "device name as the kernel has it (sda, nvme0n1p1, ...)",
        );
        for (field, unit, description) in FIELDS {
            m = m.field(field, FieldKind::Uint, unit, description);
        }
        PluginInfo::new(
            "diskio",
            "0.1.0",
            "block device I/O counters from /proc/diskstats",
        )
        .interval_ms(10_000, 1_000, 3_600_000)
        .measurement(m)
    }

    fn init(config: Config) -> Result<Self, String> {
        let devices = devices_option(&config)?;
        read()?;
        Ok(DiskIo { devices })
    }

    fn collect(&mut self, out: &mut Emitter) -> Result<(), String> {
        for d in read()? {
            if wanted(&d.name, self.devices.as_deref()) {
                out.push(point(&d));
            }
        }
        Ok(())
    }
}

sandkit_sdk::collector!(DiskIo);
sandkit_sdk::default_conf!("../conf.toml");

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Linux 5.x: 20 fields per line (discard and flush counters at the end).
    const DISKSTATS_SAMPLE: &str = "\
   7       0 loop0 46 0 2204 12 0 0 0 0 0 40 12 0 0 0 0 0 0
   1       0 ram0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
 254       0 vda 23841 5965 3305818 64722 4150 27493 4752512 25198 2 9036 90598 4415 54 399424 673 43 3
 259       0 nvme0n1 182204 43617 14187706 33893 548721 318016 26483080 344851 0 260824 393460 0 0 0 0 21009 14714
 259       1 nvme0n1p1 433 1045 13242 94 2 0 2 0 0 112 95 0 0 0 0 0 0
   8       0 sda 1 2 3
   8      16 sdb x 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
";

    #[test]
    fn parses_and_converts_sectors() {
        let d = parse_diskstats(DISKSTATS_SAMPLE);
        let names: Vec<_> = d.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["loop0", "ram0", "vda", "nvme0n1", "nvme0n1p1"]);
        assert_eq!(
            d[2],
            Device {
                name: "vda".into(),
                values: [
                    23841,
                    4150,
                    3305818 * 512,
                    4752512 * 512,
                    64722,
                    25198,
                    9036,
                    90598,
                    2,
                    5965,
                    27493,
                ],
            }
        );
    }

    #[test]
    fn old_kernel_with_14_fields() {
        let d = parse_diskstats("   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].values, [1, 5, 3 * 512, 7 * 512, 4, 8, 10, 11, 9, 2, 6]);
    }

    #[test]
    fn default_filter_and_devices() {
        assert!(!wanted("loop0", None));
        assert!(!wanted("ram15", None));
        assert!(wanted("vda", None));
        let list = vec!["loop0".to_string(), "vda".to_string()];
        assert!(wanted("loop0", Some(&list)));
        assert!(!wanted("vda1", Some(&list)));
    }

    #[test]
    fn point_fields_in_order() {
        let d = &parse_diskstats(DISKSTATS_SAMPLE)[4];
        let want = Point::new("diskio")
            .tag("name", "nvme0n1p1")
            .field("reads", 433u64)
            .field("writes", 2u64)
            .field("read_bytes", 13242u64 * 512)
            .field("write_bytes", 2u64 * 512)
            .field("read_time", 94u64)
            .field("write_time", 0u64)
            .field("io_time", 112u64)
            .field("weighted_io_time", 95u64)
            .field("iops_in_progress", 0u64)
            .field("merged_reads", 1045u64)
            .field("merged_writes", 0u64);
        assert_eq!(point(d), want);
    }

    #[test]
    fn config() {
        let of = |v| devices_option(&Config::from_value(v));
        assert_eq!(devices_option(&Config::default()), Ok(None));
        assert_eq!(
            of(json!({"devices": ["sda"]})),
            Ok(Some(vec!["sda".to_string()]))
        );
        assert_eq!(
            of(json!({"devices": "sda"})),
            Err("config key \"devices\": expected a list of strings".to_string())
        );
        assert_eq!(
            of(json!({"device": ["sda"]})),
            Err("unknown config key \"device\" (known: devices)".to_string())
        );
    }
}

use super::*;

#[test]
fn pipelines_get_their_own_default_deadline_unless_set() {
    let base = Limits::default();
    let none = PluginConfig::default_with(base).for_pipeline(base);
    assert_eq!(none.limits.timeout, PIPELINE_TIMEOUT);
    assert_eq!(none.limits.memory_bytes, base.memory_bytes);
    let set = PluginConfig::parse(
        "[limits]\ntimeout = \"30s\"\n",
        Path::new("conf.d/p.toml"),
        base,
    )
    .unwrap()
    .for_pipeline(base);
    assert_eq!(set.limits.timeout, Duration::from_secs(30));
}

#[test]
fn sizes_parse() {
    assert_eq!(ByteSize::parse("64MiB").unwrap(), 64 << 20);
    assert_eq!(ByteSize::parse("10MB").unwrap(), 10_000_000);
    assert_eq!(ByteSize::parse("123").unwrap(), 123);
    assert!(ByteSize::parse("12 parsecs").is_err());
    assert!(ByteSize::parse("MiB").is_err());
}

#[test]
fn plugin_config_parses_and_inherits_limits() {
    let text = r#"
interval = "5s"
[limits]
memory = "16MiB"
[sandbox]
read_only_dirs = ["/proc"]
[config]
percpu = false
"#;
    let c = PluginConfig::parse(text, Path::new("conf.d/cpu.toml"), Limits::default()).unwrap();
    assert_eq!(c.interval, Some(Duration::from_secs(5)));
    assert_eq!(c.limits.memory_bytes, 16 << 20);
    assert_eq!(c.limits.fuel, Limits::default().fuel);
    assert_eq!(c.sandbox.read_only_dirs, vec![PathBuf::from("/proc")]);
    assert_eq!(c.config_json, r#"{"percpu":false}"#);
}

#[test]
fn unknown_keys_name_file_and_key() {
    let e = PluginConfig::parse(
        "intervall = \"5s\"\n",
        Path::new("conf.d/cpu.toml"),
        Limits::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("conf.d/cpu.toml"), "{e}");
    assert!(e.contains("intervall"), "{e}");
    let e = PluginConfig::parse(
        "[limits]\nfuell = 1\n",
        Path::new("x.toml"),
        Limits::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("fuell"), "{e}");
}

#[test]
fn bad_values_are_refused() {
    let base = Limits::default();
    let p = Path::new("x.toml");
    assert!(PluginConfig::parse("interval = \"soon\"", p, base).is_err());
    assert!(PluginConfig::parse("[sandbox]\nread_only_dirs = [\"proc\"]", p, base).is_err());
    assert!(PluginConfig::parse("[limits]\nmemory = \"1KiB\"", p, base).is_err());
    let e = PluginConfig::parse("[sandbox]\nhttp = [\"http://h:80\"]", p, base)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("x.toml") && e.contains("sandbox.http") && e.contains("http://h:80"),
        "{e}"
    );
    assert!(PluginConfig::parse("[sandbox]\nhttp_timeout = \"0s\"", p, base).is_err());
    let ok = PluginConfig::parse(
        "[sandbox]\nhttp = [\"127.0.0.1:9100\", \"[::1]:9100\"]\nhttp_max_response = \"1MiB\"",
        p,
        base,
    )
    .unwrap();
    assert_eq!(ok.sandbox.http.len(), 2);
    assert_eq!(ok.sandbox.http_max_response, Some(ByteSize(1 << 20)));
}

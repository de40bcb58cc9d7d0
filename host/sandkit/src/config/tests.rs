use super::*;

#[test]
fn embedded_default_is_valid() {
    let c = AgentConfig::load(None, &Overrides::default()).unwrap();
    assert!(matches!(c.output, OutputKind::Stdout));
    assert_eq!(c.runtime.max_crashes, 6);
    assert!(c.global_tags.iter().any(|(k, _)| k == "host"));
}

#[test]
fn file_tasks_come_from_sandkit_toml_and_conf_d() {
    let d = tempfile::tempdir().unwrap();
    let conf = d.path().join("conf.d");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("nginx-logs.toml"),
        "[[files]]\nsource = \"nginx\"\npaths = [\"/var/log/nginx/*.log\"]\n",
    )
    .unwrap();
    // A plugin's config beside it is not a file task.
    std::fs::write(conf.join("cpu.toml"), "interval = \"10s\"\n").unwrap();
    let ov = Overrides {
        conf_dir: Some(conf.clone()),
        ..Overrides::default()
    };
    let text = "[[files]]\nsource = \"app\"\npaths = [\"/var/log/app/*.log\"]\n";
    let c = AgentConfig::parse(text, Path::new("sandkit.toml"), d.path(), &ov).unwrap();
    let names: Vec<&str> = c.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["app", "nginx"]);
    // A conf.d file of tasks holds nothing else, and errors name it.
    std::fs::write(
        conf.join("nginx-logs.toml"),
        "interval = \"1s\"\n[[files]]\nsource = \"nginx\"\npaths = [\"/x/*.log\"]\n",
    )
    .unwrap();
    let e = AgentConfig::parse(text, Path::new("sandkit.toml"), d.path(), &ov)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("nginx-logs.toml") && e.contains("interval"),
        "{e}"
    );
    // Two tasks with one name are refused.
    std::fs::write(
        conf.join("nginx-logs.toml"),
        "[[files]]\nsource = \"app\"\npaths = [\"/x/*.log\"]\n",
    )
    .unwrap();
    let e = AgentConfig::parse(text, Path::new("sandkit.toml"), d.path(), &ov)
        .unwrap_err()
        .to_string();
    assert!(e.contains("exists already"), "{e}");
}

#[test]
fn every_key_documented_in_the_default_is_accepted() {
    // Uncomment `# key = value` lines: the documented keys must all be real keys.
    let text: String = DEFAULT_CONFIG
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if rest.split(' ').nth(1) == Some("=") || rest.starts_with("[[") => rest,
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(text.contains("\nurls = "), "{text}");
    assert!(text.contains("\n[[files]]\n"), "{text}");
    AgentConfig::parse(
        &text,
        Path::new("default"),
        Path::new(""),
        &Overrides::default(),
    )
    .unwrap();
}

#[test]
fn unknown_key_names_file_and_key() {
    let e = AgentConfig::parse(
        "plugins_dir = \"p\"\n[runtime]\nmax_crash = 3\n",
        Path::new("/etc/sandkit/sandkit.toml"),
        Path::new("/etc/sandkit"),
        &Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("/etc/sandkit/sandkit.toml"), "{e}");
    assert!(e.contains("max_crash"), "{e}");
    assert!(e.contains("line 3"), "{e}");
}

#[test]
fn relative_paths_resolve_against_the_config_dir() {
    let c = AgentConfig::parse(
        "[output]\nkind = \"file\"\npath = \"out.lp\"\n",
        Path::new("/etc/sk/sandkit.toml"),
        Path::new("/etc/sk"),
        &Overrides::default(),
    )
    .unwrap();
    assert!(matches!(&c.output, OutputKind::File(p) if p == Path::new("/etc/sk/out.lp")));
    assert_eq!(c.runtime.plugins_dir, PathBuf::from("/etc/sk/plugins"));
}

#[test]
fn bad_values_are_refused() {
    let p = Path::new("s.toml");
    let ov = Overrides::default();
    assert!(AgentConfig::parse("[output]\nkind = \"kafka\"", p, Path::new(""), &ov).is_err());
    assert!(AgentConfig::parse("[output]\nkind = \"file\"", p, Path::new(""), &ov).is_err());
    assert!(AgentConfig::parse("[runtime]\njitter = 2.0", p, Path::new(""), &ov).is_err());
    assert!(AgentConfig::parse("[log]\nlevel = \"loud\"", p, Path::new(""), &ov).is_err());
    assert!(AgentConfig::parse("[output]\nkind = \"dataway\"", p, Path::new(""), &ov).is_err());
    assert!(AgentConfig::parse(
        "[output]\nkind = \"influxdb\"\nurl = \"http://x\"",
        p,
        Path::new(""),
        &ov
    )
    .is_err());
    let e = AgentConfig::parse(
        "[output]\nkind = \"dataway\"\nurls = [\"http://x\"]\ntoken = \"t\"\ncompression = \"lz4\"",
        p,
        Path::new(""),
        &ov,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("output.compression"), "{e}");
    let c = AgentConfig::parse("[output]\nkind = \"dataway\"\nurls = [\"http://x?token=t\"]\ncompression = \"zstd\"\nmax_points = 10", p, Path::new(""), &ov).unwrap();
    assert_eq!(c.batch.max_points, 10);
    assert!(matches!(c.output, OutputKind::Http(_)));
}

use super::*;
use std::time::Duration;

#[test]
fn embedded_default_is_valid() {
    let c = AgentConfig::load(None, &Overrides::default()).unwrap();
    assert!(matches!(c.outputs[0].kind, OutputKind::Stdout));
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
            Some(rest) if rest.split(' ').nth(1) == Some("=") || rest.starts_with('[') => rest,
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
    assert!(matches!(&c.outputs[0].kind, OutputKind::File(p) if p == Path::new("/etc/sk/out.lp")));
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
    assert_eq!(c.outputs[0].batch.max_points, 10);
    assert!(matches!(c.outputs[0].kind, OutputKind::Http(_)));
}

/// A config with two file tasks (sources `nginx` and `app`) and `outputs`, parsed in a
/// temporary directory with one plugin file (`cpu.wasm`).
fn with_outputs(outputs: &str) -> Result<AgentConfig> {
    let d = tempfile::tempdir().unwrap();
    let plugins = d.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::write(plugins.join("cpu.wasm"), b"").unwrap();
    let text = format!(
        "plugins_dir = \"plugins\"\ndata_dir = \"/var/lib/sk\"\n\
         [[files]]\nsource = \"nginx\"\npaths = [\"/var/log/nginx/*.log\"]\n\
         [[files]]\nsource = \"app\"\npaths = [\"/var/log/app/*.log\"]\n{outputs}"
    );
    AgentConfig::parse(
        &text,
        Path::new("sandkit.toml"),
        d.path(),
        &Overrides::default(),
    )
}

const TWO_OUTPUTS: &str = "\
[[outputs]]
name = \"metrics\"
kind = \"influxdb2\"
url = \"http://127.0.0.1:8086\"
org = \"o\"
bucket = \"b\"
token = \"t\"
route = { categories = [\"metric\"], sources = [\"cpu\", \"http\"] }
[[outputs]]
name = \"logs\"
kind = \"dataway\"
urls = [\"http://127.0.0.1:9528?token=x\"]
route = { categories = [\"logging\"], measurements = [\"nginx*\"] }
";

#[test]
fn several_outputs_each_with_a_name_a_route_and_a_buffer_of_its_own() {
    let c = with_outputs(TWO_OUTPUTS).unwrap();
    let names: Vec<&str> = c.outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["metrics", "logs"]);
    let m = &c.outputs[0].route;
    assert_eq!(
        m.categories.as_deref(),
        Some(&[sandkit_io::Category::Metric][..])
    );
    assert!(m.takes_source("cpu") && !m.takes_source("nginx"));
    assert!(c.outputs[1].route.takes_measurement("nginx_error"));
    let OutputKind::Http(h) = &c.outputs[1].kind else {
        panic!("{:?}", c.outputs[1].kind)
    };
    let buffer = h.buffer.as_ref().unwrap();
    assert_eq!(buffer.dir, Path::new("/var/lib/sk/buffer/logs"));
}

#[test]
fn routing_mistakes_are_config_errors_with_their_line() {
    let err = |outputs: &str| with_outputs(outputs).unwrap_err().to_string();
    let has = |e: &str, all: &[&str]| assert!(all.iter().all(|w| e.contains(w)), "{e}");
    // Line 16 is the first output's route, 18 the second's name, 21 its route.
    let e = err(&TWO_OUTPUTS.replace("[\"metric\"]", "[\"metrics\"]"));
    has(&e, &["line 16", "\"metrics\" is not a category", "logging"]);
    let e = err(&TWO_OUTPUTS.replace("categories = [\"logging\"], ", "categories = [], "));
    has(&e, &["line 21", "route.categories is empty"]);
    let e = err(&TWO_OUTPUTS.replace("\"cpu\", \"http\"", "\"cpu\", \"redis\""));
    has(
        &e,
        &[
            "line 16",
            "source \"redis\" names nothing",
            "known: app, cpu, http, nginx",
        ],
    );
    let e = err(&TWO_OUTPUTS.replace("name = \"logs\"", "name = \"metrics\""));
    has(
        &e,
        &["line 18", "an output named \"metrics\" exists already"],
    );
    let e = err(&TWO_OUTPUTS.replace("name = \"logs\"\n", ""));
    has(&e, &["[[outputs]] #2: `name` is required"]);
    let e = err(&TWO_OUTPUTS.replace("name = \"logs\"", "name = \"../logs\""));
    has(&e, &["output name \"../logs\""]);
    let e = err(&format!("[output]\nkind = \"stdout\"\n{TWO_OUTPUTS}"));
    has(&e, &["[output] (at line 9) and [[outputs]] are both set"]);
    let e = err(&TWO_OUTPUTS.replace("token = \"t\"\n", ""));
    has(&e, &["key \"outputs.metrics.token\""]);
    let e = err(&TWO_OUTPUTS.replace("measurements", "measurement"));
    has(&e, &["unknown field `measurement`", "line 21"]);
}

#[test]
fn an_otlp_output_takes_metrics_and_logs_with_the_global_tags_as_its_resource() {
    let otlp = "[global_tags]\nsite = \"lab\"\n[[outputs]]\nname = \"otel\"\nkind = \"otlp\"\n\
                url = \"http://127.0.0.1:4318\"\ncounters = [\"nginx.requests\"]\n";
    let c = with_outputs(otlp).unwrap();
    let o = &c.outputs[0];
    use sandkit_io::Category::{Logging, Metric};
    assert_eq!(o.route.categories.as_deref(), Some(&[Metric, Logging][..]));
    let OutputKind::Http(h) = &o.kind else {
        panic!("{:?}", o.kind)
    };
    let sandkit_io::Endpoint::Otlp { options, .. } = &h.endpoint else {
        panic!("{:?}", h.endpoint)
    };
    assert!(options.resource.contains(&("site".into(), "lab".into())));
    assert_eq!(options.counters.0, ["nginx.requests"]);
    // Line 16 is its route (after the lines `with_outputs` begins with).
    let e = with_outputs(&format!(
        "{otlp}route = {{ categories = [\"metric\", \"object\"] }}\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("line 16") && e.contains("takes metric and logging, not \"object\""),
        "{e}"
    );
    let e = with_outputs(&format!("{otlp}compression = \"zstd\"\n"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("outputs.otel.compression") && e.contains("gzip"),
        "{e}"
    );
}

#[test]
fn a_file_task_is_routed_by_its_source_or_its_name_and_prefixes_take_many() {
    let c = with_outputs(&TWO_OUTPUTS.replace("\"cpu\", \"http\"", "\"ngi*\", \"app\"")).unwrap();
    let r = &c.outputs[0].route;
    assert!(r.takes_source("nginx") && r.takes_source("app") && !r.takes_source("cpu"));
}

#[test]
fn output_file_replaces_the_outputs_and_keeps_their_batching() {
    let ov = Overrides {
        output_file: Some(PathBuf::from("/tmp/out.lp")),
        ..Overrides::default()
    };
    let text = "[output]\nkind = \"stdout\"\nflush_interval = \"100ms\"\n";
    let c = AgentConfig::parse(text, Path::new("s.toml"), Path::new(""), &ov).unwrap();
    assert_eq!(c.outputs.len(), 1);
    assert!(matches!(&c.outputs[0].kind, OutputKind::File(p) if p == Path::new("/tmp/out.lp")));
    assert_eq!(
        c.outputs[0].batch.flush_interval,
        Duration::from_millis(100)
    );
}

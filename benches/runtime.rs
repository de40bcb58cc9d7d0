//! Runtime benches: loading a component (cache hit vs compile), instantiating from the
//! `InstancePre`, a `collect` of the bundled collectors, and the cost of a no-op call through the
//! full host path, each beside a baseline measured in the same run. The table at the end is what
//! docs/performance.md reports. Run with `cargo bench -p sandkit-benches`.

use criterion::{BatchSize, Criterion};
use sandkit_benches::native::{mem_collect, NativeCpu};
use sandkit_benches::{collector_config, runtime_config, summary, tokio_runtime, wasm};
use sandkit_runtime::{
    load_plugin, CacheOutcome, ComponentCache, Instance, LoadedPlugin, PluginConfig, Runtime,
    StateStore,
};
use std::hint::black_box;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Each group's measurement time: long enough for stable medians of µs-scale calls, short
/// enough that the whole run takes a few minutes on 2 cores.
const MEASURE: Duration = Duration::from_secs(3);
const WARM_UP: Duration = Duration::from_secs(1);

/// A runtime like the agent's, with its cache in a fresh temporary directory.
fn runtime() -> (Runtime, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = Runtime::new(runtime_config(dir.path())).expect("runtime");
    (runtime, dir)
}

fn state() -> Arc<Mutex<StateStore>> {
    Arc::new(Mutex::new(StateStore::default()))
}

/// Load guest `name` under `config` (compiling it into the runtime's cache).
fn load(
    rt: &tokio::runtime::Runtime,
    runtime: &Runtime,
    name: &str,
    config: &PluginConfig,
) -> LoadedPlugin {
    let file = wasm(name);
    let bytes = std::fs::read(&file).expect("read guest");
    rt.block_on(load_plugin(runtime, name, &file, &bytes, config))
        .expect("load plugin")
}

/// An initialised instance of guest `name`, as the supervisor makes one.
fn instance(
    rt: &tokio::runtime::Runtime,
    runtime: &Runtime,
    name: &str,
    config: &PluginConfig,
) -> Instance {
    let loaded = load(rt, runtime, name, config);
    rt.block_on(async {
        let mut inst = Instance::new(&loaded, config, state())
            .await
            .expect("instantiate");
        inst.init(&config.config_json).await.expect("init");
        inst
    })
}

fn clear_cache(dir: &Path) {
    for entry in std::fs::read_dir(dir).expect("read cache dir").flatten() {
        if entry.path().extension().is_some_and(|e| e == "cwasm") {
            std::fs::remove_file(entry.path()).expect("remove cached artifact");
        }
    }
}

/// Getting a compiled cpu.wasm: from the on-disk cache (a hit: mmap and check the artifact)
/// versus compiling it from the .wasm with Cranelift (a miss, which also writes the artifact).
fn cold_load(c: &mut Criterion) {
    let rt = tokio_runtime();
    let (runtime, _dir) = runtime();
    let file = wasm("cpu");
    let bytes = std::fs::read(&file).expect("read cpu.wasm");
    let hash = ComponentCache::content_hash(&bytes);
    let (_, first) = runtime
        .component(&file, &bytes, &hash)
        .expect("compile cpu.wasm");
    assert_eq!(first, CacheOutcome::Compiled);
    let (_, second) = runtime
        .component(&file, &bytes, &hash)
        .expect("load cpu.wasm");
    assert_eq!(second, CacheOutcome::Hit);
    let config = collector_config("cpu", runtime.config().limits);

    let mut g = c.benchmark_group("cold_load");
    g.measurement_time(MEASURE).warm_up_time(WARM_UP);
    g.bench_function("cache_hit", |b| {
        b.iter(|| {
            runtime
                .component(&file, black_box(&bytes), &hash)
                .expect("cache hit")
        });
    });
    g.bench_function("content_hash", |b| {
        b.iter(|| ComponentCache::content_hash(black_box(&bytes)));
    });
    // What the agent does for an unchanged file: hash, cache hit, InstancePre, describe.
    g.bench_function("load_plugin_hit", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(
                        load_plugin(&runtime, "cpu", &file, &bytes, &config)
                            .await
                            .expect("load"),
                    );
                }
                start.elapsed()
            })
        });
    });
    g.sample_size(10);
    let cache_dir = runtime.config().cache_dir.clone();
    g.bench_function("compile", |b| {
        b.iter_batched(
            || clear_cache(&cache_dir),
            |()| {
                let (component, outcome) =
                    runtime.component(&file, &bytes, &hash).expect("compile");
                assert_eq!(outcome, CacheOutcome::Compiled);
                component
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

/// A fresh instance of noop.wasm from its `InstancePre` (a Store with limits, WASI context and
/// instantiation), with and without the `init` call the supervisor makes next.
fn instantiate(c: &mut Criterion) {
    let rt = tokio_runtime();
    let (runtime, _dir) = runtime();
    let config = PluginConfig::default_with(runtime.config().limits);
    let loaded = load(&rt, &runtime, "noop", &config);
    let state = state();

    let mut g = c.benchmark_group("instantiate");
    g.measurement_time(MEASURE).warm_up_time(WARM_UP);
    g.bench_function("noop", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let inst = Instance::new(&loaded, &config, state.clone()).await;
                    black_box(inst.expect("instantiate"));
                }
                start.elapsed()
            })
        });
    });
    g.bench_function("noop_with_init", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let mut inst = Instance::new(&loaded, &config, state.clone())
                        .await
                        .expect("instantiate");
                    inst.init(&config.config_json).await.expect("init");
                    black_box(inst);
                }
                start.elapsed()
            })
        });
    });
    g.finish();
}

/// One `collect` of the cpu and mem collectors with their bundled configs (/proc granted),
/// beside the same reads and points done natively.
fn collect(c: &mut Criterion) {
    let rt = tokio_runtime();
    let (runtime, _dir) = runtime();
    let mut g = c.benchmark_group("collect");
    g.measurement_time(MEASURE).warm_up_time(WARM_UP);
    let (mut calls, mut points) = (0u64, 0u64);
    for name in ["cpu", "mem"] {
        let config = collector_config(name, runtime.config().limits);
        let mut inst = instance(&rt, &runtime, name, &config);
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let report = inst.collect().await.expect("collect");
                        if name == "cpu" {
                            calls += 1;
                            points += report.points.len() as u64;
                        }
                        black_box(report);
                    }
                    start.elapsed()
                })
            });
        });
    }
    let mut cpu = NativeCpu::new();
    g.bench_function("native_cpu", |b| b.iter(|| cpu.collect()));
    g.bench_function("native_mem", |b| b.iter(mem_collect));
    g.finish();
    // Both sides emit a CPU's point only when its counters moved since the previous call, which
    // calls microseconds apart mostly do not: say how many the measured calls carried.
    println!(
        "collect/cpu: {:.2} points per call on average over {calls} calls",
        points as f64 / calls.max(1) as f64
    );
}

/// A no-op `collect` through the full host path (fuel set, epoch deadline, timeout wrapper,
/// component call) beside a native closure that does the same nothing, and beside the same
/// nothing awaited under `tokio::time::timeout` (the host's wrapper without Wasm).
fn call_overhead(c: &mut Criterion) {
    let rt = tokio_runtime();
    let (runtime, _dir) = runtime();
    let config = PluginConfig::default_with(runtime.config().limits);
    let mut inst = instance(&rt, &runtime, "noop", &config);

    let mut g = c.benchmark_group("call_overhead");
    g.measurement_time(MEASURE).warm_up_time(WARM_UP);
    g.bench_function("noop_collect", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(inst.collect().await.expect("collect"));
                }
                start.elapsed()
            })
        });
    });
    let noop = || -> Result<(), String> { Ok(()) };
    g.bench_function("native_closure", |b| b.iter(|| black_box(noop)()));
    let timeout = config.limits.timeout;
    g.bench_function("native_async_timeout", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let r = tokio::time::timeout(timeout, async { black_box(noop)() }).await;
                    assert!(matches!(black_box(r), Ok(Ok(()))));
                }
                start.elapsed()
            })
        });
    });
    g.finish();
}

fn main() {
    let started = SystemTime::now();
    let mut c = Criterion::default().configure_from_args();
    cold_load(&mut c);
    instantiate(&mut c);
    collect(&mut c);
    call_overhead(&mut c);
    c.final_summary();
    summary::print(
        &[
            ("cold_load/cache_hit", Some("cold_load/compile")),
            ("cold_load/load_plugin_hit", Some("cold_load/compile")),
            ("cold_load/content_hash", None),
            ("instantiate/noop", None),
            ("instantiate/noop_with_init", Some("instantiate/noop")),
            ("collect/cpu", Some("collect/native_cpu")),
            ("collect/mem", Some("collect/native_mem")),
            (
                "call_overhead/noop_collect",
                Some("call_overhead/native_closure"),
            ),
            (
                "call_overhead/noop_collect",
                Some("call_overhead/native_async_timeout"),
            ),
        ],
        started,
    );
}

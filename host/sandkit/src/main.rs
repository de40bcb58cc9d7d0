//! The `sandkit` binary: command line and wiring. Each subcommand lives in its own module.

mod agent;
mod author;
mod commands;
mod config;
mod doc;
mod monitor;
mod reload;
mod sdk_files;
mod service;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "sandkit",
    version,
    about = "A telemetry agent whose collectors are WebAssembly components"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Paths shared by the commands that read the agent config.
#[derive(Debug, Clone, clap::Args)]
struct ConfigArgs {
    /// sandkit.toml; without it the embedded default is used.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Override `plugins_dir`.
    #[arg(long)]
    plugins_dir: Option<PathBuf>,
    /// Override `conf_dir`.
    #[arg(long)]
    conf_dir: Option<PathBuf>,
    /// Override `data_dir`.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the agent: load every plugin in the plugins directory, follow changes, write points.
    Run {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Append line protocol to this file instead of the configured output.
        #[arg(long)]
        output_file: Option<PathBuf>,
        /// Serve the HTTP API on this address instead of `[http] listen` (port 0: a free port,
        /// written to <data_dir>/http.addr).
        #[arg(long)]
        http_listen: Option<std::net::SocketAddr>,
    },
    /// Check or print configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Work with plugin files.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Work with pipelines.
    Pipeline {
        #[command(subcommand)]
        command: PipelineCommand,
    },
    /// Lines that fail-closed pipelines parked (`on_error = "park"`); stop the agent first.
    Deadletter {
        #[command(subcommand)]
        command: DeadletterCommand,
    },
    /// Install or remove the systemd unit that runs the agent as a service.
    Service {
        #[command(subcommand)]
        command: ServiceCommand,
    },
    /// Documentation generated from the code: a plugin's page, every plugin's, the config
    /// reference.
    Doc {
        #[command(subcommand)]
        command: DocCommand,
    },
    /// A live view of a running agent (plugins, file tasks, outputs), from its HTTP API, redrawn
    /// every second; q or Ctrl-C quits.
    Monitor {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// The agent's HTTP address; default: <data_dir>/http.addr, else `[http] listen`.
        #[arg(long)]
        addr: Option<String>,
        /// Print one view and exit (also when stdout is not a terminal).
        #[arg(long)]
        once: bool,
    },
    /// Show the status of the plugins of a running agent (from data_dir/status.json).
    Status {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum DocCommand {
    /// Print a Markdown page for a component: its describe (measurements, tags, fields), world,
    /// language, intervals, the keys of the default config it carries and the grants it asks.
    Plugin {
        /// The .wasm component.
        file: PathBuf,
    },
    /// Write a page per component of DIR, and an index (README.md), to --out (its .md files are
    /// replaced).
    Plugins {
        /// A directory of .wasm components.
        dir: PathBuf,
        /// Where the pages go.
        #[arg(long, short = 'o')]
        out: PathBuf,
    },
    /// Print the reference of sandkit.toml and conf.d files, from the config types.
    Config,
}

#[derive(Debug, Subcommand)]
enum ServiceCommand {
    /// Write sandkit.service (hardened: only the data directory writable) and enable it when
    /// systemd manages the unit directory.
    Install {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Where to write the unit.
        #[arg(long, default_value = "/etc/systemd/system")]
        unit_dir: PathBuf,
        /// Run the agent as this user (and its group) instead of root.
        #[arg(long)]
        user: Option<String>,
    },
    /// Disable and remove sandkit.service.
    Uninstall {
        /// Where the unit was written.
        #[arg(long, default_value = "/etc/systemd/system")]
        unit_dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate sandkit.toml and every file in conf.d; exit non-zero on the first error.
    Check {
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Print the embedded default sandkit.toml.
    Default,
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Load a plugin, call init and collect once, and print the points as line protocol. A
    /// pipeline gets the lines of stdin (as `sandkit pipeline test`), an input stdin as one body.
    Test {
        /// The .wasm component.
        file: PathBuf,
        /// A plugin config (the conf.d format).
        #[arg(long, short = 'c')]
        config: Option<PathBuf>,
        /// Number of collects, one interval apart (the first reports right away).
        #[arg(long, default_value_t = 1)]
        count: u32,
        /// Wait between collects, e.g. "1s".
        #[arg(long, default_value = "1s")]
        every: humantime::Duration,
        /// An input's Content-Type.
        #[arg(long, default_value = "")]
        content_type: String,
    },
    /// Scaffold a plugin project (collector, pipeline or input) in Rust, Python, JavaScript,
    /// TypeScript or C that builds out of the box with `sandkit plugin build`.
    New {
        /// The plugin's name (lower case, digits, '_' and '-'): the output is NAME.wasm.
        name: String,
        /// The guest language.
        #[arg(long, value_enum, default_value = "rust")]
        lang: author::Lang,
        /// What the plugin is.
        #[arg(long, value_enum, default_value = "collector")]
        world: author::World,
        /// Where to create it (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Build a plugin project to DIR/NAME.wasm with its language's toolchain (cargo,
    /// componentize-py, componentize-js or clang).
    Build {
        /// The project (default: the current directory).
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Write the component here instead.
        #[arg(long, short = 'o')]
        out: Option<PathBuf>,
    },
    /// Describe every plugin in the plugins directory.
    List {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum DeadletterCommand {
    /// Print the parked lines, one JSON object per line.
    List {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Only this file task's.
        #[arg(long)]
        task: Option<String>,
    },
    /// Delete the parked lines.
    Purge {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Only this file task's.
        #[arg(long)]
        task: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum PipelineCommand {
    /// Run lines from stdin through a pipeline: each line (`>`), its records as line protocol
    /// (`<`), and the lines it could not process (`!`, with why).
    Test {
        /// A .wasm file, or the name of a plugin in --plugins-dir.
        plugin: String,
        /// A plugin config (the conf.d format).
        #[arg(long, short = 'c')]
        config: Option<PathBuf>,
        /// Where plugin names are looked up.
        #[arg(long, default_value = "plugins")]
        plugins_dir: PathBuf,
        /// The source (measurement) of the records; default: the plugin's name.
        #[arg(long)]
        source: Option<String>,
        /// Lines per call.
        #[arg(long, default_value_t = 1024)]
        batch: usize,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(async move {
        match cli.command {
            Command::Run {
                cfg,
                output_file,
                http_listen,
            } => agent::run(&cfg, output_file, http_listen).await,
            Command::Config {
                command: ConfigCommand::Check { cfg },
            } => commands::config_check(&cfg),
            Command::Config {
                command: ConfigCommand::Default,
            } => {
                print!("{}", config::DEFAULT_CONFIG);
                Ok(())
            }
            Command::Plugin {
                command:
                    PluginCommand::Test {
                        file,
                        config,
                        count,
                        every,
                        content_type,
                    },
            } => {
                commands::plugin_test(&file, config.as_deref(), count, every.into(), &content_type)
                    .await
            }
            Command::Plugin {
                command: PluginCommand::List { cfg, json },
            } => commands::plugin_list(&cfg, json).await,
            Command::Plugin {
                command:
                    PluginCommand::New {
                        name,
                        lang,
                        world,
                        dir,
                    },
            } => author::plugin_new(&name, lang, world, dir.as_deref()).map(|d| {
                eprintln!(
                    "created {}: build it with `sandkit plugin build {}`",
                    d.display(),
                    d.display()
                );
            }),
            Command::Plugin {
                command: PluginCommand::Build { dir, out },
            } => author::plugin_build(&dir, out.as_deref()).map(|_| ()),
            Command::Pipeline {
                command:
                    PipelineCommand::Test {
                        plugin,
                        config,
                        plugins_dir,
                        source,
                        batch,
                    },
            } => {
                commands::pipeline_test(
                    &plugin,
                    config.as_deref(),
                    &plugins_dir,
                    source.as_deref(),
                    batch,
                )
                .await
            }
            Command::Deadletter {
                command: DeadletterCommand::List { cfg, task },
            } => commands::deadletter(&cfg, task.as_deref(), false),
            Command::Deadletter {
                command: DeadletterCommand::Purge { cfg, task },
            } => commands::deadletter(&cfg, task.as_deref(), true),
            Command::Status { cfg, json } => commands::status(&cfg, json),
            Command::Monitor { cfg, addr, once } => {
                let addr = match addr {
                    Some(a) => a,
                    None => monitor::agent_addr(&cfg.load(None)?)?.to_string(),
                };
                // The terminal loop blocks: off the async workers.
                tokio::task::spawn_blocking(move || monitor::run(&addr, once)).await?
            }
            Command::Doc {
                command: DocCommand::Plugin { file },
            } => doc::doc_plugin(&file).await,
            Command::Doc {
                command: DocCommand::Plugins { dir, out },
            } => doc::doc_plugins(&dir, &out).await,
            Command::Doc {
                command: DocCommand::Config,
            } => doc::config_reference().map(|r| print!("{r}")),
            Command::Service {
                command:
                    ServiceCommand::Install {
                        cfg,
                        unit_dir,
                        user,
                    },
            } => service::install(&cfg, &unit_dir, user),
            Command::Service {
                command: ServiceCommand::Uninstall { unit_dir },
            } => service::uninstall(&unit_dir),
        }
    });
    // A blocking-pool thread stuck in a read that never returns (a file on a hung network
    // mount a plugin was reading) must not keep the process from exiting.
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    result
}

impl ConfigArgs {
    fn load(&self, output_file: Option<PathBuf>) -> Result<config::AgentConfig> {
        let ov = config::Overrides {
            plugins_dir: self.plugins_dir.clone(),
            conf_dir: self.conf_dir.clone(),
            data_dir: self.data_dir.clone(),
            output_file,
        };
        config::AgentConfig::load(self.config.as_deref(), &ov)
    }
}

/// Log to stderr; `SANDKIT_LOG` (an env-filter directive) overrides the configured level.
fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SANDKIT_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{level},wasmtime=warn,cranelift=warn"))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal: a log file or journald gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

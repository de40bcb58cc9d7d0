//! `sandkit service install|uninstall`: a systemd unit that runs `sandkit run` on a config,
//! hardened with what systemd offers, and only the agent's data directory (and a file output, if
//! any) writable.

use crate::config::{AgentConfig, OutputKind};
use crate::ConfigArgs;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The unit's file name.
pub const UNIT: &str = "sandkit.service";

/// What `install` writes.
#[derive(Debug)]
pub struct UnitSpec {
    pub binary: PathBuf,
    pub config: PathBuf,
    /// Where the agent runs (relative paths in the config resolve against the config's
    /// directory, so this only matters for the process's own files).
    pub working_dir: PathBuf,
    pub writable: Vec<PathBuf>,
    pub user: Option<String>,
}

/// The unit text.
pub fn render(spec: &UnitSpec) -> String {
    // `%` starts a systemd specifier: written `%%`.
    let plain = |p: &Path| p.display().to_string().replace('%', "%%");
    let quote = |s: String| {
        if s.contains(' ') {
            format!("\"{s}\"")
        } else {
            s
        }
    };
    // `-`: a path that does not exist yet (a file output's directory) is no error.
    let writable: Vec<String> = spec
        .writable
        .iter()
        .map(|p| quote(format!("-{}", plain(p))))
        .collect();
    let user = spec
        .user
        .as_ref()
        .map(|u| format!("User={u}\n"))
        .unwrap_or_default();
    // A private /tmp would hide a data directory or output under /tmp from the agent.
    let under_tmp = spec
        .writable
        .iter()
        .any(|p| p.starts_with("/tmp") || p.starts_with("/var/tmp"));
    let private_tmp = if under_tmp {
        "# PrivateTmp is off: a writable path is under /tmp or /var/tmp.\n"
    } else {
        "PrivateTmp=yes\n"
    };
    format!(
        "# Written by `sandkit service install`; `sandkit service uninstall` removes it.
[Unit]
Description=Sandkit telemetry agent (WebAssembly collectors and pipelines)
Documentation=https://github.com/sandkit/sandkit
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart={binary} run --config {config}
ExecReload=/bin/kill -HUP $MAINPID
WorkingDirectory={working}
{user}Restart=on-failure
RestartSec=5s
# SIGTERM: stop schedules, flush batches, commit offsets, close the state store.
KillSignal=SIGTERM
TimeoutStopSec=45s

# Hardening. The agent reads what its plugins are granted (e.g. /proc) and the log files of its
# file tasks; it writes only its data directory (state, buffer, status) and a file output.
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths={writable}
ProtectHome=read-only
{private_tmp}PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
RemoveIPC=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
CapabilityBoundingSet=
AmbientCapabilities=
UMask=0027
# Not set on purpose: MemoryDenyWriteExecute=yes, which would stop wasmtime from mapping the
# machine code it compiles from the plugins.

[Install]
WantedBy=multi-user.target
",
        binary = quote(plain(&spec.binary)),
        config = quote(plain(&spec.config)),
        // WorkingDirectory= takes the rest of the line as the path: no quotes.
        working = plain(&spec.working_dir),
        writable = writable.join(" "),
    )
}

/// The spec for the agent config `cfg` loaded from `config`.
fn spec_for(cfg: &AgentConfig, config: &Path, user: Option<String>) -> Result<UnitSpec> {
    let binary = std::env::current_exe()
        .context("cannot find the sandkit binary's path")?
        .canonicalize()
        .context("cannot resolve the sandkit binary's path")?;
    let absolute = |p: &Path| -> Result<PathBuf> {
        if p.is_absolute() {
            Ok(p.to_path_buf())
        } else {
            Ok(std::env::current_dir()?.join(p))
        }
    };
    let config = absolute(config)?;
    let mut writable = vec![absolute(&cfg.data_dir)?];
    for o in &cfg.outputs {
        match &o.kind {
            OutputKind::File(p) => {
                let dir = absolute(p)?
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from("/"));
                writable.push(dir);
            }
            OutputKind::Http(h) => {
                if let Some(b) = &h.buffer {
                    writable.push(absolute(&b.dir)?);
                }
            }
            OutputKind::Stdout | OutputKind::Nats(_) => {}
        }
    }
    writable.sort();
    writable.dedup();
    let working_dir = config
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    Ok(UnitSpec {
        binary,
        config,
        working_dir,
        writable,
        user,
    })
}

fn systemd_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

fn systemctl(args: &[&str]) -> Result<()> {
    let status = Command::new("systemctl")
        .args(args)
        .status()
        .with_context(|| format!("cannot run systemctl {}", args.join(" ")))?;
    if !status.success() {
        bail!("systemctl {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// `sandkit service install`.
pub fn install(args: &ConfigArgs, unit_dir: &Path, user: Option<String>) -> Result<()> {
    let Some(config) = &args.config else {
        bail!("give the config the service runs: sandkit service install --config /etc/sandkit/sandkit.toml");
    };
    let cfg = args.load(None)?;
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create data_dir {}", cfg.data_dir.display()))?;
    let spec = spec_for(&cfg, config, user)?;
    let path = unit_dir.join(UNIT);
    std::fs::create_dir_all(unit_dir)
        .with_context(|| format!("cannot create {}", unit_dir.display()))?;
    std::fs::write(&path, render(&spec))
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {}", path.display());
    if let Some(u) = &spec.user {
        println!(
            "the agent will run as {u}: it must own {} (chown -R {u}: {})",
            cfg.data_dir.display(),
            cfg.data_dir.display()
        );
    }
    if systemd_running() && unit_dir == Path::new("/etc/systemd/system") {
        systemctl(&["daemon-reload"])?;
        systemctl(&["enable", UNIT])?;
        println!("enabled; start it with: systemctl start sandkit");
    } else {
        println!("systemd is not managing this directory here: run `systemctl daemon-reload` and `systemctl enable --now sandkit` where it is");
    }
    Ok(())
}

/// `sandkit service uninstall`.
pub fn uninstall(unit_dir: &Path) -> Result<()> {
    let path = unit_dir.join(UNIT);
    if !path.exists() {
        bail!("{} does not exist: nothing to uninstall", path.display());
    }
    let managed = systemd_running() && unit_dir == Path::new("/etc/systemd/system");
    if managed {
        systemctl(&["disable", "--now", UNIT])?;
    }
    std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    if managed {
        systemctl(&["daemon-reload"])?;
    }
    println!("removed {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_runs_the_config_and_writes_only_the_data_dir() {
        let spec = UnitSpec {
            binary: "/usr/local/bin/sandkit".into(),
            config: "/etc/sandkit/sandkit.toml".into(),
            working_dir: "/etc/sandkit".into(),
            writable: vec!["/var/lib/sandkit".into(), "/var/log/my dir".into()],
            user: Some("sandkit".into()),
        };
        let unit = render(&spec);
        assert!(unit
            .contains("ExecStart=/usr/local/bin/sandkit run --config /etc/sandkit/sandkit.toml\n"));
        assert!(unit.contains("ReadWritePaths=-/var/lib/sandkit \"-/var/log/my dir\"\n"));
        assert!(unit.contains("PrivateTmp=yes\n"));
        assert!(unit.contains("NoNewPrivileges=yes\n"));
        assert!(unit.contains("ProtectSystem=strict\n"));
        assert!(unit.contains("User=sandkit\n"));
        let tmp = render(&UnitSpec {
            writable: vec!["/tmp/100%/data".into()],
            ..spec
        });
        assert!(tmp.contains("ReadWritePaths=-/tmp/100%%/data\n"), "{tmp}");
        assert!(!tmp.contains("PrivateTmp=yes"), "{tmp}");
        assert!(
            !unit.contains("\nMemoryDenyWriteExecute="),
            "wasmtime needs W^X toggling"
        );
    }
}

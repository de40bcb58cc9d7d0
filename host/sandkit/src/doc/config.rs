//! `sandkit doc config`: the reference of sandkit.toml and of conf.d files. The keys of each
//! table are the ones the config types accept (read off serde's own list of them), and each
//! key's default or example and its description are those of the embedded default config
//! (`sandkit config default`) and of the conf.d template beside it. A key the types accept
//! that the default does not show, or one it shows that the types refuse, is an error: the
//! reference, the default and the parser cannot disagree.

use super::cell;
use super::conf::{keys, ConfKey};
use anyhow::{bail, Result};
use std::fmt::Write;

/// The conf.d template: every key of a plugin's config file, commented.
pub const PLUGIN_CONF: &str = include_str!("../plugin-conf.toml");

/// One table of a file.
struct Section {
    /// Dotted, "" for the top level.
    path: &'static str,
    title: &'static str,
    /// A probe that puts `__probe__` in this table.
    probe: &'static str,
    /// Where its keys are shown in the documented file (`output` and the `[[outputs]]`
    /// example share theirs).
    shown_in: &'static [&'static str],
    /// Keys that are tables of their own (documented as their own sections) or documented in
    /// prose.
    sections: &'static [&'static str],
    about: &'static str,
}

const AGENT: &[Section] = &[
    Section {
        path: "",
        title: "Top level",
        probe: "__probe__ = 1",
        shown_in: &[""],
        sections: &[
            "output", "outputs", "log", "runtime", "files", "http", "election", "fleet",
        ],
        about: "Directories and the tags of every point.",
    },
    Section {
        path: "output",
        title: "[output] and [[outputs]]",
        probe: "[output]\n__probe__ = 1",
        shown_in: &["output", "outputs"],
        sections: &[],
        about: "Where points go: one `[output]`, or several `[[outputs]]` each with a `name` \
                and a `route`.",
    },
    Section {
        path: "http",
        title: "[http]",
        probe: "[http]\n__probe__ = 1",
        shown_in: &["http"],
        sections: &[],
        about: "The agent's HTTP API: writes, `/metrics`, `/v1/plugins`, `/v1/health`.",
    },
    Section {
        path: "log",
        title: "[log]",
        probe: "[log]\n__probe__ = 1",
        shown_in: &["log"],
        sections: &[],
        about: "The agent's own log.",
    },
    Section {
        path: "runtime",
        title: "[runtime]",
        probe: "[runtime]\n__probe__ = 1",
        shown_in: &["runtime"],
        sections: &["limits"],
        about: "How plugins are run, restarted and disabled.",
    },
    Section {
        path: "runtime.limits",
        title: "[runtime.limits]",
        probe: "[runtime.limits]\n__probe__ = 1",
        shown_in: &["runtime.limits"],
        sections: &[],
        about: "The limits of every plugin's calls; a conf.d file's `[limits]` overrides them \
                key by key. The only table a reload applies while the agent runs.",
    },
    Section {
        path: "election",
        title: "[election]",
        probe: "[election]\n__probe__ = 1",
        shown_in: &["election"],
        sections: &[],
        about: "Leader election among agents.",
    },
    Section {
        path: "fleet",
        title: "[fleet]",
        probe: "[fleet]\n__probe__ = 1",
        shown_in: &["fleet"],
        sections: &[],
        about: "Plugin configs kept in etcd.",
    },
    Section {
        path: "files",
        title: "[[files]]",
        probe: "[[files]]\n__probe__ = 1",
        shown_in: &["files"],
        sections: &[],
        about: "Log files to collect, one table per task, in sandkit.toml or in a conf.d file \
                that holds only `[[files]]` tables.",
    },
];

const PLUGIN: &[Section] = &[
    Section {
        path: "",
        title: "Top level",
        probe: "__probe__ = 1",
        shown_in: &[""],
        sections: &["limits", "sandbox", "config"],
        about: "",
    },
    Section {
        path: "limits",
        title: "[limits]",
        probe: "[limits]\n__probe__ = 1",
        shown_in: &["limits"],
        sections: &[],
        about: "",
    },
    Section {
        path: "sandbox",
        title: "[sandbox]",
        probe: "[sandbox]\n__probe__ = 1",
        shown_in: &["sandbox"],
        sections: &[],
        about: "",
    },
];

/// The kind of a value as written.
fn type_of(value: &str) -> &'static str {
    let v = value.trim();
    if let Some(s) = v.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        if !s.is_empty() && sandkit_conf::parse_duration(s).is_ok() {
            return "duration";
        }
        if s.ends_with('B') && sandkit_conf::ByteSize::parse(s).is_ok() {
            return "size";
        }
        return "string";
    }
    match v {
        "true" | "false" => "bool",
        _ if v.starts_with('[') => "list",
        _ if v.starts_with('{') => "table",
        _ if v.parse::<i64>().is_ok() => "integer",
        _ if v.parse::<f64>().is_ok() => "float",
        _ => "",
    }
}

/// The rows of `sections` of the documented `text`, each checked against what `accepted`
/// says the types take; `reload` tells how a change of the key takes effect.
fn tables(
    out: &mut String,
    file: &str,
    text: &str,
    sections: &[Section],
    accepted: &dyn Fn(&str) -> Result<Vec<String>>,
    reload: &dyn Fn(&str) -> &'static str,
    errors: &mut Vec<String>,
) -> Result<()> {
    let (_, documented) = keys(text);
    let in_table = |k: &ConfKey, table: &str| -> Option<String> {
        if table.is_empty() {
            (!k.key.contains('.')).then(|| k.key.clone())
        } else {
            k.key
                .strip_prefix(table)
                .and_then(|r| r.strip_prefix('.'))
                .filter(|r| !r.contains('.'))
                .map(str::to_string)
        }
    };
    for s in sections {
        let keys_of_type = accepted(s.probe)?;
        let _ = writeln!(out, "### {}\n", s.title);
        if !s.about.is_empty() {
            let _ = writeln!(out, "{}\n", s.about);
        }
        let _ = writeln!(
            out,
            "| Key | Type | Default or example | Change | Description |\n|---|---|---|---|---|"
        );
        for key in &keys_of_type {
            if s.sections.contains(&key.as_str()) {
                continue;
            }
            let found = s.shown_in.iter().find_map(|t| {
                documented
                    .iter()
                    .find(|k| in_table(k, t).as_deref() == Some(key))
            });
            let dotted = if s.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", s.path)
            };
            let Some(k) = found else {
                errors.push(format!(
                    "key {dotted:?} is accepted by the config types but not shown in {file}"
                ));
                continue;
            };
            let mut description = k.description.clone();
            // A key whose value is a table of fixed keys: name them, from the types too.
            if type_of(&k.value) == "table" {
                let header = s.probe.lines().next().filter(|l| l.starts_with('['));
                let probe = format!("{}\n{key} = {{ __probe__ = 1 }}", header.unwrap_or(""));
                if let Ok(sub) = accepted(&probe) {
                    let _ = write!(description, " (keys: {})", sub.join(", "));
                }
            }
            let _ = writeln!(
                out,
                "| `{dotted}` | {} | {}{} | {} | {} |",
                type_of(&k.value),
                cell(&super::code(&k.value)),
                if k.set { " (as shipped)" } else { "" },
                reload(&dotted),
                cell(description.trim())
            );
        }
        let _ = writeln!(out);
        for t in s.shown_in {
            for k in &documented {
                if let Some(name) = in_table(k, t) {
                    if !keys_of_type.contains(&name) && !s.sections.contains(&name.as_str()) {
                        errors.push(format!(
                            "key \"{}\" is shown in {file} but the config types refuse it",
                            k.key
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// The reference, in Markdown.
///
/// # Errors
/// When the default config, the conf.d template and the config types disagree.
pub fn reference() -> Result<String> {
    let mut out = String::from(
        "# Configuration reference\n\n\
         <!-- Generated by `sandkit doc config` from the config types and the embedded \
         default config; do not edit. -->\n\n\
         Every key the agent accepts, read off its config types; the default or example and \
         the description of each come from the embedded default config (`sandkit config \
         default`) and the conf.d template, which `make test` checks against the same types. \
         Unknown keys are errors that name the file, line and key.\n\n\
         **Change**: how a new value takes effect. *reload*: on SIGHUP or when sandkit.toml \
         changes, while the agent runs (only `[runtime.limits]`: the plugins whose limits \
         change restart, the others go on). *restart*: at the agent's next start (a reload \
         that changes it logs so, and the running value stays). *at once*: a conf.d file is \
         watched; a change restarts its plugin alone.\n\n\
         Durations are written like \"10s\", \"250ms\" or \"1m 30s\"; sizes as bytes or like \
         \"64MiB\", \"512KiB\", \"1GiB\", \"10MB\".\n\n\
         ## sandkit.toml\n\n",
    );
    let mut errors = Vec::new();
    tables(
        &mut out,
        "host/sandkit/src/default.toml (`sandkit config default`)",
        crate::config::DEFAULT_CONFIG,
        AGENT,
        &|probe| crate::config::agent_keys(probe),
        &|key| {
            if crate::reload::APPLIED_ON_RELOAD
                .iter()
                .any(|p| key.starts_with(p))
            {
                "reload"
            } else {
                "restart"
            }
        },
        &mut errors,
    )?;
    let _ = writeln!(
        out,
        "## conf.d/&lt;plugin&gt;.toml\n\n\
         A plugin's own file, named after its component (`conf.d/cpu.toml` for `cpu.wasm`). \
         The keys of its `[config]` table are the plugin's: each plugin's page in \
         [plugins/](plugins/README.md) lists them.\n"
    );
    tables(
        &mut out,
        "host/sandkit/src/plugin-conf.toml",
        PLUGIN_CONF,
        PLUGIN,
        &|probe| crate::config::accepted_keys::<sandkit_runtime::config::RawPluginConfig>(probe),
        &|_| "at once",
        &mut errors,
    )?;
    if !errors.is_empty() {
        bail!(
            "the config reference does not match the config types:\n  {}",
            errors.join("\n  ")
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_covers_every_key_of_the_types() {
        let r = reference().unwrap_or_else(|e| panic!("{e:#}"));
        for key in [
            "`plugins_dir`",
            "`output.kind`",
            "`output.route`",
            "`http.max_body`",
            "`runtime.limits.fuel`",
            "`files.multiline_start`",
            "`sandbox.kernel_paths`",
            "`limits.memory`",
        ] {
            assert!(r.contains(key), "{key} missing");
        }
        assert!(
            r.contains("categories, sources, measurements"),
            "route keys"
        );
        assert!(r.contains("| `runtime.limits.fuel` | integer |"));
        assert!(r.contains("| duration |"));
        assert!(r.contains("| size |"));
    }

    #[test]
    fn types_of_values() {
        assert_eq!(type_of("\"10s\""), "duration");
        assert_eq!(type_of("\"64MiB\""), "size");
        assert_eq!(type_of("\"gzip\""), "string");
        assert_eq!(type_of("0.1"), "float");
        assert_eq!(type_of("5"), "integer");
        assert_eq!(type_of("[\"a\"]"), "list");
    }
}

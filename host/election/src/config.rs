//! The `[election]` table of sandkit.toml, parsed raw and validated.

use crate::ElectionError;
use serde::Deserialize;
use std::time::Duration;

/// `[election]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawElectionConfig {
    /// "none" (default: this agent always leads) or "etcd".
    #[serde(default)]
    pub backend: Option<String>,
    /// etcd client endpoints, e.g. ["127.0.0.1:2379"] (`http://` may be written or left out).
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// Key prefix of this fleet in etcd: agents with the same namespace elect one leader
    /// (default "sandkit").
    #[serde(default)]
    pub namespace: Option<String>,
    /// Time-to-live of this agent's lease (default "10s", whole seconds, at least 2s). A leader
    /// that cannot renew it steps down after two thirds of it; another agent leads once it
    /// expires.
    #[serde(default)]
    pub lease_ttl: Option<String>,
    /// This agent's name in the election (default: the host name).
    #[serde(default)]
    pub id: Option<String>,
}

/// Where leadership comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A single node: always the leader.
    None,
    Etcd(EtcdConfig),
}

/// An etcd election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdConfig {
    pub endpoints: Vec<String>,
    pub namespace: String,
    pub lease_ttl: Duration,
}

impl EtcdConfig {
    /// The election's name (a key prefix in etcd).
    pub fn election_name(&self) -> String {
        format!("{}/election", self.namespace.trim_end_matches('/'))
    }
}

/// The validated `[election]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElectionConfig {
    pub backend: Backend,
    /// This agent's candidate name.
    pub id: String,
}

impl Default for ElectionConfig {
    fn default() -> Self {
        ElectionConfig {
            backend: Backend::None,
            id: String::new(),
        }
    }
}

impl RawElectionConfig {
    /// Validates the table; `default_id` names this agent when `id` is not set.
    ///
    /// # Errors
    /// [`ElectionError::Config`] naming the key and what is wrong with it.
    pub fn validate(&self, default_id: &str) -> Result<ElectionConfig, ElectionError> {
        let bad = |key: &str, message: String| ElectionError::Config {
            key: format!("election.{key}"),
            message,
        };
        let id = match &self.id {
            Some(id) if id.trim().is_empty() => {
                return Err(bad("id", "must not be empty".into()));
            }
            Some(id) => id.clone(),
            None => default_id.to_string(),
        };
        let backend = match self.backend.as_deref().unwrap_or("none") {
            "none" => {
                if !self.endpoints.is_empty() {
                    return Err(bad(
                        "endpoints",
                        "set, but backend is \"none\": write backend = \"etcd\"".into(),
                    ));
                }
                Backend::None
            }
            "etcd" => {
                if self.endpoints.is_empty() {
                    return Err(bad(
                        "endpoints",
                        "backend \"etcd\" needs at least one, e.g. [\"127.0.0.1:2379\"]".into(),
                    ));
                }
                for e in &self.endpoints {
                    if e.starts_with("https://") {
                        return Err(bad(
                            "endpoints",
                            format!("{e:?}: TLS to etcd is not supported yet"),
                        ));
                    }
                    let hostport = e
                        .strip_prefix("http://")
                        .or_else(|| e.strip_prefix("https://"))
                        .unwrap_or(e);
                    if hostport.is_empty()
                        || hostport.contains('/')
                        || !hostport.rsplit_once(':').is_some_and(|(h, p)| {
                            !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0)
                        })
                    {
                        return Err(bad(
                            "endpoints",
                            format!("{e:?} is not host:port (e.g. \"127.0.0.1:2379\")"),
                        ));
                    }
                }
                let namespace = self.namespace.clone().unwrap_or_else(|| "sandkit".into());
                if namespace.trim_matches('/').is_empty() {
                    return Err(bad("namespace", "must not be empty".into()));
                }
                let lease_ttl = match &self.lease_ttl {
                    None => Duration::from_secs(10),
                    Some(s) => sandkit_conf::parse_duration(s).map_err(|e| bad("lease_ttl", e))?,
                };
                if lease_ttl < Duration::from_secs(2) || lease_ttl.subsec_nanos() != 0 {
                    return Err(bad(
                        "lease_ttl",
                        format!(
                            "{} must be whole seconds, at least 2s (etcd leases count in seconds)",
                            sandkit_conf::format_duration(lease_ttl)
                        ),
                    ));
                }
                Backend::Etcd(EtcdConfig {
                    endpoints: self.endpoints.clone(),
                    namespace,
                    lease_ttl,
                })
            }
            other => {
                return Err(bad(
                    "backend",
                    format!("{other:?} is not \"none\" or \"etcd\""),
                ));
            }
        };
        Ok(ElectionConfig { backend, id })
    }
}

/// `[fleet]` as written: plugin configs kept in etcd.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFleetConfig {
    /// "none" (default) or "etcd".
    #[serde(default)]
    pub backend: Option<String>,
    /// etcd endpoints; default: those of `[election]` when it uses etcd.
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// Key prefix of the plugin configs: `<prefix><plugin>.toml` (default "sandkit/conf.d/").
    #[serde(default)]
    pub prefix: Option<String>,
    /// Take `[sandbox]` grants (directories, statfs, outgoing HTTP) from etcd too. Default
    /// false: whoever can write the prefix could otherwise open the host to a plugin.
    #[serde(default)]
    pub allow_sandbox: bool,
}

impl RawFleetConfig {
    /// The fleet settings, or `None` without a fleet; configs are written to `dir`.
    ///
    /// # Errors
    /// [`ElectionError::Config`] naming the key.
    pub fn validate(
        &self,
        election: &ElectionConfig,
        dir: std::path::PathBuf,
    ) -> Result<Option<crate::fleet::FleetSettings>, ElectionError> {
        let bad = |key: &str, message: String| ElectionError::Config {
            key: format!("fleet.{key}"),
            message,
        };
        match self.backend.as_deref().unwrap_or("none") {
            "none" => Ok(None),
            "etcd" => {
                let endpoints = if self.endpoints.is_empty() {
                    match &election.backend {
                        Backend::Etcd(e) => e.endpoints.clone(),
                        Backend::None => {
                            return Err(bad(
                                "endpoints",
                                "needed when [election] does not use etcd".into(),
                            ))
                        }
                    }
                } else {
                    self.endpoints.clone()
                };
                let prefix = self
                    .prefix
                    .clone()
                    .unwrap_or_else(|| "sandkit/conf.d/".into());
                if prefix.is_empty() {
                    return Err(bad("prefix", "must not be empty".into()));
                }
                if let Some(e) = endpoints.iter().find(|e| e.starts_with("https://")) {
                    return Err(bad(
                        "endpoints",
                        format!("{e:?}: TLS to etcd is not supported yet"),
                    ));
                }
                Ok(Some(crate::fleet::FleetSettings {
                    endpoints,
                    prefix,
                    dir,
                    allow_sandbox: self.allow_sandbox,
                }))
            }
            other => Err(bad(
                "backend",
                format!("{other:?} is not \"none\" or \"etcd\""),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> RawElectionConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_to_a_single_node_named_after_the_host() {
        let c = RawElectionConfig::default().validate("vm1").unwrap();
        assert_eq!(c.backend, Backend::None);
        assert_eq!(c.id, "vm1");
    }

    #[test]
    fn an_etcd_election() {
        let c = raw("backend = \"etcd\"\nendpoints = [\"127.0.0.1:2379\", \"http://10.0.0.2:2379\"]\nnamespace = \"prod/\"\nlease_ttl = \"5s\"\nid = \"a1\"\n")
            .validate("vm1")
            .unwrap();
        let Backend::Etcd(e) = &c.backend else {
            panic!("{c:?}")
        };
        assert_eq!(e.lease_ttl, Duration::from_secs(5));
        assert_eq!(e.election_name(), "prod/election");
        assert_eq!(c.id, "a1");
    }

    #[test]
    fn errors_name_the_key() {
        let err = |t: &str| raw(t).validate("vm").unwrap_err().to_string();
        assert!(err("backend = \"zookeeper\"").contains("election.backend"));
        assert!(err("backend = \"etcd\"").contains("election.endpoints"));
        assert!(err("backend = \"etcd\"\nendpoints = [\"etcd\"]").contains("not host:port"));
        assert!(
            err("backend = \"etcd\"\nendpoints = [\"h:1\"]\nlease_ttl = \"1500ms\"")
                .contains("election.lease_ttl")
        );
        assert!(
            err("backend = \"etcd\"\nendpoints = [\"h:1\"]\nlease_ttl = \"1s\"")
                .contains("at least 2s")
        );
        assert!(err("endpoints = [\"h:1\"]").contains("write backend = \"etcd\""));
        assert!(err("id = \" \"").contains("election.id"));
        assert!(toml::from_str::<RawElectionConfig>("ttl = \"5s\"").is_err());
    }
}

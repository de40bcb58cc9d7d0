//! Passive inputs: plugins of the `input` world, called with an HTTP request body (by the
//! server's `/v1/input/{plugin}`) and returning the points they emitted.
//!
//! Each input has one instance at a time; requests to the same input take turns, requests to
//! different inputs run at once. The rules are a collector's: a trap or a deadline overrun is a
//! crash (counted, the instance dropped, a fresh one made for the next request), and after
//! `max_crashes` crashes in a row the input is disabled until its file changes. The points of a
//! call are all or nothing: a call that crashed, returned an error, or emitted a point the host
//! refused gives none.

use crate::config::PluginConfig;
use crate::events::{
    AfterCrash, Call, CallCompleted, CallFailed, Crashed, Event, MemorySeen, PointsRefused,
    PointsUndeclared, Restarted,
};
use crate::host::StateStore;
use crate::instance::Instance;
use crate::lock;
use crate::plugin::LoadedPlugin;
use crate::status::{PluginState, StatusCell};
use crate::{Runtime, RuntimeError};
use sandkit_io::Point;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A loaded input.
struct InputEntry {
    plugin: LoadedPlugin,
    config: PluginConfig,
    status: Arc<StatusCell>,
    state: Arc<Mutex<StateStore>>,
    /// The live instance, if any; held across a call, so calls take turns.
    instance: tokio::sync::Mutex<Option<Instance>>,
    /// Crashes in a row.
    consecutive: Mutex<u32>,
    /// Its points against its description.
    conformance: crate::conformance::Conformance,
}

/// Why an input gave no points.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InputError {
    #[error("no input plugin named {0:?} is loaded")]
    Missing(String),
    #[error("input plugin {0:?} is disabled after too many crashes; replace its file to retry")]
    Disabled(String),
    /// The plugin refused the body (its `handle` returned an error), or emitted a point the
    /// host refused.
    #[error("input plugin {plugin:?} refused the body: {message}")]
    Refused { plugin: String, message: String },
    /// A trap, a deadline overrun, or an instance that could not start.
    #[error("input plugin {plugin:?} crashed ({kind}): {message}")]
    Crashed {
        plugin: String,
        kind: String,
        message: String,
    },
}

/// The inputs loaded from the plugins directory, by name.
pub struct InputRegistry {
    runtime: Arc<Runtime>,
    entries: Mutex<HashMap<String, Arc<InputEntry>>>,
}

impl std::fmt::Debug for InputRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputRegistry")
            .field("inputs", &lock(&self.entries).keys().collect::<Vec<_>>())
            .finish()
    }
}

impl InputRegistry {
    pub fn new(runtime: Arc<Runtime>) -> Arc<Self> {
        Arc::new(InputRegistry {
            runtime,
            entries: Mutex::new(HashMap::new()),
        })
    }

    /// Register (or replace) a loaded input with its status.
    pub(crate) fn insert(
        &self,
        plugin: LoadedPlugin,
        config: PluginConfig,
        status: Arc<StatusCell>,
    ) {
        let name = plugin.name.to_string();
        let entry = Arc::new(InputEntry {
            conformance: crate::conformance::Conformance::new(crate::conformance::Declared::new(
                &plugin.description,
            )),
            plugin,
            config,
            status,
            state: Arc::new(Mutex::new(StateStore::default())),
            instance: tokio::sync::Mutex::new(None),
            consecutive: Mutex::new(0),
        });
        lock(&self.entries).insert(name, entry);
    }

    pub(crate) fn remove(&self, name: &str) {
        lock(&self.entries).remove(name);
    }

    /// Whether an input named `name` is loaded.
    pub fn has(&self, name: &str) -> bool {
        lock(&self.entries).contains_key(name)
    }

    /// Run input `name` on a request body.
    ///
    /// # Errors
    /// As [`InputError`] says.
    pub async fn handle(
        &self,
        name: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<Vec<Point>, InputError> {
        let Some(entry) = lock(&self.entries).get(name).cloned() else {
            return Err(InputError::Missing(name.to_string()));
        };
        if entry.status.state() == PluginState::Disabled {
            return Err(InputError::Disabled(name.to_string()));
        }
        let mut slot = entry.instance.lock().await;
        // Requests that waited here while it was disabled do not start it again.
        if entry.status.state() == PluginState::Disabled {
            return Err(InputError::Disabled(name.to_string()));
        }
        // The instance is out of the slot during the call: if the request is dropped midway
        // (the client left), the half-run instance goes with it and the next request gets a
        // fresh one.
        let mut inst = match slot.take() {
            Some(i) => i,
            None => match self.start(&entry).await {
                Ok(i) => i,
                Err(e) => {
                    self.crashed(&entry, &e);
                    return Err(crash(name, &e));
                }
            },
        };
        let result = inst.handle(content_type, body).await;
        emit(&entry, MemorySeen(inst.memory_peak()));
        // A trapped instance cannot be entered again; any other outcome keeps it, unless it is
        // near its memory cap: then the next request gets a fresh one.
        if !matches!(&result, Err(e) if e.is_crash()) {
            if inst.should_recycle() {
                emit(&entry, inst.recycled());
            } else {
                *slot = Some(inst);
            }
        }
        match result {
            Ok(report) => {
                *lock(&entry.consecutive) = 0;
                // All or nothing: one invalid point refuses the request.
                let delivered = if report.refused > 0 {
                    0
                } else {
                    report.points.len()
                };
                emit(&entry, CallCompleted::of_call(&report, delivered as u64));
                if report.refused > 0 {
                    let why = report.first_refusal.unwrap_or_default();
                    emit(
                        &entry,
                        PointsRefused {
                            refused: report.refused,
                            first: Some(&why),
                            whole_call: true,
                        },
                    );
                    return Err(InputError::Refused {
                        plugin: name.to_string(),
                        message: format!(
                            "{} emitted point(s) are invalid, the first: {why}",
                            report.refused
                        ),
                    });
                }
                let (undeclared, new) = entry.conformance.check(&report.points);
                emit(
                    &entry,
                    PointsUndeclared {
                        points: undeclared,
                        new: &new,
                    },
                );
                Ok(report.points)
            }
            Err(RuntimeError::Guest { message, .. }) => {
                // The instance is fine: it said no.
                *lock(&entry.consecutive) = 0;
                emit(
                    &entry,
                    CallFailed {
                        call: Call::Handle,
                        error: &message,
                        counted: false,
                    },
                );
                Err(InputError::Refused {
                    plugin: name.to_string(),
                    message,
                })
            }
            Err(e) => {
                self.crashed(&entry, &e);
                Err(crash(name, &e))
            }
        }
    }

    /// A fresh instance of `entry`, initialised with its config.
    async fn start(&self, entry: &InputEntry) -> Result<Instance, RuntimeError> {
        let mut inst = Instance::new(&entry.plugin, &entry.config, entry.state.clone()).await?;
        inst.init(&entry.config.config_json).await?;
        let (crashed_before, disabled) = {
            let st = entry.status.lock();
            (st.crashes > 0, st.state == PluginState::Disabled)
        };
        if crashed_before {
            emit(entry, Restarted);
        }
        if !disabled {
            entry.status.lock().state = PluginState::Running;
        }
        Ok(inst)
    }

    /// Count a crash; disable the input after `max_crashes` in a row.
    fn crashed(&self, entry: &InputEntry, e: &RuntimeError) {
        let max = self.runtime.config().max_crashes;
        let in_a_row = {
            let mut c = lock(&entry.consecutive);
            *c += 1;
            *c
        };
        let after = if in_a_row >= max {
            AfterCrash::InputDisabled { in_a_row }
        } else {
            AfterCrash::NextRequest
        };
        emit(entry, Crashed { error: e, after });
    }
}

fn emit(entry: &InputEntry, event: impl Event) {
    event.emit(&entry.plugin.name, &entry.status);
}

fn crash(name: &str, e: &RuntimeError) -> InputError {
    InputError::Crashed {
        plugin: name.to_string(),
        kind: e.crash_kind(),
        message: e.to_string(),
    }
}

//! The `system` and `files` imports: facts about the host (statfs, hostname) and reads of the
//! files the plugin's grants allow.

use super::HostState;
use crate::bindings::collector::sandkit::plugin::{files, system};
use wasmtime::Result;

impl system::Host for HostState {
    fn statfs(&mut self, path: String) -> Result<std::result::Result<system::FsUsage, String>> {
        if !self.statfs_allowed {
            return Ok(Err(format!(
                "statfs of {path:?} denied: the plugin's config does not set [sandbox] statfs = true"
            )));
        }
        Ok(crate::sys::statfs(&path))
    }

    fn hostname(&mut self) -> Result<String> {
        Ok(crate::sys::hostname())
    }
}

impl files::Host for HostState {
    async fn read_file(&mut self, path: String) -> Result<std::result::Result<Vec<u8>, String>> {
        Ok(crate::files::read(self, path).await)
    }

    async fn list_dir(&mut self, path: String) -> Result<std::result::Result<Vec<String>, String>> {
        Ok(crate::files::list(self, path).await)
    }
}

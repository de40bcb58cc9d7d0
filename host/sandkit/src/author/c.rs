//! C: clang for wasm32-wasi, then the component step with the preview-1 adapter.

use super::{Manifest, World};
use anyhow::{bail, Result};
use std::path::Path;

pub(super) fn scaffold(_dir: &Path, _name: &str, _world: World) -> Result<()> {
    bail!("C plugins are not supported by this build yet")
}

pub(super) fn build(dir: &Path, _m: &Manifest, _out: &Path) -> Result<()> {
    bail!(
        "{}: C plugins are not supported by this build yet",
        dir.display()
    )
}

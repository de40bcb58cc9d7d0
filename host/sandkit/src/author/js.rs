//! JavaScript and TypeScript: bundled, then componentized with componentize-js.

use super::{Manifest, World};
use anyhow::{bail, Result};
use std::path::Path;

pub(super) fn scaffold(_dir: &Path, _name: &str, _world: World, _ts: bool) -> Result<()> {
    bail!("JavaScript and TypeScript plugins are not supported by this build yet")
}

pub(super) fn build(dir: &Path, _m: &Manifest, _out: &Path) -> Result<()> {
    bail!(
        "{}: JavaScript and TypeScript plugins are not supported by this build yet",
        dir.display()
    )
}

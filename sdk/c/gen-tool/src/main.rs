//! `sandkit-c-gen WIT_DIR OUT_DIR`: the C bindings of every world of the Sandkit contract,
//! as `wit-bindgen c --no-object-file` would write them (the component's type information is
//! embedded by `sandkit plugin build` instead of a linked object file).

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use wit_bindgen_core::wit_parser::Resolve;
use wit_bindgen_core::Files;

const WORLDS: [&str; 3] = ["collector", "pipeline", "input"];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [wit, out] = args.as_slice() else {
        bail!("usage: sandkit-c-gen WIT_DIR OUT_DIR");
    };
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    for world in WORLDS {
        let mut resolve = Resolve::default();
        let (pkg, _) = resolve
            .push_path(wit)
            .with_context(|| format!("cannot read the WIT in {wit}"))?;
        let id = resolve.select_world(&[pkg], Some(world))?;
        let opts = wit_bindgen_c::Opts {
            no_object_file: true,
            ..Default::default()
        };
        let mut files = Files::default();
        opts.build().generate(&mut resolve, id, &mut files)?;
        for (name, contents) in files.iter() {
            let path = out.join(name);
            std::fs::write(&path, contents)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(())
}

//! A plugin's default config, carried in its component as the custom section `sandkit:conf`
//! (the text of the project's `conf.toml`), so that `sandkit doc plugin` can document the keys a
//! component reads from the component alone. `sandkit plugin build` appends it for every
//! language; a Rust guest built by cargo embeds it with `sandkit_sdk::default_conf!`, which
//! leaves it in the core module inside the component. Components without one still load and
//! document; their pages say they declare no config.

use wasmparser::{Parser, Payload};

/// The custom section's name.
pub const CONF_SECTION: &str = "sandkit:conf";

/// The default config a component carries: the section at the top level if there is one, else
/// the first one in a nested module (a Rust guest's). `None` when there is none, or it is not
/// UTF-8.
pub fn default_conf(component: &[u8]) -> Option<String> {
    let mut depth = 0usize;
    let mut nested = None;
    for payload in Parser::new(0).parse_all(component) {
        match payload.ok()? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::CustomSection(c) if c.name() == CONF_SECTION => {
                let text = std::str::from_utf8(c.data()).ok()?.to_string();
                if depth == 0 {
                    return Some(text);
                }
                nested.get_or_insert(text);
            }
            _ => {}
        }
    }
    nested
}

/// `component` with `conf` appended as a top-level `sandkit:conf` custom section (a custom
/// section may follow any other, in a component as in a module).
pub fn with_default_conf(mut component: Vec<u8>, conf: &str) -> Vec<u8> {
    component.extend(crate::guest_lang::custom_section(
        CONF_SECTION,
        conf.as_bytes(),
    ));
    component
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_appended_section_reads_back_and_the_module_stays_valid() {
        // The smallest module: magic and version.
        let module = b"\0asm\x01\0\0\0".to_vec();
        assert_eq!(default_conf(&module), None);
        let conf = "interval = \"10s\"\n".repeat(20);
        let with = with_default_conf(module, &conf);
        assert_eq!(default_conf(&with).as_deref(), Some(conf.as_str()));
        for payload in Parser::new(0).parse_all(&with) {
            payload.expect("still a well-formed module");
        }
    }
}

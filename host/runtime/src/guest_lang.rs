//! The language a component was written in, read from the component itself, for the defaults
//! that depend on it: an interpreted guest (Python, JavaScript) carries its interpreter and
//! a garbage-collected heap, and needs a larger linear memory than a compiled one in normal use.
//!
//! `sandkit plugin build` stamps every component it makes with a custom section
//! [`STAMP_SECTION`] (`lang=python\nsdk=0.1.1\n`); components made by other tools are recognised
//! by what their toolchain leaves in `producers` sections. Anything else counts as compiled.

use serde::Serialize;
use wasmparser::{KnownCustom, Parser, Payload};

/// The custom section `sandkit plugin build` appends to a component: `key=value` lines.
pub const STAMP_SECTION: &str = "sandkit-guest";

/// What a guest was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestLang {
    Rust,
    C,
    Python,
    /// JavaScript or TypeScript (one engine).
    #[serde(rename = "js")]
    JavaScript,
    /// Not stamped and not recognised: treated as a compiled language.
    Unknown,
}

/// Linear memory of a compiled guest when no config sets `[limits] memory`.
pub const COMPILED_MEMORY: u64 = 64 << 20;
/// Linear memory of a Python guest when no config sets it (see docs/performance.md, "Memory
/// of interpreted guests").
pub const PYTHON_MEMORY: u64 = 128 << 20;
/// Linear memory of a JavaScript guest when no config sets it.
pub const JS_MEMORY: u64 = 256 << 20;

impl GuestLang {
    /// The default cap on the linear memory of this language's guests.
    pub fn default_memory(self) -> u64 {
        match self {
            GuestLang::Python => PYTHON_MEMORY,
            GuestLang::JavaScript => JS_MEMORY,
            GuestLang::Rust | GuestLang::C | GuestLang::Unknown => COMPILED_MEMORY,
        }
    }

    fn from_stamp(value: &str) -> Option<GuestLang> {
        Some(match value {
            "rust" => GuestLang::Rust,
            "c" => GuestLang::C,
            "python" => GuestLang::Python,
            "js" | "ts" => GuestLang::JavaScript,
            _ => return None,
        })
    }
}

/// The language of the component in `bytes`. Never fails: what cannot be parsed is `Unknown`
/// (the compile reports a broken component).
pub fn detect(bytes: &[u8]) -> GuestLang {
    let mut hint = GuestLang::Unknown;
    for payload in Parser::new(0).parse_all(bytes) {
        let Ok(payload) = payload else {
            return hint;
        };
        let Payload::CustomSection(section) = payload else {
            continue;
        };
        if section.name() == STAMP_SECTION {
            let text = String::from_utf8_lossy(section.data());
            let lang = text
                .lines()
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| k.trim() == "lang")
                .and_then(|(_, v)| GuestLang::from_stamp(v.trim()));
            if let Some(lang) = lang {
                return lang;
            }
            continue;
        }
        if let KnownCustom::Producers(reader) = section.as_known() {
            for field in reader.into_iter().flatten() {
                for value in field.values.into_iter().flatten() {
                    if let Some(lang) = producer_hint(field.name, value.name) {
                        // An interpreter wins over the compiled parts it is built from.
                        if rank(lang) > rank(hint) {
                            hint = lang;
                        }
                    }
                }
            }
        }
    }
    hint
}

/// What one producers entry says: the tools that make Python and JavaScript components name
/// themselves in `processed-by` (componentize-py 0.25 as the pre-initialiser it runs,
/// `component-init-transform`; componentize-js as `ComponentizeJS`).
fn producer_hint(field: &str, name: &str) -> Option<GuestLang> {
    match (field, name) {
        ("processed-by", "componentize-py" | "component-init-transform") => Some(GuestLang::Python),
        // componentize-js 0.23 writes both at the component's top level.
        ("processed-by", "ComponentizeJS") | ("language", "JavaScript") => {
            Some(GuestLang::JavaScript)
        }
        _ => None,
    }
}

/// Which hint wins when a component gives several: an interpreter over the compiled parts it
/// is built from (CPython is C, StarlingMonkey has Rust in it).
fn rank(lang: GuestLang) -> u8 {
    match lang {
        GuestLang::Unknown => 0,
        GuestLang::Rust | GuestLang::C => 1,
        GuestLang::JavaScript => 2,
        GuestLang::Python => 3,
    }
}

/// The stamp of `lang` (and the SDK version): a custom section that, appended to a component,
/// sits at its top level. `sandkit plugin build` appends it to what it builds.
pub fn stamp(lang: &str, sdk: &str) -> Vec<u8> {
    custom_section(
        STAMP_SECTION,
        format!("lang={lang}\nsdk={sdk}\n").as_bytes(),
    )
}

/// A custom section named `name`, to append to a module or a component (where it sits at the
/// top level).
pub(crate) fn custom_section(name: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(name.len() + payload.len() + 8);
    leb128(&mut body, name.len() as u64);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    let mut out = vec![0];
    leb128(&mut out, body.len() as u64);
    out.extend_from_slice(&body);
    out
}

fn leb128(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component: the preamble alone.
    const EMPTY: &[u8] = b"\0asm\x0d\0\x01\0";

    #[test]
    fn a_stamp_is_read_back_and_keeps_the_component_valid() {
        for (lang, want) in [
            ("python", GuestLang::Python),
            ("js", GuestLang::JavaScript),
            ("ts", GuestLang::JavaScript),
            ("c", GuestLang::C),
            ("rust", GuestLang::Rust),
            ("cobol", GuestLang::Unknown),
        ] {
            let stamped = [EMPTY, &stamp(lang, "0.1.1")].concat();
            assert_eq!(detect(&stamped), want, "{lang}");
            wasmparser::Validator::new()
                .validate_all(&stamped)
                .expect("still a valid component");
        }
        assert_eq!(detect(EMPTY), GuestLang::Unknown);
        assert_eq!(detect(b"not wasm"), GuestLang::Unknown);
    }

    /// `EMPTY` with a top-level producers section holding one `field: name version` entry.
    fn with_producer(field: &str, name: &str) -> Vec<u8> {
        fn put(body: &mut Vec<u8>, s: &str) {
            leb128(body, s.len() as u64);
            body.extend_from_slice(s.as_bytes());
        }
        let mut body = Vec::new();
        put(&mut body, "producers");
        body.push(1);
        put(&mut body, field);
        body.push(1);
        put(&mut body, name);
        put(&mut body, "0.23.0");
        let mut out = EMPTY.to_vec();
        out.push(0);
        leb128(&mut out, body.len() as u64);
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn unstamped_components_are_known_by_their_toolchain() {
        let js = with_producer("processed-by", "ComponentizeJS");
        wasmparser::Validator::new().validate_all(&js).unwrap();
        assert_eq!(detect(&js), GuestLang::JavaScript);
        let py = with_producer("processed-by", "component-init-transform");
        assert_eq!(detect(&py), GuestLang::Python);
        let rust = with_producer("processed-by", "wit-component");
        assert_eq!(detect(&rust), GuestLang::Unknown);
        // A stamp wins over what the producers say.
        assert_eq!(detect(&[js, stamp("c", "0.1.1")].concat()), GuestLang::C);
    }

    #[test]
    fn defaults_follow_the_language() {
        assert_eq!(GuestLang::Rust.default_memory(), COMPILED_MEMORY);
        assert_eq!(GuestLang::Unknown.default_memory(), COMPILED_MEMORY);
        assert!(GuestLang::Python.default_memory() > COMPILED_MEMORY);
        assert!(GuestLang::JavaScript.default_memory() > COMPILED_MEMORY);
    }
}

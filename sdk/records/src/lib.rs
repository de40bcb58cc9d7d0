//! The pipeline record encoding: what a pipeline's `process` returns, in one crate for every
//! Rust side of the contract: the SDK writes it ([`Records`]), the agent reads it
//! ([`RecordReader`]), and tests decode it into owned values ([`decode`]). Specified in
//! docs/record-encoding.md, with test vectors in testdata/records/. All integers little-endian:
//!
//! ```text
//! output := "SKR1" record*
//! record := line:u32 flags:u8 time:i64 items:u16 item{items}
//!           flags: 1 = time is set (else the host's time), 2 = keep the input line as `message`
//! item   := kind:u8 key-len:u16 key value
//!           kind 0 tag   / 1 text field : len:u32 UTF-8 bytes
//!           kind 2 tag   / 3 text field : start:u32 len:u32, a slice of the batch's `data`
//!           kind 4 int i64 / 5 uint u64 / 6 float f64 / 7 bool u8
//!           kind 8 measurement (empty key): len:u32 UTF-8 bytes
//! ```
//!
//! Strings that are slices of the input line are written as references (kinds 2 and 3): the host
//! reads them from its own copy of the batch, so cutting a line into fields copies nothing twice.
//!
//! No dependencies: `sandkit plugin new` copies this crate into plugin projects.

mod decode;
mod read;
mod write;

pub use decode::{decode, records_of_line, Decoded, OwnedValue};
pub use read::{
    expansion_budget, Header, Item, RecordError, RecordReader, EXPANSION_PER_LINE, MAX_EXPANSION,
    MAX_RECORDS_PER_LINE,
};
pub use write::{Batch, Record, Records};

/// The magic at the start of every output.
pub const MAGIC: &[u8; 4] = b"SKR1";
/// Flag: the record's time is set.
pub const F_TIME: u8 = 1;
/// Flag: the host adds the input line as the `message` field (unless the record has one).
pub const F_MESSAGE: u8 = 2;
/// Bytes of a record header: line, flags, time, item count.
pub const HEADER: usize = 4 + 1 + 8 + 2;

/// Item kinds.
pub mod kind {
    pub const TAG: u8 = 0;
    pub const TEXT: u8 = 1;
    pub const TAG_REF: u8 = 2;
    pub const TEXT_REF: u8 = 3;
    pub const INT: u8 = 4;
    pub const UINT: u8 = 5;
    pub const FLOAT: u8 = 6;
    pub const BOOL: u8 = 7;
    pub const MEASUREMENT: u8 = 8;
}

/// A field value: what [`Record::field`] takes, and what [`RecordReader`] gives (text borrowed
/// from the output or the batch). `From` is implemented for the usual Rust types.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Int(i64),
    Uint(u64),
    Float(f64),
    Bool(bool),
    Text(&'a str),
}

macro_rules! value_from {
    ($($t:ty => $v:ident as $as:ty),*) => {
        $(impl From<$t> for Value<'_> {
            #[inline]
            fn from(x: $t) -> Self { Value::$v(x as $as) }
        })*
    };
}
value_from!(i64 => Int as i64, i32 => Int as i64, u64 => Uint as u64, u32 => Uint as u64,
            u16 => Uint as u64, usize => Uint as u64, f64 => Float as f64, f32 => Float as f64);

impl From<bool> for Value<'_> {
    #[inline]
    fn from(x: bool) -> Self {
        Value::Bool(x)
    }
}
impl<'a> From<&'a str> for Value<'a> {
    #[inline]
    fn from(x: &'a str) -> Self {
        Value::Text(x)
    }
}
impl<'a> From<&'a String> for Value<'a> {
    #[inline]
    fn from(x: &'a String) -> Self {
        Value::Text(x)
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn prefix(s: &str, max: usize) -> &str {
    let mut n = s.len().min(max);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

//! Finding where a record ends, one byte at a time so a record can arrive in any chunking.
//!
//! A record ends at the first `\n` outside a string field value that does not follow a `\`:
//! like InfluxDB, a string value may hold raw newlines (the encoder writes them as they are),
//! and a backslash before a newline carries the record on. The scanner follows just enough of
//! the grammar to know when it is inside a string; the parser then reads the whole record with
//! the same rules: outside strings a delimiter right after a `\` is escaped (whatever comes
//! before that backslash, as in InfluxDB 1.x: `a\\ b` is one name), inside strings `\` takes
//! the byte after it, and a string value is a `"` right after a field's `=`.

/// Where in a record the scanner is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first byte that is not a space or tab.
    LineStart,
    /// A line whose first non-blank byte is `#`.
    Comment,
    /// Measurement and tags, up to the first unescaped space.
    Series,
    /// A field key, up to its unescaped `=`.
    FieldKey,
    /// Right after a field key's `=`.
    ValueStart,
    /// Inside a quoted string value.
    Text,
    /// A bare value, or what follows a string's closing quote.
    Bare,
    /// After the field set: only a newline matters.
    Tail,
}

/// The scanning state of the current record.
#[derive(Debug, Clone)]
pub(super) struct Scanner {
    state: State,
    /// The previous byte was an escaping `\`.
    escaped: bool,
    /// Bytes of the record so far, not counting the newline that ends it.
    len: usize,
    /// Newlines inside string values of the record so far.
    newlines: usize,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            state: State::LineStart,
            escaped: false,
            len: 0,
            newlines: 0,
        }
    }
}

impl Scanner {
    /// Bytes of the current record so far.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Newlines inside the current record so far.
    pub(super) fn newlines(&self) -> usize {
        self.newlines
    }

    /// Take one byte; `true` when it is the newline that ends the record (and is not part of
    /// it). The caller resets the scanner for the next record.
    pub(super) fn push(&mut self, b: u8) -> bool {
        let escaped = std::mem::take(&mut self.escaped);
        if b == b'\n' && self.state != State::Text {
            if !escaped {
                return true;
            }
            self.newlines += 1;
        }
        self.len += 1;
        match self.state {
            State::LineStart => match b {
                b' ' | b'\t' => {}
                b'#' => self.state = State::Comment,
                _ => {
                    self.state = State::Series;
                    self.series(b);
                }
            },
            // Outside strings a backslash escapes the next byte even when it is escaped itself.
            State::Comment | State::Tail | State::Bare if b == b'\\' => self.escaped = true,
            State::Comment | State::Tail => {}
            State::Series if !escaped => self.series(b),
            State::FieldKey if !escaped => match b {
                b'\\' => self.escaped = true,
                b'=' => self.state = State::ValueStart,
                _ => {}
            },
            // In the series a backslash escapes the next byte even when escaped itself; in the
            // field set (as InfluxDB 1.x scans it) a backslash and the byte after it go as a pair.
            State::Series => self.escaped = b == b'\\',
            State::FieldKey => {}
            State::ValueStart => {
                self.escaped = b == b'\\';
                self.state = match b {
                    b'"' => State::Text,
                    b',' => State::FieldKey,
                    b' ' => State::Tail,
                    _ => State::Bare,
                }
            }
            State::Text => {
                if b == b'\n' {
                    self.newlines += 1;
                }
                match b {
                    _ if escaped => {}
                    b'\\' => self.escaped = true,
                    b'"' => self.state = State::Bare,
                    _ => {}
                }
            }
            State::Bare => match b {
                b',' => self.state = State::FieldKey,
                b' ' => self.state = State::Tail,
                _ => {}
            },
        }
        false
    }

    fn series(&mut self, b: u8) {
        match b {
            b'\\' => self.escaped = true,
            b' ' => self.state = State::FieldKey,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The length of the first record of `input`, or `None` when it does not end in `input`.
    fn first_record(input: &[u8]) -> Option<usize> {
        let mut s = Scanner::default();
        input.iter().position(|&b| s.push(b))
    }

    #[test]
    fn ends_at_the_first_newline_outside_strings() {
        assert_eq!(first_record(b"m f=1i 1\nnext"), Some(8));
        assert_eq!(first_record(b"m f=\"a\nb\" 1\nnext"), Some(11));
        assert_eq!(first_record(b"m f=\"a\\\"\n\" 1\n"), Some(12));
        assert_eq!(first_record(b"m f=\"a\\\\\"\nx"), Some(9));
        assert_eq!(first_record(b"m f=\"open"), None);
    }

    #[test]
    fn quotes_outside_values_are_plain_bytes() {
        assert_eq!(first_record(b"m\"x,t=\"v f\"=1\n"), Some(13));
        assert_eq!(first_record(b"m f=1 \"x\n"), Some(8));
        assert_eq!(first_record(b"# say \"hi\nm f=1\n"), Some(9));
        assert_eq!(first_record(b"m a\\=\"x f=1\n"), Some(11));
    }

    #[test]
    fn a_backslash_before_a_newline_carries_the_record_on() {
        // As InfluxDB 1.x: `m,t=x\<newline>y v=1` is one record with the tag value "x\\\ny".
        assert_eq!(first_record(b"m\\\nf=1"), None);
        assert_eq!(first_record(b"m,t=x\\\ny f=1\nnext"), Some(12));
        assert_eq!(first_record(b"m f=1\\\n2\n"), Some(8));
    }

    #[test]
    fn counts_newlines_inside_strings() {
        let mut s = Scanner::default();
        for &b in b"m f=\"a\nb\\\nc\"" {
            assert!(!s.push(b));
        }
        assert_eq!((s.len(), s.newlines()), (12, 2));
    }
}

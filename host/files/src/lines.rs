//! Cutting the bytes of a file into lines: `memchr` for the newlines, over-long lines truncated
//! (the rest of the line is skipped up to its newline) and marked, `\r\n` accepted, invalid
//! UTF-8 replaced and counted, other ASCII-compatible encodings (GBK, Shift_JIS, Latin-1...)
//! decoded with `encoding_rs`.
//!
//! Offsets: every line knows where it starts and where the next one starts (after its newline),
//! so that a reader can commit exactly the lines that were delivered. An unfinished line at the
//! end of the data is held (at most `max_line_bytes` of it) until its newline arrives or the
//! file is finished.

use encoding_rs::Encoding;
use std::borrow::Cow;

/// Where one line (or, after [`crate::multiline`], one multi-line record) lies; its text is in
/// the [`LineBatch`] it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    /// Offset of its first byte.
    pub start: u64,
    /// Offset just after it (after its newline): where reading resumes once it is delivered.
    pub end: u64,
    /// Longer than `max_line_bytes`: the text is its first part.
    pub truncated: bool,
    /// End of its text in [`LineBatch::text`].
    text_end: usize,
}

/// The lines of one batch: their texts end to end in one buffer (no separator), and where each
/// lies. One allocation per batch instead of one per line, and a batch's texts go to a pipeline
/// as they are.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LineBatch {
    text: String,
    lines: Vec<Line>,
}

impl LineBatch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Room for `text` bytes of text in about `lines` lines.
    pub fn with_capacity(text: usize, lines: usize) -> Self {
        LineBatch {
            text: String::with_capacity(text),
            lines: Vec::with_capacity(lines),
        }
    }

    /// Append a line.
    pub fn push(&mut self, text: &str, start: u64, end: u64, truncated: bool) {
        self.text.push_str(text);
        self.lines.push(Line {
            start,
            end,
            truncated,
            text_end: self.text.len(),
        });
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Where each line lies.
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    pub fn last(&self) -> Option<&Line> {
        self.lines.last()
    }

    /// Bytes of text of every line.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    fn text_start(&self, i: usize) -> usize {
        match i.checked_sub(1) {
            Some(p) => self.lines.get(p).map_or(self.text.len(), |l| l.text_end),
            None => 0,
        }
    }

    /// The text of line `i` (empty past the end).
    pub fn text(&self, i: usize) -> &str {
        let Some(line) = self.lines.get(i) else {
            return "";
        };
        self.text
            .get(self.text_start(i)..line.text_end)
            .unwrap_or_default()
    }

    /// Each line with its text.
    pub fn iter(&self) -> impl Iterator<Item = (&Line, &str)> {
        (0..self.lines.len()).map(|i| (&self.lines[i], self.text(i)))
    }

    /// The texts of lines `from..to` end to end, and (in `ends`, replaced) where each ends in
    /// it: what a pipeline takes.
    pub fn joined(&self, from: usize, to: usize, ends: &mut Vec<u32>) -> &str {
        ends.clear();
        let to = to.min(self.lines.len());
        let from = from.min(to);
        let base = self.text_start(from);
        ends.extend(
            self.lines[from..to]
                .iter()
                .map(|l| u32::try_from(l.text_end - base).unwrap_or(u32::MAX)),
        );
        let end = self.text_start(to);
        self.text.get(base..end).unwrap_or_default()
    }
}

/// How lines are cut.
#[derive(Debug, Clone, Copy)]
pub struct LineConfig {
    pub max_line_bytes: usize,
    /// `None` is UTF-8 (invalid sequences replaced by U+FFFD and counted).
    pub encoding: Option<&'static Encoding>,
}

/// Counters of what was repaired while cutting lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LineStats {
    pub lines: u64,
    pub truncated: u64,
    pub invalid_utf8: u64,
}

/// Incremental line splitter for one file.
#[derive(Debug)]
pub struct LineSplitter {
    cfg: LineConfig,
    /// Bytes of the unfinished line (at most `max_line_bytes`).
    partial: Vec<u8>,
    /// Offset of the unfinished line's first byte, and of the next byte expected.
    partial_start: u64,
    next: u64,
    /// The unfinished line is over the limit: its bytes are dropped until its newline.
    skipping: bool,
    pub stats: LineStats,
}

impl LineSplitter {
    pub fn new(cfg: LineConfig, offset: u64) -> Self {
        LineSplitter {
            cfg: LineConfig {
                max_line_bytes: cfg.max_line_bytes.max(1),
                ..cfg
            },
            partial: Vec::new(),
            partial_start: offset,
            next: offset,
            skipping: false,
            stats: LineStats::default(),
        }
    }

    /// Forget any unfinished line and continue at `offset` (a truncated file starts over).
    pub fn reset(&mut self, offset: u64) {
        self.partial.clear();
        self.partial_start = offset;
        self.next = offset;
        self.skipping = false;
    }

    /// Where the next byte to feed is expected.
    pub fn next_offset(&self) -> u64 {
        self.next
    }

    /// Bytes of the unfinished line held.
    pub fn partial_len(&self) -> usize {
        self.partial.len()
    }

    /// Whether an unfinished line is held.
    pub fn has_partial(&self) -> bool {
        self.next > self.partial_start
    }

    /// Cut `chunk` (the bytes at [`LineSplitter::next_offset`]) and append whole lines to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut LineBatch) {
        let base = self.next;
        let mut from = 0usize;
        for nl in memchr::memchr_iter(b'\n', chunk) {
            let end = base + nl as u64 + 1;
            if self.partial.is_empty() && !self.skipping {
                let start = base + from as u64;
                self.emit_bytes(&chunk[from..nl], start, end, out);
            } else {
                self.append_partial(&chunk[from..nl]);
                let bytes = std::mem::take(&mut self.partial);
                let truncated = std::mem::replace(&mut self.skipping, false);
                self.emit(&bytes, self.partial_start, end, truncated, out);
                self.partial = bytes;
                self.partial.clear();
            }
            from = nl + 1;
            self.partial_start = end;
        }
        self.append_partial(&chunk[from..]);
        self.next = base + chunk.len() as u64;
    }

    /// The file is finished (rotated away, deleted, or idle for good): its unfinished line, if
    /// any, becomes a line.
    pub fn flush(&mut self, out: &mut LineBatch) {
        if self.has_partial() {
            let bytes = std::mem::take(&mut self.partial);
            let truncated = std::mem::replace(&mut self.skipping, false);
            self.emit(&bytes, self.partial_start, self.next, truncated, out);
            self.partial_start = self.next;
        }
    }

    fn append_partial(&mut self, bytes: &[u8]) {
        if self.skipping {
            return;
        }
        let room = self.cfg.max_line_bytes - self.partial.len();
        if bytes.len() > room {
            self.partial.extend_from_slice(&bytes[..room]);
            self.skipping = true;
        } else {
            self.partial.extend_from_slice(bytes);
        }
    }

    fn emit_bytes(&mut self, bytes: &[u8], start: u64, end: u64, out: &mut LineBatch) {
        if bytes.len() > self.cfg.max_line_bytes {
            self.emit(&bytes[..self.cfg.max_line_bytes], start, end, true, out);
        } else {
            self.emit(bytes, start, end, false, out);
        }
    }

    fn emit(&mut self, bytes: &[u8], start: u64, end: u64, truncated: bool, out: &mut LineBatch) {
        let mut bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if truncated && self.cfg.encoding.is_none() {
            bytes = cut_at_char_boundary(bytes);
        }
        let text = self.decode(bytes);
        self.stats.lines += 1;
        self.stats.truncated += u64::from(truncated);
        out.push(&text, start, end, truncated);
    }

    fn decode<'b>(&mut self, bytes: &'b [u8]) -> Cow<'b, str> {
        match self.cfg.encoding {
            None => match std::str::from_utf8(bytes) {
                Ok(s) => Cow::Borrowed(s),
                Err(_) => {
                    self.stats.invalid_utf8 += 1;
                    String::from_utf8_lossy(bytes)
                }
            },
            Some(enc) => {
                let (text, bad) = enc.decode_without_bom_handling(bytes);
                self.stats.invalid_utf8 += u64::from(bad);
                text
            }
        }
    }
}

/// Drop a UTF-8 sequence cut in two by truncation, so that it does not count as invalid.
fn cut_at_char_boundary(b: &[u8]) -> &[u8] {
    let mut i = b.len();
    // Step back over at most 3 continuation bytes to the lead byte of the last character.
    while i > 0 && b.len() - i < 4 && b[i - 1] & 0xC0 == 0x80 {
        i -= 1;
    }
    if i == 0 || b.len() - i >= 4 {
        return b;
    }
    let lead = b[i - 1];
    let need = match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    };
    if b.len() - (i - 1) < need {
        &b[..i - 1]
    } else {
        b
    }
}

/// Look up an encoding by its WHATWG label (`utf-8`, `gbk`, `shift_jis`, `latin1`...). Only
/// encodings where a newline is always the byte `\n` are accepted (not UTF-16).
///
/// # Errors
/// An unknown label, or UTF-16.
pub fn encoding_for(label: &str) -> Result<Option<&'static Encoding>, String> {
    let Some(enc) = Encoding::for_label(label.trim().as_bytes()) else {
        return Err(format!("unknown encoding {label:?}"));
    };
    if enc == encoding_rs::UTF_8 {
        return Ok(None);
    }
    if enc == encoding_rs::UTF_16LE
        || enc == encoding_rs::UTF_16BE
        || enc == encoding_rs::REPLACEMENT
    {
        return Err(format!(
            "encoding {label:?} is not supported (lines are cut at the byte \\n)"
        ));
    }
    Ok(Some(enc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(max: usize) -> LineConfig {
        LineConfig {
            max_line_bytes: max,
            encoding: None,
        }
    }

    fn split(data: &[u8], chunk: usize, max: usize) -> (LineBatch, LineSplitter) {
        let mut s = LineSplitter::new(cfg(max), 0);
        let mut out = LineBatch::new();
        for c in data.chunks(chunk.max(1)) {
            s.feed(c, &mut out);
        }
        (out, s)
    }

    #[test]
    fn a_batch_gives_each_text_and_any_run_of_them_end_to_end() {
        let mut b = LineBatch::with_capacity(4, 1);
        for (i, t) in ["ab", "", "cde", "f"].iter().enumerate() {
            b.push(t, i as u64 * 10, i as u64 * 10 + 10, i == 3);
        }
        assert_eq!((b.len(), b.text_len()), (4, 6));
        assert_eq!(
            b.iter().map(|(_, t)| t).collect::<Vec<_>>(),
            ["ab", "", "cde", "f"]
        );
        assert_eq!(b.text(9), "");
        let mut ends = vec![7];
        assert_eq!(b.joined(0, 4, &mut ends), "abcdef");
        assert_eq!(ends, [2, 2, 5, 6]);
        assert_eq!(b.joined(1, 3, &mut ends), "cde");
        assert_eq!(ends, [0, 3]);
        assert_eq!(b.joined(3, 9, &mut ends), "f");
        assert_eq!(ends, [1]);
        assert_eq!(b.joined(4, 4, &mut ends), "");
        assert!(ends.is_empty());
        assert_eq!(b.last().map(|l| (l.start, l.truncated)), Some((30, true)));
    }

    #[test]
    fn lines_and_offsets_whatever_the_chunking() {
        let data = b"one\ntwo\r\n\nthree\npart";
        for chunk in 1..=data.len() {
            let (out, mut s) = split(data, chunk, 100);
            let texts: Vec<&str> = out.iter().map(|(_, t)| t).collect();
            assert_eq!(texts, ["one", "two", "", "three"], "chunk {chunk}");
            assert_eq!(
                out.lines()
                    .iter()
                    .map(|l| (l.start, l.end))
                    .collect::<Vec<_>>(),
                [(0, 4), (4, 9), (9, 10), (10, 16)]
            );
            assert!(s.has_partial());
            let mut rest = LineBatch::new();
            s.flush(&mut rest);
            assert_eq!(rest.text(0), "part");
            assert_eq!((rest.lines()[0].start, rest.lines()[0].end), (16, 20));
            assert!(!s.has_partial());
        }
    }

    #[test]
    fn long_lines_are_truncated_and_the_rest_skipped() {
        let data = b"abcdefghij\nxy\n0123456789abc";
        for chunk in 1..=data.len() {
            let (out, mut s) = split(data, chunk, 4);
            let got: Vec<(&str, bool, u64)> =
                out.iter().map(|(l, t)| (t, l.truncated, l.end)).collect();
            assert_eq!(
                got,
                [("abcd", true, 11), ("xy", false, 14)],
                "chunk {chunk}"
            );
            let mut rest = LineBatch::new();
            s.flush(&mut rest);
            assert_eq!((rest.text(0), rest.lines()[0].truncated), ("0123", true));
            assert_eq!(s.stats.truncated, 2);
        }
    }

    #[test]
    fn truncation_never_splits_a_character() {
        // "é" is two bytes: a cut after its first byte drops it instead of making U+FFFD.
        let (out, s) = split("aé€x\n".as_bytes(), 3, 2);
        assert_eq!(out.text(0), "a");
        let (out2, _) = split("aé€x\n".as_bytes(), 3, 4);
        assert_eq!(out2.text(0), "aé");
        assert_eq!(s.stats.invalid_utf8, 0);
    }

    #[test]
    fn invalid_utf8_is_replaced_and_counted() {
        let (out, s) = split(b"ok\n\xff\xfebad\n", 5, 100);
        assert_eq!(out.text(1), "\u{fffd}\u{fffd}bad");
        assert_eq!(s.stats.invalid_utf8, 1);
    }

    #[test]
    fn other_encodings_are_decoded() {
        let enc = encoding_for("gbk").unwrap();
        let mut s = LineSplitter::new(
            LineConfig {
                max_line_bytes: 100,
                encoding: enc,
            },
            0,
        );
        let mut out = LineBatch::new();
        s.feed(b"\xc4\xe3\xba\xc3\n", &mut out);
        assert_eq!(out.text(0), "你好");
        assert!(encoding_for("utf-16le").is_err());
        assert!(encoding_for("klingon").is_err());
        assert_eq!(encoding_for("UTF-8").unwrap(), None);
    }

    proptest::proptest! {
        /// Whatever the bytes and the chunking, lines tile the input: each starts where the
        /// previous ended, and untruncated lines hold exactly their bytes.
        #[test]
        fn lines_tile_the_input(data in proptest::collection::vec(proptest::prop_oneof![
            proptest::prelude::Just(b'\n'), proptest::prelude::Just(b'\r'), proptest::prelude::any::<u8>()], 0..300),
            chunk in 1usize..40, max in 1usize..20) {
            let (mut out, mut s) = split(&data, chunk, max);
            s.flush(&mut out);
            let mut at = 0;
            for (l, text) in out.iter() {
                proptest::prop_assert_eq!(l.start, at);
                proptest::prop_assert!(l.end > l.start);
                at = l.end;
                if !l.truncated {
                    let raw = &data[l.start as usize..l.end as usize];
                    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
                    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
                    proptest::prop_assert_eq!(text, String::from_utf8_lossy(raw));
                }
            }
            proptest::prop_assert_eq!(at, data.len() as u64);
        }
    }
}

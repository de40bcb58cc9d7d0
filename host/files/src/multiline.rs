//! Multi-line records (stack traces, pretty-printed JSON): a line that matches the start
//! pattern begins a record, and the lines after it that do not are appended to it, joined by
//! `\n`. The last record is held until the next start line, until the flush timeout has passed
//! without a new line (the caller checks [`Multiline::idle_since`]), or until the file is
//! finished. A record longer than `max_bytes` keeps its first part and is marked truncated.

use crate::lines::{Line, LineBatch};
use regex::Regex;
use std::time::Instant;

/// The record being built: its text (the buffer is kept between records) and where it lies.
#[derive(Debug, Default)]
struct Pending {
    text: String,
    start: u64,
    end: u64,
    truncated: bool,
    held: bool,
}

/// Room a joiner keeps for its next record once one is out.
const KEPT_CAPACITY: usize = 4 << 10;

#[derive(Debug)]
pub struct Multiline {
    start: Regex,
    max_bytes: usize,
    pending: Pending,
    last_line: Option<Instant>,
}

impl Multiline {
    pub fn new(start: Regex, max_bytes: usize) -> Self {
        Multiline {
            start,
            max_bytes: max_bytes.max(1),
            pending: Pending::default(),
            last_line: None,
        }
    }

    /// Take each line of `lines`; the records they complete go to `out`.
    pub fn push_all(&mut self, lines: &LineBatch, out: &mut LineBatch) {
        for (line, text) in lines.iter() {
            self.push(line, text, out);
        }
    }

    /// Take one line (`text`, lying at `line`); a record it completes goes to `out`.
    pub fn push(&mut self, line: &Line, text: &str, out: &mut LineBatch) {
        self.last_line = Some(Instant::now());
        let rec = &mut self.pending;
        if rec.held && !self.start.is_match(text) {
            rec.end = line.end;
            if rec.truncated || rec.text.len() + 1 + text.len() > self.max_bytes {
                if !rec.truncated {
                    let room = self.max_bytes.saturating_sub(rec.text.len() + 1);
                    if room > 0 {
                        rec.text.push('\n');
                        rec.text.push_str(prefix(text, room));
                    }
                    rec.truncated = true;
                }
            } else {
                rec.text.push('\n');
                rec.text.push_str(text);
                rec.truncated |= line.truncated;
            }
            return;
        }
        self.flush(out);
        let rec = &mut self.pending;
        rec.text.push_str(text);
        rec.start = line.start;
        rec.end = line.end;
        rec.truncated = line.truncated;
        rec.held = true;
    }

    /// Emit the held record, if any.
    pub fn flush(&mut self, out: &mut LineBatch) {
        let rec = &mut self.pending;
        if std::mem::take(&mut rec.held) {
            out.push(&rec.text, rec.start, rec.end, rec.truncated);
            rec.text.clear();
            // A long record's room is not kept for the file's life (it may be 64 MiB).
            rec.text.shrink_to(KEPT_CAPACITY);
        }
    }

    /// When the held record last grew (`None` when nothing is held).
    pub fn idle_since(&self) -> Option<Instant> {
        self.last_line.filter(|_| self.pending.held)
    }

    /// Offset of the held record's first byte: offsets may not be committed past it.
    pub fn pending_start(&self) -> Option<u64> {
        self.pending.held.then_some(self.pending.start)
    }

    /// Drop the held record (the file was truncated and is read again from the start).
    pub fn reset(&mut self) {
        self.pending.held = false;
        self.pending.text.clear();
    }
}

/// The longest prefix of `s` of at most `n` bytes that ends on a character boundary.
fn prefix(s: &str, n: usize) -> &str {
    let mut i = n.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    &s[..i]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lines: &[&str], max: usize) -> (LineBatch, Multiline) {
        let mut m = Multiline::new(Regex::new(r"^\d{4}-").unwrap(), max);
        let mut input = LineBatch::new();
        let mut at = 0;
        for l in lines {
            let end = at + l.len() as u64 + 1;
            input.push(l, at, end, false);
            at = end;
        }
        let mut out = LineBatch::new();
        m.push_all(&input, &mut out);
        (out, m)
    }

    #[test]
    fn continuation_lines_join_the_record_they_follow() {
        let (mut out, mut m) = run(
            &[
                "2026-01-01 boom",
                "  at a()",
                "  at b()",
                "2026-01-01 ok",
                "tail",
            ],
            1000,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out.text(0), "2026-01-01 boom\n  at a()\n  at b()");
        assert_eq!((out.lines()[0].start, out.lines()[0].end), (0, 34));
        assert_eq!(m.pending_start(), Some(34));
        assert!(m.idle_since().is_some());
        m.flush(&mut out);
        assert_eq!(out.text(1), "2026-01-01 ok\ntail");
        assert_eq!(m.pending_start(), None);
    }

    #[test]
    fn lines_before_the_first_start_form_a_record() {
        let (out, _) = run(&["orphan", "more", "2026-01-01 x"], 1000);
        assert_eq!(out.text(0), "orphan\nmore");
    }

    #[test]
    fn records_over_the_limit_are_truncated_but_end_where_they_end() {
        let (mut out, mut m) = run(&["2026-01-01 a", "bbbbbbbb", "cccc"], 16);
        m.flush(&mut out);
        assert_eq!(out.text(0), "2026-01-01 a\nbbb");
        assert!(out.lines()[0].truncated);
        assert_eq!(out.lines()[0].end, 13 + 9 + 5);
    }
}

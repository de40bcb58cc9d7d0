//! Path rules: which files a `[[files]]` task collects (its `paths = [...]`).
//!
//! A path rule is an absolute path of one of two kinds, matched one path component at a time
//! (so nothing in a rule ever matches a `/`, except `**`).
//!
//! # Globs
//!
//! ```text
//! /var/log/nginx/*.log        files of one directory
//! /var/log/app/**/*.log       files at any depth below /var/log/app (** = zero or more dirs)
//! /data/{a,b}/x.log           alternatives
//! ```
//!
//! `*`, `?` and `[...]` stay within one component, `**` must be a whole component to cross
//! directories, `\` escapes. A `/` inside `{...}` or `[...]` is refused.
//!
//! # Time patterns
//!
//! ```text
//! /data/log/YYYYMMDDhh.log_[0-9]+     2026112209.log_1, time 202611220900
//! /data/YYYYMMDD/app_hh.log           20261122/app_09.log
//! /data/log/app.YYYY-MM-DD.log        app.2026-11-22.log, time 202611220000
//! ```
//!
//! InLong-style. **A rule is a time pattern iff it contains `YYYY`, `MM` or `DD`** (uppercase,
//! not right after a `\`); only then are `hh` and `mm` tokens too, otherwise every rule is a
//! glob. Tokens: `YYYY` a 4-digit year, `MM` month, `DD` day, `hh` hour, `mm` minute, each of
//! 2 digits; each may appear once per rule. A `hh` or `mm` with an ASCII letter on both sides
//! is plain text, so `summary.log` or `common/` hold no minute. Tokens inside a word are text
//! too: a run of tokens with a letter or digit on both sides (`ADDR`, `.tmpuDD42E`), or a run of
//! only `MM` and `DD` with one on one side and the edge of the component on the other (`MMS`,
//! `.tmpBh1tDD`), so a directory named like that leaves a glob a glob; `MM`, `YYYYMMDD`,
//! `appYYYYMMDD.log` and `loghh` are tokens. A date token read as text is logged as a warning.
//!
//! Each component that contains a token or a regex metacharacter (`\ [ ] ( ) { } * + ? | ^ $`)
//! is an anchored regex in which the tokens become capture groups (`YYYY` → `([0-9]{4})`,
//! the others `([0-9]{2})`); any other component is literal. Like InLong, a `.` inside a regex
//! component is the regex `.` (any character: `app.YYYY` also matches `app_2026`), but a `.`
//! alone does not make a component a regex (`/opt/app.d/` stays literal). Glob syntax does not
//! apply: write `.*`, not `*`, and `(a|b)`, not `{a,b}`. A file matches only if its fields are
//! in range (month 01-12, day 01-31, hour 00-23, minute 00-59), and [`RuleMatch::time`] is
//! `YYYYMMDDhhmm` as a number with absent fields 0, to order files by the time in their names.
//!
//! # Roots
//!
//! [`PathRule::root`] is the deepest directory before the first component with a pattern in
//! it: `/var/log/nginx` for `/var/log/nginx/*.log`, `/data` for `/data/YYYYMMDD/app_hh.log`.
//! Scanning and watching start there; the root and its ancestors may be symlinks, but below the
//! root a symlinked directory is never descended (loops), while a symlinked file counts.

mod scan;
mod segment;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use globset::{GlobMatcher, GlobSet, GlobSetBuilder};

use crate::error::FilesError;
use segment::Segment;

/// What a matching path yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleMatch {
    /// For time patterns, `YYYYMMDDhhmm` of the file name as a number (absent fields 0), for
    /// ordering files; `None` for globs.
    pub time: Option<u64>,
}

/// One parsed path rule, a glob or a time pattern (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct PathRule {
    pattern: String,
    /// The whole glob, which decides `matches` for globs; `None` for time patterns.
    glob: Option<GlobMatcher>,
    /// One segment per component, which decide `may_contain` (and `matches` for time patterns).
    segments: Vec<Segment>,
    root: PathBuf,
}

impl PathRule {
    /// Parses a rule.
    ///
    /// Errors, each naming the pattern and why: empty, not absolute, ending in `/`, a `.` or
    /// `..` component, a bad glob, a component that is not a valid regex, a time token used
    /// twice.
    pub fn parse(pattern: &str) -> Result<PathRule, FilesError> {
        let invalid = |reason: &str| FilesError::PathRule {
            pattern: pattern.to_owned(),
            reason: reason.to_owned(),
        };
        if pattern.is_empty() {
            return Err(invalid("is empty"));
        }
        if !pattern.starts_with('/') {
            return Err(invalid("must be an absolute path"));
        }
        if pattern.ends_with('/') {
            return Err(invalid("must name files, not end with \"/\""));
        }
        if pattern.contains('\0') {
            return Err(invalid("contains a NUL byte"));
        }
        let components: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
        if components.iter().any(|c| *c == "." || *c == "..") {
            return Err(invalid("must not contain \".\" or \"..\" components"));
        }
        for c in &components {
            let n = segment::date_tokens_read_as_text(c);
            if n > 0 {
                tracing::warn!(pattern, component = %c, "files.rule {n} date token(s) (YYYY, MM, DD) in this component are glued to a word and read as text; if they are meant as a date, separate them (app_MMDD, not appMMDD)");
            }
        }
        let (glob, segments) = if segment::is_time_pattern(pattern) {
            let mut seen = [false; 5];
            let segments = components
                .iter()
                .map(|c| segment::time_segment(pattern, c, &mut seen))
                .collect::<Result<Vec<_>, _>>()?;
            (None, segments)
        } else {
            segment::check_glob_nesting(pattern)?;
            let glob =
                segment::build_glob(&format!("/{}", components.join("/"))).map_err(|source| {
                    FilesError::Glob {
                        pattern: pattern.to_owned(),
                        source,
                    }
                })?;
            let segments = components
                .iter()
                .map(|c| segment::glob_segment(pattern, c))
                .collect::<Result<Vec<_>, _>>()?;
            (Some(glob), segments)
        };
        // The last component names files, so it never belongs to the root.
        let dirs = &segments[..segments.len().saturating_sub(1)];
        let mut root = PathBuf::from("/");
        root.extend(dirs.iter().map_while(|s| match s {
            Segment::Literal(name) => Some(name.as_str()),
            _ => None,
        }));
        Ok(PathRule {
            pattern: pattern.to_owned(),
            glob,
            segments,
            root,
        })
    }

    /// The rule as written.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Whether this is a time pattern (it has `YYYY`, `MM` or `DD`) rather than a glob.
    pub fn is_time_pattern(&self) -> bool {
        self.glob.is_none()
    }

    /// Deepest directory with no pattern in it: where scanning and watching start.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether `path` (absolute, without `.` or `..`) matches the rule, and its time if so.
    /// A time pattern never matches a path that is not UTF-8 where a regex has to read it.
    pub fn matches(&self, path: &Path) -> Option<RuleMatch> {
        let names = segment::normal_components(path)?;
        if let Some(glob) = &self.glob {
            return glob.is_match(path).then_some(RuleMatch { time: None });
        }
        if names.len() != self.segments.len()
            || !self.segments.iter().zip(&names).all(|(s, n)| s.is_match(n))
        {
            return None;
        }
        segment::time_of(&self.segments, &names).map(|time| RuleMatch { time: Some(time) })
    }

    /// Whether a directory could hold matching files, at any depth below it: to decide whether
    /// to descend into, or watch, a new subdirectory. True for the root, false for a directory
    /// the rule cannot reach; also true for the ancestors of the root (they could hold it).
    pub fn may_contain(&self, dir: &Path) -> bool {
        let Some(names) = segment::normal_components(dir) else {
            return false;
        };
        // Positions in `segments` reachable after matching the directory's components; a
        // position at `**` stays put (more directories) and also skips it (zero directories).
        let n = self.segments.len();
        let mut states = vec![false; n + 1];
        states[0] = true;
        self.close(&mut states);
        for name in names {
            let mut next = vec![false; n + 1];
            for (i, seg) in self.segments.iter().enumerate() {
                if states[i] && seg.is_match(name) {
                    let to = if matches!(seg, Segment::AnyDepth) {
                        i
                    } else {
                        i + 1
                    };
                    next[to] = true;
                }
            }
            self.close(&mut next);
            states = next;
        }
        // At least the file-name component must be left to match below the directory.
        states[..n].iter().any(|s| *s)
    }

    /// Adds the positions that `**` can skip to.
    fn close(&self, states: &mut [bool]) {
        for (i, seg) in self.segments.iter().enumerate() {
            if states[i] && matches!(seg, Segment::AnyDepth) {
                states[i + 1] = true;
            }
        }
    }

    /// Walks from [`root`](Self::root) and returns every regular file that matches, sorted by
    /// path, at most `limit` of them (a warning is logged when more match).
    ///
    /// Descends only where [`may_contain`](Self::may_contain) says so, which bounds the depth to
    /// the rule's components unless it has `**`. Symlinked files count (the link is followed
    /// for the file type), symlinked directories are not descended. Unreadable directories are
    /// logged with `tracing::warn!` and skipped, never an error; a missing root yields nothing.
    pub fn scan(&self, limit: usize) -> Vec<(PathBuf, RuleMatch)> {
        scan::walk(self, limit, &|_| true)
    }
}

/// Include rules plus exclude globs, as DataKit's `ignore`: a file is collected when an include
/// rule matches it and no exclude glob matches its full path or its file name (`*.gz` excludes
/// by name, `/var/log/old/**` by path).
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<PathRule>,
    excludes: GlobSet,
}

impl RuleSet {
    /// Parses the include rules and exclude globs; at least one include rule is needed.
    pub fn new(includes: &[String], excludes: &[String]) -> Result<RuleSet, FilesError> {
        if includes.is_empty() {
            return Err(FilesError::NoPathRules);
        }
        let rules = includes
            .iter()
            .map(|p| PathRule::parse(p))
            .collect::<Result<Vec<_>, _>>()?;
        let mut set = GlobSetBuilder::new();
        for pattern in excludes {
            let exclude = |reason: String| FilesError::Exclude {
                pattern: pattern.clone(),
                reason,
            };
            if pattern.is_empty() {
                return Err(exclude("is empty".to_owned()));
            }
            let glob = globset::GlobBuilder::new(pattern)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| exclude(format!("invalid glob: {e}")))?;
            set.add(glob);
        }
        let excludes = set.build().map_err(|e| FilesError::Exclude {
            pattern: excludes.join(", "),
            reason: format!("invalid glob: {e}"),
        })?;
        Ok(RuleSet { rules, excludes })
    }

    /// The include rules, in the order given.
    pub fn rules(&self) -> &[PathRule] {
        &self.rules
    }

    /// Whether an exclude glob matches the full path or the file name.
    fn is_excluded(&self, path: &Path) -> bool {
        self.excludes.is_match(path)
            || path
                .file_name()
                .is_some_and(|name| self.excludes.is_match(name))
    }

    /// The match of the first include rule that matches, unless the path is excluded.
    pub fn matches(&self, path: &Path) -> Option<RuleMatch> {
        if self.is_excluded(path) {
            return None;
        }
        self.rules.iter().find_map(|rule| rule.matches(path))
    }

    /// The union of the rules' scans without excluded files, deduplicated (a file keeps the
    /// match of the first rule, as in [`matches`](Self::matches)), sorted by path, at most
    /// `limit` files.
    pub fn scan(&self, limit: usize) -> Vec<(PathBuf, RuleMatch)> {
        let mut all = std::collections::BTreeMap::new();
        let keep = |path: &Path| !self.is_excluded(path);
        for rule in &self.rules {
            for (path, m) in scan::walk(rule, limit, &keep) {
                all.entry(path).or_insert(m);
            }
        }
        if all.len() > limit {
            tracing::warn!(
                limit,
                "path rules match more files than the scan limit, the rest are left out"
            );
        }
        all.into_iter().take(limit).collect()
    }

    /// The rules' roots, deduplicated and without those inside another root.
    pub fn roots(&self) -> Vec<PathBuf> {
        let mut roots: Vec<PathBuf> = self.rules.iter().map(|r| r.root.clone()).collect();
        roots.sort();
        let mut out: Vec<PathBuf> = Vec::new();
        for root in roots {
            if !out.iter().any(|kept| root.starts_with(kept)) {
                out.push(root);
            }
        }
        out
    }
}

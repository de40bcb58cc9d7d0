//! The bounded directory walk behind [`PathRule::scan`](super::PathRule::scan).

use std::fs::{self, FileType};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::{PathRule, RuleMatch};

/// Walks from the rule's root in path order and returns the matching regular files that `keep`
/// accepts, at most `limit` of them.
///
/// Children are visited in sorted order, depth first, which is exactly `Path` order, so a walk
/// cut short by the limit returns the first files in sorted order. An explicit stack instead of
/// recursion keeps `**` over deep trees off the call stack.
pub(super) fn walk(
    rule: &PathRule,
    limit: usize,
    keep: &dyn Fn(&Path) -> bool,
) -> Vec<(PathBuf, RuleMatch)> {
    let mut found = Vec::new();
    let mut stack: Vec<std::vec::IntoIter<(PathBuf, FileType)>> = Vec::new();
    stack.extend(read_sorted(rule.root()).map(Vec::into_iter));
    while let Some(dir) = stack.last_mut() {
        let Some((path, file_type)) = dir.next() else {
            stack.pop();
            continue;
        };
        if file_type.is_dir() {
            if rule.may_contain(&path) {
                stack.extend(read_sorted(&path).map(Vec::into_iter));
            }
            continue;
        }
        let Some(m) = rule.matches(&path) else {
            continue;
        };
        // A symlink counts by what it points to; a link to a directory is never descended.
        let is_file = if file_type.is_symlink() {
            fs::metadata(&path).is_ok_and(|meta| meta.is_file())
        } else {
            file_type.is_file()
        };
        if !is_file || !keep(&path) {
            continue;
        }
        if found.len() >= limit {
            tracing::warn!(
                rule = rule.pattern(),
                limit,
                "path rule matches more files than the scan limit, the rest are left out"
            );
            break;
        }
        found.push((path, m));
    }
    found
}

/// The entries of a directory with their own (not followed) file types, sorted by name; `None`
/// when the directory cannot be read, which is logged and otherwise ignored.
fn read_sorted(dir: &Path) -> Option<Vec<(PathBuf, FileType)>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            tracing::debug!(dir = %dir.display(), "directory does not exist, nothing to scan");
            return None;
        }
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot read directory, skipping it");
            return None;
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        match entry.and_then(|e| Ok((e.path(), e.file_type()?))) {
            Ok(item) => out.push(item),
            Err(e) if e.kind() == ErrorKind::NotFound => {} // removed while we read
            Err(e) => {
                let dir = dir.display();
                tracing::warn!(%dir, error = %e, "cannot read a directory entry, skipping it");
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Some(out)
}

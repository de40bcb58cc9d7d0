//! Errors of file collection.

/// An error of file collection. Every variant names what it is about (the pattern, the path...)
/// so that its message stands on its own in a log or a config check.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// A path rule that cannot be used as written (not absolute, empty, a token used twice...).
    #[error("path rule {pattern:?}: {reason}")]
    PathRule { pattern: String, reason: String },
    /// A glob path rule that globset refuses.
    #[error("path rule {pattern:?}: invalid glob: {source}")]
    Glob {
        pattern: String,
        source: globset::Error,
    },
    /// A component of a time pattern that is not a valid regex once its tokens are replaced;
    /// `why` says which token made the rule a time pattern.
    #[error(
        "path rule {pattern:?}: component {component:?} is not a valid regex ({why}): {source}"
    )]
    Regex {
        pattern: String,
        component: String,
        why: String,
        source: regex::Error,
    },
    /// An exclude pattern that cannot be used.
    #[error("exclude pattern {pattern:?}: {reason}")]
    Exclude { pattern: String, reason: String },
    /// A rule set without any include rule.
    #[error("a file task needs at least one path rule, none given")]
    NoPathRules,
    /// A task that cannot run (its name, its thread).
    #[error("file task {task:?}: {reason}")]
    Task { task: String, reason: String },
    /// The state store failed for a task.
    #[error("file task {task:?}: {source}")]
    State {
        task: String,
        source: sandkit_state::StateError,
    },
}

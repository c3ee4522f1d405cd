//! Source locations carried by ops.

use std::fmt;
use std::panic::Location;
use std::sync::Arc;

/// A position in the user's source: the `file:line:col` of the call that built an op.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Loc {
    /// Path as the compiler saw it (relative to the package root for local crates).
    /// Shared, so errors that carry a location stay small.
    pub file: Arc<str>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
}

impl Loc {
    /// The location of the caller, through `#[track_caller]` frames.
    #[track_caller]
    pub fn caller() -> Loc {
        Loc::from(Location::caller())
    }
}

impl From<&Location<'_>> for Loc {
    fn from(l: &Location<'_>) -> Self {
        Loc { file: Arc::from(l.file().replace('\\', "/")), line: l.line(), col: l.column() }
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

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

thread_local! {
    /// Where an embedding language's user is (see [`Loc::with_user`]).
    static USER: std::cell::RefCell<Option<Loc>> = const { std::cell::RefCell::new(None) };
}

impl Loc {
    /// The location of the caller, through `#[track_caller]` frames; or, inside
    /// [`Loc::with_user`], the location given there.
    #[track_caller]
    pub fn caller() -> Loc {
        Loc::at(Location::caller())
    }

    /// The location of a caller captured earlier (to make the `Loc` only when an
    /// error needs it); or, inside [`Loc::with_user`], the location given there.
    pub fn at(caller: &Location<'_>) -> Loc {
        USER.with(|u| u.borrow().clone()).unwrap_or_else(|| Loc::from(caller))
    }

    /// Runs `f` with every op it builds and every error it reports placed at `loc`:
    /// for a binding (Python) whose users' source Rust's `#[track_caller]` cannot see.
    /// Nests; the previous location is restored afterwards, even on a panic.
    pub fn with_user<R>(loc: Loc, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<Loc>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let prev = self.0.take();
                USER.with(|u| *u.borrow_mut() = prev);
            }
        }
        let _restore = Restore(USER.with(|u| u.borrow_mut().replace(loc)));
        f()
    }
}

impl From<&Location<'_>> for Loc {
    fn from(l: &Location<'_>) -> Self {
        Loc { file: Arc::from(l.file().replace('\\', "/")), line: l.line(), col: l.column() }
    }
}

impl fmt::Display for Loc {
    /// `file:line:col`, or `file:line` where the column is unknown (0).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.col {
            0 => write!(f, "{}:{}", self.file, self.line),
            c => write!(f, "{}:{}:{c}", self.file, self.line),
        }
    }
}

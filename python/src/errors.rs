//! kiln's errors as the Python exceptions TF raises for them, with the user's Python
//! `file:line` in the message.
//!
//! Building an op runs under [`Loc::with_user`] at the caller's Python frame, so build
//! errors carry it already. A run is placed at a marker location instead (finding the
//! frame costs a microsecond, a run a few), which an error replaces with the frame.

use kiln::ir::Loc;
use pyo3::exceptions::{PyException, PyKeyError, PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use std::sync::{Arc, OnceLock};

pyo3::create_exception!(kiln.compat.v1.errors, OpError, PyException, "TF's `errors.OpError`: a failed run.");
pyo3::create_exception!(kiln.compat.v1.errors, InvalidArgumentError, OpError, "TF's `errors.InvalidArgumentError`.");
pyo3::create_exception!(
    kiln.compat.v1.errors,
    FailedPreconditionError,
    OpError,
    "TF's `errors.FailedPreconditionError`."
);
pyo3::create_exception!(kiln.compat.v1.errors, NotFoundError, OpError, "TF's `errors.NotFoundError`.");
pyo3::create_exception!(kiln.compat.v1.errors, DataLossError, OpError, "TF's `errors.DataLossError`.");
pyo3::create_exception!(kiln.compat.v1.errors, InternalError, OpError, "TF's `errors.InternalError`.");

/// The directory of the `kiln` Python package: frames under it are kiln's, not the user's.
static PACKAGE_DIR: OnceLock<String> = OnceLock::new();

/// Records the package directory (called once by `kiln/__init__.py`).
#[pyfunction]
pub fn _set_package_dir(dir: String) {
    let _ = PACKAGE_DIR.set(dir);
}

/// The user's `file:line`, as build errors give it, for errors raised in Python.
#[pyfunction]
pub fn _user_location(py: Python<'_>) -> String {
    user_loc(py).to_string()
}

/// The innermost Python frame outside the kiln package: the user's line.
pub fn user_loc(py: Python<'_>) -> Loc {
    let find = || -> PyResult<Option<Loc>> {
        let pkg = PACKAGE_DIR.get().map(String::as_str).unwrap_or("\u{0}");
        let mut frame = py.import("sys")?.call_method1("_getframe", (0,))?;
        loop {
            let file: String = frame.getattr("f_code")?.getattr("co_filename")?.extract()?;
            if !file.starts_with(pkg) {
                let line: u32 = frame.getattr("f_lineno")?.extract()?;
                return Ok(Some(Loc { file: Arc::from(file), line, col: 0 }));
            }
            frame = frame.getattr("f_back")?;
            if frame.is_none() {
                return Ok(None);
            }
        }
    };
    find().ok().flatten().unwrap_or_else(|| Loc { file: Arc::from("<python>"), line: 0, col: 0 })
}

/// The location a run is placed at until an error needs the real one.
pub fn run_marker() -> Loc {
    static MARK: OnceLock<Arc<str>> = OnceLock::new();
    Loc { file: MARK.get_or_init(|| Arc::from("\u{1}kiln-run")).clone(), line: 0, col: 0 }
}

/// An exception of the class TF1 raises, by the name kiln's Rust errors give it.
fn exception(class: &str, m: String) -> PyErr {
    match class {
        "TypeError" => PyTypeError::new_err(m),
        "KeyError" => PyKeyError::new_err(m),
        "OSError" => PyOSError::new_err(m),
        "InvalidArgumentError" => InvalidArgumentError::new_err(m),
        "FailedPreconditionError" => FailedPreconditionError::new_err(m),
        "NotFoundError" => NotFoundError::new_err(m),
        "DataLossError" => DataLossError::new_err(m),
        "InternalError" => InternalError::new_err(m),
        _ => PyValueError::new_err(m),
    }
}

/// A build error as TF's exception class (the class the Rust error names).
pub fn build_error(e: &kiln::BuildError) -> PyErr {
    exception(e.tf_exception(), e.to_string())
}

/// A run-time error as TF's exception class, placed at the user's line.
pub fn run_error(py: Python<'_>, e: &kiln::Error) -> PyErr {
    let mark = run_marker().to_string();
    let m = e.to_string().replace(&mark, &user_loc(py).to_string());
    exception(e.tf_exception(), m)
}

/// Runs `f` building ops at the caller's Python line, mapping its error.
pub fn build<T>(py: Python<'_>, f: impl FnOnce() -> Result<T, kiln::BuildError>) -> PyResult<T> {
    Loc::with_user(user_loc(py), f).map_err(|e| build_error(&e))
}

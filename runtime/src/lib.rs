//! kiln's runtime: a [`Session`] that owns variables and runs graphs, the reference
//! [`interp`]reter it runs them on, and [`TensorValue`]s that print as NumPy does.
#![warn(missing_docs)]

mod error;
mod format;
pub mod interp;
mod session;
mod value;

pub use error::{Error, Result};
pub use session::{Backend, Session, SessionOptions};
pub use value::{TensorValue, ValueTypeError};

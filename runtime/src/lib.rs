//! kiln's runtime: a [`Session`] that owns variables and runs graphs, the reference
//! [`interp`]reter it runs them on, and [`TensorValue`]s that print as NumPy does.
//!
//! ```
//! use kiln_frontend::{DType, Graph};
//! use kiln_runtime::Session;
//! let g = Graph::new();
//! let x = g.placeholder(DType::F32, [None], "x").unwrap();
//! let y = &x * 2.0;
//! let mut sess = Session::new(&g);
//! let out = sess.run1(&y, &[(&x, vec![1.0f32, 2.5].into())]).unwrap();
//! assert_eq!(out.to_string(), "[2. 5.]");
//! ```
#![warn(missing_docs)]

mod bind;
pub mod build;
pub mod cache;
mod callable;
mod calls;
mod check;
mod denormals;
mod error;
pub mod exec;
mod format;
pub mod interp;
mod saver;
mod session;
mod value;
mod words;

pub use cache::{CompileReason, CompileStats};
pub use callable::{AsFeed, Callable, Feed};
pub use error::{CheckDiff, Error, Result};
pub use saver::{latest_checkpoint, Saver};
pub use session::{Backend, Session, SessionOptions};
pub use value::{TensorValue, ValueTypeError};

//! kiln's IR passes and the compiled schedule. Each pass is one file with one entry point:
//! - [`autodiff::gradients`]: reverse-mode differentiation, appending gradient ops;
//! - [`fusion::run`]: fuses a module into a [`schedule::Schedule`] of loop kernels and
//!   matmuls for codegen.
#![warn(missing_docs)]

pub mod autodiff;
pub mod builder;
pub mod fusion;
pub mod schedule;

/// A pass could not do its work; names the pass and the op.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{pass}: {op}: {message}")]
pub struct PassError {
    /// the pass
    pub pass: &'static str,
    /// the op being processed or created
    pub op: String,
    /// why
    pub message: String,
}

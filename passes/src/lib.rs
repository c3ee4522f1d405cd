//! kiln's IR passes. Each pass is one file with one entry point:
//! - [`autodiff::gradients`]: reverse-mode differentiation, appending gradient ops.
//!
//! Simplification, fusion and buffer planning arrive with the JIT.
#![warn(missing_docs)]

pub mod autodiff;
pub mod builder;

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

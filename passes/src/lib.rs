//! kiln's IR passes and the compiled schedule. Each pass is one file with one entry point:
//! - [`autodiff::gradients`]: reverse-mode differentiation, appending gradient ops;
//! - [`expand_argmax::run`]: argmax as reductions the kernels compile;
//! - [`simplify::run`]: algebraic identities and constant folding;
//! - [`cse::run`]: common-subexpression elimination;
//! - [`dce::run`]: dead-code elimination;
//! - [`split_masks::run`]: a copy of each shared comparison per consumer;
//! - [`fusion::run`]: fuses a module into a [`schedule::Schedule`] of loop kernels and
//!   matmuls for codegen, which [`schedule::verify`] checks and [`schedule::Schedule::print`] prints;
//! - [`abi::run`]: the kernel ABI, every step's argument block slot by slot, which
//!   codegen, binding, thread splitting and error decoding all read;
//! - [`buffer_plan::run`]: places a schedule's buffers (arena slots sized by the
//!   symbolic dims, in-place updates, snapshots) once for every binding.
//!
//! Every pass and stage is a [`stage::Stage`] (a name, a run, a verify, a print), run by
//! one driver: [`pipeline::optimize`] runs the IR passes and [`pipeline::lower`] the IR
//! passes, fusion, the ABI and buffer planning, verifying after each on request and
//! dumping each by name.
#![warn(missing_docs)]

pub mod abi;
pub mod autodiff;
pub mod buffer_plan;
pub mod builder;
pub mod cse;
pub mod dce;
pub mod expand_argmax;
pub mod fusion;
pub mod pipeline;
pub mod rewrite;
pub mod schedule;
pub mod simplify;
pub mod split_masks;
pub mod stage;

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

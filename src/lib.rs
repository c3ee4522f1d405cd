//! kiln: a graph-to-kernel compiler for TensorFlow-1-style graphs.
//!
//! Build a [`Graph`] of placeholders, constants and variables; run it in a [`Session`]
//! with feeds; get `ndarray` arrays back. Under the hood every graph is a typed,
//! explicitly shaped IR ([`ir`]) that prints as text and parses back.
//!
//! ```
//! use kiln::{Graph, Session, DType};
//! # fn main() -> Result<(), kiln::Error> {
//! let g = Graph::new();
//! let a = g.placeholder(DType::F32, [None], "a")?;
//! let b = g.constant([1.0, 2.0])?;
//! let c = &a + &b;
//! let mut sess = Session::new(&g);
//! let out = sess.run1(&c, &[(&a, vec![1.0f32, 4.0].into())])?;
//! assert_eq!(out.to_string(), "[2. 6.]");
//! # Ok(()) }
//! ```
//!
//! A dependent crate uses kiln's own `ndarray` (the README's example):
//!
//! ```
//! use kiln::{ndarray, DType, Graph, Session};
//! # fn main() -> Result<(), kiln::Error> {
//! let g = Graph::new();
//! let x = g.placeholder(DType::F32, [None], "x")?;
//! let y = &x * 2.0;
//! let mut sess = Session::new(&g);
//! let out = sess.run1(&y, &[(&x, ndarray::arr1(&[1.0f32, 2.0]).into_dyn().into())])?;
//! assert_eq!(out.to_string(), "[2. 4.]");
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub use kiln_frontend::{
    add_n, argmax, argmax_typed, argmin, assign, assign_add, assign_sub, binary_op, broadcast_to, cast, categorical,
    clip_by_global_norm, clip_by_norm, clip_by_value, compare_op, concat, cumsum, expand_dims, gather, gather_nd,
    gather_v2, get_regularization_loss, get_regularization_losses, getitem, global_norm, gradients, gradients_with,
    graph_keys, group, identity, layers, losses, matmul, matmul_with, nn, one_hot, one_hot_with, ones, ones_like,
    range, reduce_all, reduce_any, reduce_logsumexp, reduce_op, reshape, select, shape, slice, split, squeeze, stack,
    stop_gradient, tile, to_float, transpose, unary_op, unstack, where_, where_v1, zeros, zeros_like, Axes, DType, Dim,
    DimSpec, Graph, Index, Initializer, IntoConstant, IntoShapeSpec, MatMul, OneHot, Optimizer, RankPromotion,
    Regularizer, Reuse, ScopeGuard, Shape, Split, Tensor, TensorLike, TensorShape, VarOptions, VarScope,
};

// every op of the elementwise tables under its TF function name (`tanh`, `add`, `less`)
macro_rules! reexport {
    ([] $($v:ident $mn:literal $tf:literal $f:ident $kind:ident $doc:literal;)*) => {
        pub use kiln_frontend::{$($f),*};
    };
}
kiln_ir::for_each_unary_op!(reexport);
kiln_ir::for_each_binary_op!(reexport);
kiln_ir::for_each_cmp_op!(reexport);
kiln_ir::for_each_reduce_op!(reexport);
pub use kiln_runtime::{
    interp, latest_checkpoint, AsFeed, Backend, Callable, CompileReason, CompileStats, Feed, Saver, Session,
    SessionOptions, TensorValue, ValueTypeError,
};

/// TF1's optimizers (`tf.train`).
pub mod train {
    pub use kiln_frontend::{
        exponential_decay, piecewise_constant, polynomial_decay, AdamOptimizer, GradientDescentOptimizer, GradsAndVars,
        LearningRate, MomentumOptimizer, Optimizer, RMSPropOptimizer,
    };
    pub use kiln_runtime::{latest_checkpoint, Saver};
}

pub mod surface;

/// The passes: autodiff, simplify, CSE, DCE, fusion and the schedule they produce.
pub use kiln_passes as passes;

/// The IR: types, ops, verifier, printer and parser.
pub use kiln_ir as ir;

/// The graph builder (its error type, `frontend::Error`, is [`BuildError`]).
pub use kiln_frontend as frontend;

/// The `ndarray` kiln's values and feeds are made of, so a dependent crate uses the
/// same version.
pub use ndarray;

/// A build-time error (shapes, dtypes, variables), with the user's source location.
pub type BuildError = kiln_frontend::Error;

/// Any kiln error: build errors convert into it, so one `?` serves both.
pub type Error = kiln_runtime::Error;

/// Shorthand for kiln results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The runtime: sessions, the JIT executable, its build options and the interpreter.
pub use kiln_runtime as runtime;

/// Cranelift code generation for fused kernels.
pub use kiln_codegen as codegen;

//! kiln's TF1-style graph builder: placeholders, constants, variables under variable
//! scopes, NumPy broadcasting made explicit, and every op under its TensorFlow name.
//!
//! ```
//! use kiln_frontend::{Graph, DType, reduce_mean, Axes};
//! let g = Graph::new();
//! let a = g.placeholder(DType::F32, [None], "a_placeholder").unwrap();
//! let c = &a + 1.0;
//! assert_eq!(a.to_string(), "Tensor(\"a_placeholder:0\", shape=(?,), dtype=float32)");
//! let m = reduce_mean(&c, Axes::All, false).unwrap();
//! assert_eq!(m.get_shape(), []);
//! ```
#![warn(missing_docs)]

mod array_ops;
mod constant;
mod control;
mod error;
mod gradients;
mod graph;
mod ir_io;
pub mod layers;
pub mod losses;
mod math_ops;
mod nn_ops;
mod ops;
mod orthogonal;
mod random;
mod schedules;
mod scopes;
mod tensor;
mod train;
mod variables;

pub use array_ops::{
    gather_nd, gather_v2, getitem, one_hot_with, ones_like, range, split, tile, unstack, where_v1, zeros_like, Index,
    OneHot, Split, TensorLike,
};
pub use constant::{cast_literal, Element, IntoConstant};
pub use control::identity;
pub use error::{Error, Result};
pub use gradients::{gradients, gradients_with, stop_gradient};
pub use graph::{DimSpec, Graph, IntoShapeSpec, RankPromotion, ScopeGuard};
pub use kiln_ir::{DType, Dim, Shape};
pub use math_ops::{
    add_n, argmax_typed, argmin, clip_by_norm, clip_by_value, matmul_with, reduce_all, reduce_any, reduce_logsumexp,
    MatMul,
};
pub use nn_ops::{argmax, clip_by_global_norm, cumsum, gather, global_norm, nn, one_hot, shape};
pub use ops::*;
pub use random::{categorical, categorical_as};
pub use schedules::{
    assign_add, assign_sub, exponential_decay, ones, piecewise_constant, polynomial_decay, to_float, zeros,
};
pub use scopes::{
    get_regularization_loss, get_regularization_losses, graph_keys, Regularizer, Reuse, Template, VarScope,
};
pub use tensor::{Tensor, TensorShape};
pub use train::{
    AdamOptimizer, GradientDescentOptimizer, GradsAndVars, LearningRate, MomentumOptimizer, Optimizer, RMSPropOptimizer,
};
pub use variables::{Initializer, VarOptions};

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

mod constant;
mod control;
mod error;
mod gradients;
mod graph;
mod ir_io;
mod nn_ops;
mod ops;
mod random;
mod tensor;
mod train;
mod variables;

pub use constant::{cast_literal, Element, IntoConstant};
pub use control::identity;
pub use error::{Error, Result};
pub use gradients::{gradients, gradients_with, stop_gradient};
pub use graph::{DimSpec, Graph, IntoShapeSpec, RankPromotion, ScopeGuard};
pub use kiln_ir::{DType, Dim, Shape};
pub use nn_ops::{argmax, clip_by_global_norm, clip_by_value, cumsum, gather, global_norm, nn, one_hot, shape};
pub use ops::*;
pub use random::categorical;
pub use tensor::{Tensor, TensorShape};
pub use train::{
    AdamOptimizer, GradientDescentOptimizer, GradsAndVars, LearningRate, MomentumOptimizer, Optimizer, RMSPropOptimizer,
};
pub use variables::Initializer;

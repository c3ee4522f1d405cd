//! Tensor handles, their TF-style display, and the arithmetic operators.

use crate::ops::{binary_at, binary_op, scalar_like};
use crate::{Error, Graph, Result};
use kiln_ir::{BinaryOp, DType, OpKind, Shape, Type, UnaryOp, ValueId};
use std::fmt;

/// A handle to a value in a [`Graph`] (TF `Tensor`; variables are tensors too).
///
/// The arithmetic operators cannot return `Result`, so an invalid `a + b` yields a
/// *poisoned* tensor that carries the build error: any op on it, or any run that
/// fetches it, returns that error with the original line.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub(crate) graph: Graph,
    pub(crate) id: ValueId,
    pub(crate) poison: Option<std::sync::Arc<Error>>,
}

/// A static shape as TF shows it: `(?, 1)`. Compares equal to fixed sizes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorShape(pub Shape);

impl TensorShape {
    /// Dims as `Some(size)` or `None` for symbols (TF `as_list()`).
    pub fn as_list(&self) -> Vec<Option<usize>> {
        self.0.dims().iter().map(|d| d.fixed().map(|n| n as usize)).collect()
    }

    /// The rank.
    pub fn rank(&self) -> usize {
        self.0.rank()
    }
}

impl fmt::Display for TensorShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.tf_string())
    }
}

impl<const N: usize> PartialEq<[usize; N]> for TensorShape {
    fn eq(&self, other: &[usize; N]) -> bool {
        self.as_list() == other.iter().map(|&n| Some(n)).collect::<Vec<_>>()
    }
}

impl PartialEq<&[usize]> for TensorShape {
    fn eq(&self, other: &&[usize]) -> bool {
        self.as_list() == other.iter().map(|&n| Some(n)).collect::<Vec<_>>()
    }
}

impl Tensor {
    pub(crate) fn poisoned(graph: &Graph, e: Error) -> Tensor {
        Tensor { graph: graph.clone(), id: ValueId(u32::MAX), poison: Some(std::sync::Arc::new(e)) }
    }

    /// The graph this tensor belongs to.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The IR value, or the build error if this tensor is poisoned.
    pub fn value(&self) -> Result<ValueId> {
        match &self.poison {
            Some(e) => Err((**e).clone()),
            None => Ok(self.id),
        }
    }

    /// The build error carried by a poisoned tensor.
    pub fn error(&self) -> Option<&Error> {
        self.poison.as_deref()
    }

    /// The IR type, or `None` for ops without a result (assign, group) and poisoned tensors.
    pub fn ty(&self) -> Option<Type> {
        self.poison.is_none().then(|| self.graph.ty_of(self.id)).flatten()
    }

    /// The element type (`Bool` is never returned for result-less ops; see [`Tensor::ty`]).
    pub fn dtype(&self) -> Option<DType> {
        self.ty().map(|t| t.dtype)
    }

    /// The static shape (TF `get_shape()`); `()` for result-less ops.
    pub fn get_shape(&self) -> TensorShape {
        TensorShape(self.ty().map(|t| t.shape).unwrap_or_default())
    }

    /// The op name (`add_1`, `layer_0/W0`).
    pub fn op_name(&self) -> String {
        if self.poison.is_some() {
            return "<invalid>".into();
        }
        match self.var_name() {
            Some(v) => v,
            None => self.graph.op_name(self.id),
        }
    }

    /// TF's tensor name: `add_1:0`, `layer_0/W0:0`.
    pub fn name(&self) -> String {
        format!("{}:0", self.op_name())
    }

    /// The variable this tensor reads, if it is a variable.
    pub fn var_name(&self) -> Option<String> {
        if self.poison.is_some() {
            return None;
        }
        let m = self.graph.module();
        match m.op(self.id).kind {
            OpKind::Read(v) => Some(m.var(v).name.clone()),
            _ => None,
        }
    }

    /// The tensors this one's op reads (TF `Tensor.op.inputs`): none for a
    /// placeholder, a constant or a variable.
    pub fn op_inputs(&self) -> Vec<Tensor> {
        if self.poison.is_some() {
            return Vec::new();
        }
        let m = self.graph.module();
        m.op(self.id).operands.iter().map(|&v| self.graph.tensor(v)).collect()
    }

    /// True if this tensor is a variable (a `get_variable` result).
    pub fn is_variable(&self) -> bool {
        self.var_name().is_some()
    }
}

impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(e) = &self.poison {
            return write!(f, "Tensor(<invalid: {e}>)");
        }
        match (self.ty(), self.var_name()) {
            (Some(t), Some(v)) => {
                write!(f, "<tf.Variable '{v}:0' shape={} dtype={}_ref>", t.shape.tf_string(), t.dtype.tf_name())
            }
            (Some(t), None) => {
                write!(f, "Tensor(\"{}\", shape={}, dtype={})", self.name(), t.shape.tf_string(), t.dtype.tf_name())
            }
            (None, _) => write!(f, "<tf.Operation '{}' type=NoOp>", self.op_name()),
        }
    }
}

macro_rules! binop {
    ($trait:ident, $method:ident, $op:expr) => {
        impl std::ops::$trait<Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                binary_op($op, &self, &rhs).unwrap_or_else(|e| Tensor::poisoned(&self.graph, e))
            }
        }
        impl std::ops::$trait<&Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                binary_op($op, &self, rhs).unwrap_or_else(|e| Tensor::poisoned(&self.graph, e))
            }
        }
        impl std::ops::$trait<Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                binary_op($op, self, &rhs).unwrap_or_else(|e| Tensor::poisoned(&self.graph, e))
            }
        }
        impl std::ops::$trait<&Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                binary_op($op, self, rhs).unwrap_or_else(|e| Tensor::poisoned(&self.graph, e))
            }
        }
        impl std::ops::$trait<f32> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: f32) -> Tensor {
                let loc = kiln_ir::Loc::caller();
                scalar_like(self, rhs as f64, $op, "y", &loc)
                    .and_then(|y| binary_at($op, self, &y, &loc))
                    .unwrap_or_else(|e| Tensor::poisoned(&self.graph, e))
            }
        }
        impl std::ops::$trait<f32> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: f32) -> Tensor {
                std::ops::$trait::$method(&self, rhs)
            }
        }
        impl std::ops::$trait<&Tensor> for f32 {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                let loc = kiln_ir::Loc::caller();
                scalar_like(rhs, self as f64, $op, "x", &loc)
                    .and_then(|x| binary_at($op, &x, rhs, &loc))
                    .unwrap_or_else(|e| Tensor::poisoned(&rhs.graph, e))
            }
        }
        impl std::ops::$trait<Tensor> for f32 {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                std::ops::$trait::$method(self, &rhs)
            }
        }
    };
}

binop!(Add, add, BinaryOp::Add);
binop!(Sub, sub, BinaryOp::Sub);
binop!(Mul, mul, BinaryOp::Mul);
binop!(Div, div, BinaryOp::Div);

impl std::ops::Neg for &Tensor {
    type Output = Tensor;
    #[track_caller]
    fn neg(self) -> Tensor {
        crate::ops::unary_op(UnaryOp::Neg, self).unwrap_or_else(|e| Tensor::poisoned(&self.graph, e))
    }
}

impl std::ops::Neg for Tensor {
    type Output = Tensor;
    #[track_caller]
    fn neg(self) -> Tensor {
        -&self
    }
}

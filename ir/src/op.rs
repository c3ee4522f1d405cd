//! Ops: the instruction set of the IR.

use crate::{DType, Loc, Type};
use std::fmt;

/// An SSA value: the result of the op at this index in its [`crate::Module`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(pub u32);

impl ValueId {
    /// The op index.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for ValueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// A variable declared in a [`crate::Module`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VarId(pub u32);

impl VarId {
    /// The declaration index.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

pub use crate::op_table::{BinaryOp, CmpOp, Operands, ReduceOp, UnaryOp, BINARY_OPS, CMP_OPS, REDUCE_OPS, UNARY_OPS};

/// Distributions of the `random_*` ops used by variable initializers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RandomDist {
    /// Uniform on `[min, max)`.
    Uniform {
        /// lower bound
        min: f64,
        /// upper bound
        max: f64,
    },
    /// Normal.
    Normal {
        /// mean
        mean: f64,
        /// standard deviation
        stddev: f64,
    },
    /// Normal, redrawn while more than two standard deviations from the mean (TF's rule).
    TruncatedNormal {
        /// mean
        mean: f64,
        /// standard deviation
        stddev: f64,
    },
}

/// Constant data, flat in row-major order, of the op's dtype.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// f32 data
    F32(Vec<f32>),
    /// f64 data
    F64(Vec<f64>),
    /// i32 data
    I32(Vec<i32>),
    /// i64 data
    I64(Vec<i64>),
    /// bool data
    Bool(Vec<bool>),
    /// u8 data
    U8(Vec<u8>),
    /// i8 data
    I8(Vec<i8>),
    /// u16 data
    U16(Vec<u16>),
    /// i16 data
    I16(Vec<i16>),
}

impl Literal {
    /// The dtype of the data.
    pub fn dtype(&self) -> DType {
        match self {
            Literal::F32(_) => DType::F32,
            Literal::F64(_) => DType::F64,
            Literal::I32(_) => DType::I32,
            Literal::I64(_) => DType::I64,
            Literal::Bool(_) => DType::Bool,
            Literal::U8(_) => DType::U8,
            Literal::I8(_) => DType::I8,
            Literal::U16(_) => DType::U16,
            Literal::I16(_) => DType::I16,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Literal::F32(v) => v.len(),
            Literal::F64(v) => v.len(),
            Literal::I32(v) => v.len(),
            Literal::I64(v) => v.len(),
            Literal::Bool(v) => v.len(),
            Literal::U8(v) => v.len(),
            Literal::I8(v) => v.len(),
            Literal::U16(v) => v.len(),
            Literal::I16(v) => v.len(),
        }
    }

    /// True if there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What an op computes. Attributes live here; operands live in [`Op::operands`].
#[derive(Clone, Debug, PartialEq)]
pub enum OpKind {
    /// A value fed by the caller of each run (TF placeholder). Its name is the feed key.
    Parameter,
    /// A literal.
    Constant(Literal),
    /// The value of a variable at the start of the run.
    Read(VarId),
    /// Stores operand 0 into the variable at the end of the run. Result: none.
    Assign(VarId),
    /// Seeded random numbers (initializers). The same seed gives the same numbers.
    Random {
        /// distribution
        dist: RandomDist,
        /// seed derived from the graph seed and an op counter
        seed: u64,
    },
    /// Elementwise unary op.
    Unary(UnaryOp),
    /// Elementwise binary op; both operands have the result's type.
    Binary(BinaryOp),
    /// Elementwise comparison; operands share a type, the result is bool.
    Compare(CmpOp),
    /// `select(cond, a, b)`: elementwise `cond ? a : b`.
    Select,
    /// XLA's broadcast_in_dim: operand axis `i` maps to result axis `dims[i]` and must
    /// be 1 or equal to it; the other result axes are new.
    Broadcast {
        /// result axis of each operand axis, strictly increasing
        dims: Vec<usize>,
    },
    /// Same elements, new shape (row-major).
    Reshape,
    /// Result axis `i` is operand axis `perm[i]`.
    Transpose {
        /// the permutation
        perm: Vec<usize>,
    },
    /// A contiguous box: starts at `begin`, extends by the result's dims.
    Slice {
        /// start index per axis
        begin: Vec<u64>,
    },
    /// Joins operands along `axis`.
    Concat {
        /// the axis
        axis: usize,
    },
    /// Reduces `axes`; with `keepdims` they stay as size 1.
    Reduce {
        /// which reduction
        op: ReduceOp,
        /// reduced axes, strictly increasing
        axes: Vec<usize>,
        /// keep reduced axes as 1
        keepdims: bool,
    },
    /// `[.., m, k] x [.., k, n] -> [.., m, n]`, batch dims equal.
    MatMul,
    /// Elementwise dtype conversion (float to int truncates; to bool is `!= 0`).
    Convert,
    /// Runs all operands; no result (TF `group`, the init op, a train op).
    Group,
    /// Identity whose gradient is zero (TF `stop_gradient`).
    StopGradient,
    /// The product of the run-time sizes of operand axes `axes`, as a scalar of the
    /// result dtype (the divisor of a mean over a symbolic batch).
    DimSize {
        /// operand axes, strictly increasing
        axes: Vec<usize>,
    },
    /// The index along `axis` at every position of the declared type.
    Iota {
        /// the counted axis
        axis: usize,
    },
    /// Index of the largest element along `axis` (first on ties, NaN counts as
    /// largest); integer result without that axis.
    ArgMax {
        /// the reduced axis
        axis: usize,
    },
    /// Rows of `params` (operand 0) picked by integer `indices` (operand 1):
    /// `result[i.., r..] = params[indices[i..], r..]`. An index out of range fails the run.
    Gather,
    /// Identity on integer indices that fails the run if any is outside `0..bound`
    /// (guards one-hot labels, where TF's sparse cross-entropy errors too).
    CheckIndex {
        /// exclusive upper bound
        bound: u64,
    },
    /// Running sums along `axis` (TF `cumsum`): element `i` is the sum of elements
    /// `0..=i` (`0..i` when `exclusive`), counted from the end when `reverse`.
    Cumsum {
        /// the summed axis
        axis: usize,
        /// leave out the element itself
        exclusive: bool,
        /// sum from the last element backwards (reward-to-go)
        reverse: bool,
    },
    /// The adjoint of gather: a zero tensor of the declared type with `updates`
    /// (operand 1) added at rows `indices` (operand 0); repeated rows accumulate.
    ScatterAdd,
}

impl RandomDist {
    /// The random op's mnemonic, which is also TF's op name (`random_normal`).
    pub fn mnemonic(&self) -> &'static str {
        match self {
            RandomDist::Uniform { .. } => "random_uniform",
            RandomDist::Normal { .. } => "random_normal",
            RandomDist::TruncatedNormal { .. } => "truncated_normal",
        }
    }
}

impl OpKind {
    /// The mnemonic printed in IR text.
    pub fn mnemonic(&self) -> &'static str {
        use OpKind::*;
        match self {
            Parameter => "parameter",
            Constant(_) => "constant",
            Read(_) => "read",
            Assign(_) => "assign",
            Random { dist, .. } => dist.mnemonic(),
            Unary(u) => u.mnemonic(),
            Binary(b) => b.mnemonic(),
            Compare(c) => c.mnemonic(),
            Select => "select",
            Broadcast { .. } => "broadcast",
            Reshape => "reshape",
            Transpose { .. } => "transpose",
            Slice { .. } => "slice",
            Concat { .. } => "concat",
            Reduce { op, .. } => op.mnemonic(),
            MatMul => "matmul",
            Convert => "convert",
            Group => "group",
            StopGradient => "stop_gradient",
            DimSize { .. } => "dim_size",
            Iota { .. } => "iota",
            ArgMax { .. } => "argmax",
            Gather => "gather",
            ScatterAdd => "scatter_add",
            CheckIndex { .. } => "check_index",
            Cumsum { .. } => "cumsum",
        }
    }

    /// True for elementwise ops (unary, binary, compare, select, convert).
    pub fn is_elementwise(&self) -> bool {
        matches!(self, OpKind::Unary(_) | OpKind::Binary(_) | OpKind::Compare(_) | OpKind::Select | OpKind::Convert)
    }
}

/// One op: kind, operands, result type, a unique name and where the user built it.
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    /// What it computes.
    pub kind: OpKind,
    /// Operand values, all defined earlier in the module.
    pub operands: Vec<ValueId>,
    /// Result type; `None` for ops without a result (assign, group).
    pub ty: Option<Type>,
    /// Unique name within the module (TF-style: `add`, `add_1`, `layer_0/MatMul`).
    pub name: String,
    /// Source location of the builder call, if known.
    pub loc: Option<Loc>,
}

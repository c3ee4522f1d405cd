//! Build-time errors: each names the op or tensor, the shapes or dtypes, and the
//! `file:line:col` of the user's call.

use kiln_ir::{DType, Loc, Shape};

/// Shorthand for frontend results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// TF's "Dimensions must be equal, but are 3 and 4 for 'add' with input shapes: [2,3],
/// [4]." for two shapes that do not broadcast: the first pair (from the right) that
/// clashes.
fn broadcast_words(op: &str, a: &Shape, b: &Shape) -> String {
    let pairs = a.0.iter().rev().zip(b.0.iter().rev());
    let clash = pairs
        .filter_map(|(x, y)| Some((x.fixed()?, y.fixed()?)))
        .find(|&(x, y)| x != y && x != 1 && y != 1)
        .map_or(("?".to_string(), "?".to_string()), |(x, y)| (x.to_string(), y.to_string()));
    dims_words(op, &clash.0, &clash.1, a, b)
}

fn dims_words(op: &str, x: &str, y: &str, a: &Shape, b: &Shape) -> String {
    let name = op.rsplit('/').next().unwrap_or(op);
    format!(
        "Dimensions must be equal, but are {x} and {y} for '{name}' with input shapes: {}, {}.",
        a.tf_list(),
        b.tf_list()
    )
}

/// TF's words for a matmul whose inner (or batch) dims differ, or an operand of rank
/// under 2.
fn matmul_words(op: &str, a: &Shape, b: &Shape) -> String {
    let name = op.rsplit('/').next().unwrap_or(op);
    if let Some(r) = [a.rank(), b.rank()].into_iter().find(|&r| r < 2) {
        return format!(
            "Shape must be rank 2 but is rank {r} for '{name}' with input shapes: {}, {}.",
            a.tf_list(),
            b.tf_list()
        );
    }
    let show = |d: &kiln_ir::Dim| d.fixed().map_or("?".to_string(), |n| n.to_string());
    let (x, y) = (show(&a.0[a.rank() - 1]), show(&b.0[b.rank() - 2]));
    if x != y {
        return dims_words(op, &x, &y, a, b);
    }
    format!(
        "Dimensions must be equal, but the batch dims differ for '{name}' with input shapes: {}, {}.",
        a.tf_list(),
        b.tf_list()
    )
}

fn at(l: &Option<Loc>) -> String {
    l.as_ref().map_or_else(|| "unknown location".to_string(), Loc::to_string)
}

/// Why a graph could not be built.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Error {
    /// NumPy broadcasting cannot reconcile two shapes.
    #[error("{loc}: {op}: {}", broadcast_words(op, lhs, rhs))]
    Broadcast {
        /// the op being built
        op: String,
        /// left operand shape
        lhs: Shape,
        /// right operand shape
        rhs: Shape,
        /// the user's call
        loc: Loc,
    },
    /// An outer (vectors-to-matrix) broadcast under [`crate::RankPromotion::Error`].
    #[error("{loc}: {op}: outer broadcast of {} and {} to {} expands both operands (rank-promotion policy: error)", lhs.tf_string(), rhs.tf_string(), result.tf_string())]
    RankPromotion {
        /// the op being built
        op: String,
        /// left operand shape
        lhs: Shape,
        /// right operand shape
        rhs: Shape,
        /// the broadcast result
        result: Shape,
        /// the user's call
        loc: Loc,
    },
    /// Operands of different dtypes.
    #[error("{loc}: {op}: Input 'y' of '{}' Op has type {} that does not match type {} of argument 'x'.", op.rsplit('/').next().unwrap_or(op), rhs.tf_name(), lhs.tf_name())]
    DType {
        /// the op being built
        op: String,
        /// left operand dtype
        lhs: DType,
        /// right operand dtype
        rhs: DType,
        /// the user's call
        loc: Loc,
    },
    /// An operand of a dtype the op does not take (TF's wording, so a port's error
    /// reads as it did under TF1).
    #[error("{loc}: {op}: Value passed to parameter '{param}' has DataType {} not in list of allowed values: {allowed}", dtype.tf_name())]
    DTypeNotAllowed {
        /// the op being built (TF's op type)
        op: String,
        /// the parameter, by TF's name (`logits`, `labels`)
        param: &'static str,
        /// the dtype given
        dtype: DType,
        /// the dtypes the op takes
        allowed: &'static str,
        /// the user's call
        loc: Loc,
    },
    /// Matmul operands whose inner (or batch) dims differ.
    #[error("{loc}: {op}: {}", matmul_words(op, lhs, rhs))]
    MatMul {
        /// the op being built
        op: String,
        /// left operand shape
        lhs: Shape,
        /// right operand shape
        rhs: Shape,
        /// the user's call
        loc: Loc,
    },
    /// An axis outside `-rank..rank`.
    #[error("{loc}: {op}: axis {axis} is out of range for {tensor} of shape {} (rank {})", shape.tf_string(), shape.rank())]
    Axis {
        /// the op being built
        op: String,
        /// the operand's name
        tensor: String,
        /// the operand's shape
        shape: Shape,
        /// the offending axis
        axis: i64,
        /// the user's call
        loc: Loc,
    },
    /// An argument of the wrong type or dtype, in TF's words (TF raises `TypeError`).
    #[error("{loc}: {op}: {message}")]
    Type {
        /// the op being built
        op: String,
        /// TF's message
        message: String,
        /// the user's call
        loc: Loc,
    },
    /// Any other invalid op, with the IR's reason.
    #[error("{loc}: {op}: {message}")]
    Invalid {
        /// the op being built
        op: String,
        /// why
        message: String,
        /// the user's call
        loc: Loc,
    },
    /// `get_variable` of an existing name without reuse.
    #[error("{loc}: variable '{name}' already exists (defined at {}); use a variable_scope with reuse to share it", at(.first))]
    DuplicateVariable {
        /// full variable name
        name: String,
        /// where it was first defined
        first: Option<Loc>,
        /// the user's call
        loc: Loc,
    },
    /// `get_variable` under reuse of a name that does not exist.
    #[error("{loc}: variable '{name}' does not exist, but its variable_scope has reuse=true")]
    NoSuchVariable {
        /// full variable name
        name: String,
        /// the user's call
        loc: Loc,
    },
    /// Reuse with a different shape or dtype.
    #[error("{loc}: variable '{name}' exists as {existing} but was requested as {requested}")]
    VariableMismatch {
        /// full variable name
        name: String,
        /// existing type
        existing: String,
        /// requested type
        requested: String,
        /// the user's call
        loc: Loc,
    },
    /// An initializer value whose shape is not the declared one.
    #[error("{loc}: variable '{name}' is declared with shape {declared} but its initializer has shape {value}")]
    InitializerShape {
        /// full variable name
        name: String,
        /// declared shape
        declared: Shape,
        /// initial value shape
        value: Shape,
        /// the user's call
        loc: Loc,
    },
    /// A constant from ragged or otherwise unusable data.
    #[error("{loc}: constant: {message}")]
    Constant {
        /// why
        message: String,
        /// the user's call
        loc: Loc,
    },
    /// A name with characters the IR cannot carry.
    #[error("{loc}: invalid name {name:?}: use letters, digits, '_', '.', '-' and '/'")]
    InvalidName {
        /// the name
        name: String,
        /// the user's call
        loc: Loc,
    },
    /// No op or tensor has this name.
    #[error("{loc}: no tensor named '{name}' in the graph")]
    UnknownName {
        /// the name asked for
        name: String,
        /// the user's call
        loc: Loc,
    },
    /// IR text that does not parse or verify, or a module a graph cannot hold.
    #[error("{loc}: {source_name}: {message}")]
    IrText {
        /// the file (or `<text>`)
        source_name: String,
        /// the parser's or verifier's message, with its line
        message: String,
        /// the user's call
        loc: Loc,
    },
    /// A file could not be read or written.
    #[error("{loc}: {path}: {message}")]
    Io {
        /// the file
        path: String,
        /// the OS error
        message: String,
        /// the user's call
        loc: Loc,
    },
    /// Tensors of two different graphs in one op.
    #[error("{loc}: {op}: tensor '{tensor}' belongs to another graph")]
    ForeignTensor {
        /// the op being built
        op: String,
        /// the foreign tensor
        tensor: String,
        /// the user's call
        loc: Loc,
    },
}

impl Error {
    /// The Python exception TF1 raises for this error (`TypeError`, `ValueError`,
    /// `KeyError`, `OSError`): kiln's Python binding raises it, and a Rust user can
    /// compare with TF1's behaviour.
    pub fn tf_exception(&self) -> &'static str {
        use Error::*;
        match self {
            DType { .. } | DTypeNotAllowed { .. } | Type { .. } | Constant { .. } => "TypeError",
            UnknownName { .. } => "KeyError",
            Io { .. } => "OSError",
            _ => "ValueError",
        }
    }

    /// Where the error was made.
    pub fn loc(&self) -> &Loc {
        use Error::*;
        match self {
            Broadcast { loc, .. }
            | RankPromotion { loc, .. }
            | DType { loc, .. }
            | DTypeNotAllowed { loc, .. }
            | MatMul { loc, .. }
            | Axis { loc, .. }
            | Invalid { loc, .. }
            | Type { loc, .. }
            | DuplicateVariable { loc, .. }
            | NoSuchVariable { loc, .. }
            | VariableMismatch { loc, .. }
            | InitializerShape { loc, .. }
            | Constant { loc, .. }
            | InvalidName { loc, .. }
            | ForeignTensor { loc, .. }
            | UnknownName { loc, .. }
            | IrText { loc, .. }
            | Io { loc, .. } => loc,
        }
    }
}

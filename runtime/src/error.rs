//! Run-time errors: each names the tensor or op, the shapes or dtypes, and the
//! `file:line:col` of the user's `run` call.

use kiln_ir::{DType, Loc, Shape};

/// Shorthand for runtime results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a run (or a session call) failed. A failed run changes no variable.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Error {
    /// A fetched or fed tensor carries a build error.
    #[error(transparent)]
    Build(Box<kiln_frontend::Error>),
    /// A placeholder the fetches need was not fed.
    #[error("{loc}: run: placeholder '{placeholder}' of shape {shape} must be fed (needed by '{fetch}')")]
    MissingFeed {
        /// placeholder name
        placeholder: String,
        /// its declared shape
        shape: Shape,
        /// a fetch that needs it
        fetch: String,
        /// the user's call
        loc: Loc,
    },
    /// A feed whose shape does not fit the placeholder.
    #[error("{loc}: run: feed for '{placeholder}' has shape {got:?}, but the placeholder is {expected}")]
    FeedShape {
        /// placeholder name
        placeholder: String,
        /// declared shape
        expected: Shape,
        /// fed shape
        got: Vec<usize>,
        /// the user's call
        loc: Loc,
    },
    /// A feed whose symbolic dim a broadcast constrained to a fixed size.
    #[error("{loc}: run: feed for '{placeholder}' has {dim} = {got}, but a broadcast assumed {dim} = {must_be}")]
    FeedConstraint {
        /// placeholder name
        placeholder: String,
        /// the symbolic dim
        dim: String,
        /// the size the constraint requires
        must_be: usize,
        /// the fed size
        got: usize,
        /// the user's call
        loc: Loc,
    },
    /// A feed of the wrong dtype.
    #[error("{loc}: run: feed for '{placeholder}' has dtype {got}, but the placeholder is {expected}")]
    FeedDType {
        /// placeholder name
        placeholder: String,
        /// declared dtype
        expected: DType,
        /// fed dtype (`()` for no data)
        got: String,
        /// the user's call
        loc: Loc,
    },
    /// A feed keyed by a tensor that is not a placeholder.
    #[error("{loc}: run: '{tensor}' is not a placeholder and cannot be fed")]
    NotAPlaceholder {
        /// the tensor
        tensor: String,
        /// the user's call
        loc: Loc,
    },
    /// The same placeholder fed twice.
    #[error("{loc}: run: placeholder '{placeholder}' is fed twice")]
    DuplicateFeed {
        /// placeholder name
        placeholder: String,
        /// the user's call
        loc: Loc,
    },
    /// A fetch or feed from a graph other than the session's.
    #[error("{loc}: run: '{tensor}' belongs to another graph than this session's")]
    ForeignTensor {
        /// the tensor
        tensor: String,
        /// the user's call
        loc: Loc,
    },
    /// Two feeds disagree on the size of a shared symbolic dim.
    #[error(
        "{loc}: run: dim {sym} is {first_size} in the feed for '{first}' but {second_size} in the feed for '{second}'"
    )]
    DimMismatch {
        /// the symbol
        sym: String,
        /// first placeholder
        first: String,
        /// its size
        first_size: usize,
        /// second placeholder
        second: String,
        /// its size
        second_size: usize,
        /// the user's call
        loc: Loc,
    },
    /// A variable read before it was initialized.
    #[error("{loc}: run: variable '{var}' is read before it is initialized (needed by '{fetch}'); run the initializer first")]
    Uninitialized {
        /// variable name
        var: String,
        /// a fetch that needs it
        fetch: String,
        /// the user's call
        loc: Loc,
    },
    /// The graph fails the IR verifier (a compiler bug or hand-edited IR).
    #[error("{0}")]
    Verify(#[from] kiln_ir::VerifyError),
    /// An op failed while running (integer division by zero).
    #[error("{loc}: run: {source}")]
    Eval {
        /// what failed
        source: crate::interp::EvalError,
        /// the user's call
        loc: Loc,
    },
    /// The JIT failed to compile or run a graph it accepted (a kiln bug).
    #[error("{loc}: jit: {message}")]
    Jit {
        /// what failed
        message: String,
        /// the user's call
        loc: Loc,
    },
    /// Check mode found a kernel whose output differs from the interpreter's.
    #[error("{loc}: KILN_CHECK: kernel {kernel} computes %{op} differently from the interpreter: {diff}")]
    CheckFailed {
        /// the first diverging kernel
        kernel: String,
        /// the IR op whose value diverges
        op: String,
        /// where and by how much
        diff: Box<CheckDiff>,
        /// the user's call
        loc: Loc,
    },
    /// A callable's fetch read as another dtype than its op's.
    #[error("{loc}: fetch '{fetch}' is {got}, not {expected}")]
    FetchDType {
        /// the fetched op
        fetch: String,
        /// the dtype asked for
        expected: DType,
        /// the op's dtype
        got: DType,
        /// the user's call
        loc: Loc,
    },
    /// A callable's fetch read by an index past its fetch list.
    #[error("{loc}: fetch index {index} is out of range for {count} fetch(es)")]
    FetchIndex {
        /// the index asked for
        index: usize,
        /// how many fetches there are
        count: usize,
        /// the user's call
        loc: Loc,
    },
    /// A callable's fetch of an op without a value (a train op, a group) read as data.
    #[error("{loc}: fetch '{fetch}' has no value (an op run for its effect, such as a train op)")]
    NoValue {
        /// the fetched op
        fetch: String,
        /// the user's call
        loc: Loc,
    },
    /// A fetched value read as the wrong dtype (`into_f32` on an f64 value).
    #[error("fetched value: {0}")]
    Value(#[from] crate::ValueTypeError),
    /// A checkpoint file could not be read or written.
    #[error("{loc}: checkpoint {path}: cannot {action}: {message}")]
    CheckpointIo {
        /// the file
        path: String,
        /// `read` or `write`
        action: &'static str,
        /// the OS error
        message: String,
        /// the user's call
        loc: Loc,
    },
    /// A checkpoint that is truncated, not safetensors, or fails its checksum.
    #[error("{loc}: checkpoint {path} is corrupt: {message}")]
    CheckpointCorrupt {
        /// the file
        path: String,
        /// what is wrong (naming the variable where one is at fault)
        message: String,
        /// the user's call
        loc: Loc,
    },
    /// A variable the saver restores is not in the checkpoint.
    #[error("{loc}: checkpoint {path} has no tensor for variable '{var}'")]
    CheckpointMissing {
        /// the file
        path: String,
        /// the variable
        var: String,
        /// the user's call
        loc: Loc,
    },
    /// A checkpoint tensor whose dtype or shape differs from its variable.
    #[error("{loc}: checkpoint {path}: variable '{var}' is {expected} in the graph but {found} in the file")]
    CheckpointMismatch {
        /// the file
        path: String,
        /// the variable
        var: String,
        /// the variable's type
        expected: String,
        /// the stored dtype and shape
        found: String,
        /// the user's call
        loc: Loc,
    },
    /// A variable value of the wrong type given to [`crate::Session::set_variable_by_name`].
    #[error("{loc}: variable '{var}' is {expected}, the value is {got}")]
    VariableValue {
        /// variable name
        var: String,
        /// its type
        expected: String,
        /// the value's dtype and shape
        got: String,
        /// the user's call
        loc: Loc,
    },
}

impl From<kiln_frontend::Error> for Error {
    fn from(e: kiln_frontend::Error) -> Self {
        Error::Build(Box::new(e))
    }
}

impl Error {
    /// The exception TF1 raises for this error: `errors.InvalidArgumentError` and its
    /// siblings by their class name, or a Python builtin (`ValueError`, `TypeError`).
    /// kiln's Python binding raises it.
    pub fn tf_exception(&self) -> &'static str {
        use Error::*;
        match self {
            Build(b) => b.tf_exception(),
            MissingFeed { .. } | FeedConstraint { .. } | DimMismatch { .. } | Eval { .. } => "InvalidArgumentError",
            FeedShape { .. } | NotAPlaceholder { .. } | DuplicateFeed { .. } | ForeignTensor { .. } => "ValueError",
            FeedDType { .. } | FetchDType { .. } => "TypeError",
            Uninitialized { .. } => "FailedPreconditionError",
            CheckpointMissing { .. } => "NotFoundError",
            CheckpointIo { message, .. } if message.contains("No such file") || message.contains("not found") => {
                "NotFoundError"
            }
            CheckpointCorrupt { .. } => "DataLossError",
            CheckpointMismatch { .. } => "InvalidArgumentError",
            Jit { .. } | CheckFailed { .. } | Verify(_) => "InternalError",
            _ => "ValueError",
        }
    }

    /// The build error inside [`Error::Build`], if that is what this is.
    pub fn build_error(&self) -> Option<&kiln_frontend::Error> {
        match self {
            Error::Build(e) => Some(e),
            _ => None,
        }
    }
}

/// Where a kernel's value differs from the interpreter's (check mode).
#[derive(Clone, Debug, PartialEq)]
pub struct CheckDiff {
    /// Largest absolute difference (NaN for integers and bools: any difference).
    pub max_err: f64,
    /// Where it is largest (the first difference for integers and bools).
    pub index: usize,
    /// The JIT's value there.
    pub got: String,
    /// The interpreter's value there.
    pub want: String,
}

impl std::fmt::Display for CheckDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.max_err.is_nan() {
            write!(f, "element {} is {}, not {}", self.index, self.got, self.want)
        } else {
            write!(f, "max error {:e} at element {} ({} vs {})", self.max_err, self.index, self.got, self.want)
        }
    }
}

//! Why fusion did not do something: one [`Refusal`] per decision against fusing, storing
//! a value instead of recomputing it, copying a view, keeping a kernel out of its GEMM's
//! registers or out of a merged function (XLA's `FusionDecision`, typed).

use kiln_ir::{Module, ValueId};

/// One decision fusion made against the cheaper choice, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The value the decision is about (a kernel's first op for a merge).
    pub value: ValueId,
    /// What was decided and why.
    pub why: Why,
}

/// What fusion decided instead of fusing, and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Why {
    /// Stored: fusion is off (`--no-fusion`).
    FusionOff,
    /// Stored: a consumer outside loop kernels reads it.
    ReadOutside {
        /// The consumer.
        consumer: ValueId,
        /// What kind of consumer.
        by: Outside,
    },
    /// Stored: a consumer's kernel iterates another space.
    OtherSpace,
    /// Stored: its consumer's kernel holds the most ops a kernel takes.
    KernelFull,
    /// Stored: some consumers' kernels depend on each other, so not all can take it.
    ConsumersDepend,
    /// Stored: fusing it would make a cycle between kernels.
    Cycle,
    /// A view copied out: a reshape reads row-major data.
    CopiedForReshape,
    /// A view copied out: a GEMM wants its right operand's rows contiguous.
    CopiedForMatMul,
    /// A view copied out: the interpreter reads whole buffers.
    CopiedForInterpreter,
    /// A view copied out: it is fetched or assigned, and has no buffer of its own.
    CopiedToStore,
    /// Run on the interpreter (the JIT does not compile it).
    OnInterpreter(String),
    /// A kernel not applied in its GEMM's registers (`value` is the GEMM).
    NotEpilogue(NotEpilogue),
    /// A loop kernel not merged into the earlier one: it reads this value, which that
    /// kernel (or a step since) computes.
    NotMerged {
        /// The value read.
        reads: ValueId,
    },
    /// A loop kernel not merged into the earlier one: that one holds the most nests a
    /// merged kernel takes.
    MergedKernelFull,
}

/// The kind of consumer that needs a value stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outside {
    /// A matmul operand.
    MatMul,
    /// Read through a view.
    View,
    /// Assigned to a variable.
    Assign,
    /// Anything else outside loop kernels (the interpreter, a group).
    Other,
}

/// Why a kernel reading a GEMM's result is not that GEMM's epilogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotEpilogue {
    /// The product is read outside this kernel or fetched.
    ReadElsewhere,
    /// The kernel computes something other than f32.
    NotF32,
    /// An input is read with a stride a tile cannot follow.
    StridedInput(ValueId),
    /// An output is neither a tile nor a sum over the rows.
    Output(ValueId),
    /// An input depends on the product itself.
    DependsOnProduct(ValueId),
    /// The GEMM runs transposed (one output column: it computes the transpose) or
    /// batched, so its tiles are not the kernel's.
    Shape,
}

impl Refusal {
    /// One line: `%value: what, why`.
    pub fn print(&self, m: &Module) -> String {
        let n = |v: ValueId| format!("%{}", m.op(v).name);
        let what = match &self.why {
            Why::FusionOff => "stored, fusion is off".to_string(),
            Why::ReadOutside { consumer, by } => {
                let by = match by {
                    Outside::MatMul => "a matmul operand",
                    Outside::View => "read through a view",
                    Outside::Assign => "assigned to a variable",
                    Outside::Other => "used outside loop kernels",
                };
                format!("stored, {by} ({})", n(*consumer))
            }
            Why::OtherSpace => format!("stored, a consumer iterates another space than {}", shape(m, self.value)),
            Why::KernelFull => "stored, its consumer's kernel is full".to_string(),
            Why::ConsumersDepend => "stored, some consumers' kernels depend on each other".to_string(),
            Why::Cycle => "stored, fusing it would make a cycle".to_string(),
            Why::CopiedForReshape => "copied, a reshape needs it row-major".to_string(),
            Why::CopiedForMatMul => "copied, a matmul wants its rows contiguous".to_string(),
            Why::CopiedForInterpreter => "copied, the interpreter reads whole buffers".to_string(),
            Why::CopiedToStore => "copied, a fetched or assigned view needs a buffer".to_string(),
            Why::OnInterpreter(reason) => format!("on the interpreter: {reason}"),
            Why::NotEpilogue(e) => {
                let why = match e {
                    NotEpilogue::ReadElsewhere => "the product is read elsewhere".to_string(),
                    NotEpilogue::NotF32 => "the kernel computes more than f32".to_string(),
                    NotEpilogue::StridedInput(v) => format!("{} is strided across a tile", n(*v)),
                    NotEpilogue::Output(v) => format!("{} is neither a tile nor a row sum", n(*v)),
                    NotEpilogue::DependsOnProduct(v) => format!("{} depends on the product", n(*v)),
                    NotEpilogue::Shape => "the GEMM runs transposed or batched".to_string(),
                };
                format!("no epilogue in registers: {why}")
            }
            Why::NotMerged { reads } => format!("kernel not merged: it reads {}, computed since", n(*reads)),
            Why::MergedKernelFull => "kernel not merged: the earlier kernel is full".to_string(),
        };
        format!("{}: {what}", n(self.value))
    }
}

fn shape(m: &Module, v: ValueId) -> String {
    m.ty(v).map_or_else(|| "()".into(), |t| t.shape.to_string())
}

//! The compiled form of a graph: a list of steps (fused loop kernels and matmuls) over
//! buffers, produced by [`crate::fusion::run`] and consumed by codegen and the runtime.
//!
//! Steps and buffers are named by typed ids ([`StepId`], [`BufId`]), what a kernel
//! computes by the IR values it came from ([`Origin`]), and every decision against
//! fusing by a [`Refusal`]. [`Schedule::print`] writes the whole schedule as text and
//! [`verify()`] checks it; codegen compiles only a schedule that verifies.

use kiln_ir::{BinaryOp, CmpOp, Dim, Module, ReduceOp, Shape, UnaryOp, ValueId, VarId};
use std::fmt::Write;

pub mod dtypes;
mod parse;
mod print;
mod refusal;
mod verify;

pub use parse::{parse, ScheduleParseError};
pub use refusal::{NotEpilogue, Outside, Refusal, Why};
pub use verify::{verify, ScheduleError};

/// A step, by index into [`Schedule::steps`]; prints as `step3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StepId(pub u32);

/// A buffer, by index into [`Schedule::buffers`]; prints as `b3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BufId(pub u32);

impl StepId {
    /// The index into [`Schedule::steps`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl BufId {
    /// The index into [`Schedule::buffers`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl std::fmt::Display for StepId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "step{}", self.0)
    }
}

impl std::fmt::Display for BufId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b{}", self.0)
    }
}

/// What part of a loop kernel came from: an IR op it computes, or a strided view it
/// copies into a row-major buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    /// The kernel computes this op.
    Op(ValueId),
    /// The kernel copies this view out.
    Copy(ValueId),
}

impl Origin {
    /// The IR value.
    pub fn value(self) -> ValueId {
        match self {
            Origin::Op(v) | Origin::Copy(v) => v,
        }
    }

    /// `%name`, or `%name (copy)`.
    pub fn print(self, m: &Module) -> String {
        match self {
            Origin::Op(v) => format!("%{}", m.op(v).name),
            Origin::Copy(v) => format!("%{} (copy)", m.op(v).name),
        }
    }
}

/// A stride in elements: zero (broadcast) or the product of some dims (empty = 1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Stride {
    /// The access does not move along this dim.
    Zero,
    /// Product of these dims.
    Prod(Vec<Dim>),
}

impl Stride {
    /// The unit stride.
    pub fn one() -> Stride {
        Stride::Prod(Vec::new())
    }

    /// Compile-time class: `Some(0)`, `Some(1)`, or `None` for a run-time stride.
    pub fn known(&self) -> Option<u64> {
        match self {
            Stride::Zero => Some(0),
            Stride::Prod(d) if d.iter().all(|x| *x == Dim::Fixed(1)) => Some(1),
            Stride::Prod(d) => d.iter().map(Dim::fixed).product(),
        }
    }

    /// `self * d`, structurally.
    pub fn times(&self, d: &Dim) -> Stride {
        match self {
            Stride::Zero => Stride::Zero,
            Stride::Prod(v) => {
                let mut v = v.clone();
                if *d != Dim::Fixed(1) {
                    v.push(d.clone());
                }
                v.sort();
                Stride::Prod(v)
            }
        }
    }
}

/// Row-major strides of a shape.
pub fn contiguous(shape: &Shape) -> Vec<Stride> {
    let mut out = vec![Stride::one(); shape.rank()];
    for d in (0..shape.rank().saturating_sub(1)).rev() {
        out[d] = out[d + 1].times(&shape.0[d + 1]);
    }
    out
}

/// Where a kernel reads (or writes) one buffer: base offset and a stride per space dim.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Access {
    /// The materialized value whose buffer is read.
    pub buf: ValueId,
    /// Offset in elements: sum of `k * prod(dims)`.
    pub offset: Vec<(u64, Vec<Dim>)>,
    /// Stride per dim of the iteration space.
    pub strides: Vec<Stride>,
}

/// One scalar operation of a kernel body, evaluated at every point of the space. Its
/// element type is [`LoopNest::types`] at the same index (`bool` for masks).
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// Input `i` at this point.
    Load(usize),
    /// An f32 constant.
    Const(f32),
    /// An integer or bool constant (of the node's type).
    Int(i64),
    /// The index along space dim `d` (TF `range` along an axis; one-hot's positions).
    Iota(usize),
    /// Node `x` converted to this node's type (float to int truncates; to bool is
    /// `!= 0`; bool to a number is 0 or 1).
    Convert(usize),
    /// Input `input` at this point, in the row given by node `index`: the input's
    /// strides skip the index dims, and `stride` (elements) moves one row. An index
    /// outside `0..rows` fails the run (the nest's error slot).
    Gather {
        /// the params input
        input: usize,
        /// the node holding the row index
        index: usize,
        /// elements from one row to the next
        stride: Stride,
        /// rows of the params buffer
        rows: Dim,
    },
    /// Node `x`, an integer index, which fails the run unless it lies in `0..bound`.
    CheckIndex(usize, u64),
    /// Run-time scalar `i` (the product of some bound dims, as f32).
    Scalar(usize),
    /// Elementwise unary op.
    Unary(UnaryOp, usize),
    /// Elementwise binary op.
    Binary(BinaryOp, usize, usize),
    /// Comparison giving a mask.
    Cmp(CmpOp, usize, usize),
    /// `mask ? a : b`.
    Select(usize, usize, usize),
}

/// How an output combines the body's value into its buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutMode {
    /// Plain store.
    Store,
    /// Reduction into the buffer (its strides are zero on reduced dims).
    Reduce(ReduceOp),
}

/// One stored result of a loop kernel.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelOutput {
    /// The value this buffer holds.
    pub value: ValueId,
    /// The body node stored.
    pub node: usize,
    /// Store or reduce.
    pub mode: OutMode,
    /// Stride per space dim into the output buffer.
    pub strides: Vec<Stride>,
    /// Elements of the output buffer (reductions initialize them first).
    pub len: Vec<Dim>,
    /// For a mean, the dims whose product divides the sum.
    pub mean_of: Option<Vec<Dim>>,
    /// For a scatter-add (the gradient of a gather): the row each point adds into.
    pub scatter: Option<Scatter>,
}

/// Where a scatter-add output adds each point: the strides skip the index dims, and
/// the row comes from a body node. An index outside `0..rows` fails the run.
#[derive(Clone, Debug, PartialEq)]
pub struct Scatter {
    /// The node holding the row index.
    pub index: usize,
    /// Elements from one row of the output to the next.
    pub stride: Stride,
    /// Rows of the output.
    pub rows: Dim,
}

/// A loop nest over one iteration space computing a DAG of scalar ops.
#[derive(Clone, Debug, PartialEq)]
pub struct LoopNest {
    /// The iteration space (collapsed where every access allows).
    pub space: Vec<Dim>,
    /// Inputs and their access patterns.
    pub inputs: Vec<Access>,
    /// Run-time scalars: products of bound dims.
    pub scalars: Vec<Vec<Dim>>,
    /// The body, in dependency order.
    pub nodes: Vec<Node>,
    /// The element type of each node.
    pub types: Vec<kiln_ir::DType>,
    /// Stored results.
    pub outputs: Vec<KernelOutput>,
}

impl LoopNest {
    /// The element type of input `i` (the type of a node that reads it).
    pub fn input_type(&self, i: usize) -> kiln_ir::DType {
        self.nodes
            .iter()
            .zip(&self.types)
            .find(|(n, _)| matches!(n, Node::Load(j) | Node::Gather { input: j, .. } if *j == i))
            .map_or(kiln_ir::DType::F32, |(_, t)| *t)
    }

    /// Whether a point can fail the run (an index out of range).
    pub fn fallible(&self) -> bool {
        self.nodes.iter().any(|n| matches!(n, Node::Gather { .. } | Node::CheckIndex(..)))
            || self.outputs.iter().any(|o| o.scatter.is_some())
    }

    /// Whether the body is f32 throughout (masks of f32 comparisons aside), so the
    /// innermost loop can run F32X4; other bodies run one point at a time.
    pub fn is_f32(&self) -> bool {
        use kiln_ir::DType;
        self.outputs.iter().all(|o| o.scatter.is_none())
            && self.nodes.iter().zip(&self.types).all(|(n, t)| match n {
                Node::Cmp(_, x, _) => *t == DType::Bool && self.types[*x] == DType::F32,
                Node::Int(_) | Node::Iota(_) | Node::Convert(_) | Node::Gather { .. } | Node::CheckIndex(..) => false,
                _ => *t == DType::F32,
            })
    }
}

/// A fused kernel: one or more independent loop nests compiled into one function.
#[derive(Clone, Debug, PartialEq)]
pub struct LoopKernel {
    /// Kernel name (`fusion.3`).
    pub name: String,
    /// The nests, run in order.
    pub nests: Vec<LoopNest>,
    /// What it computes, in op order per nest.
    pub provenance: Vec<Origin>,
    /// Set when this kernel is the epilogue of the matmul producing this value: the
    /// runtime skips it whenever that matmul runs its fused micro-kernel.
    pub epilogue_of: Option<ValueId>,
}

/// Elementwise work applied to a matmul's result tile while it is still in registers
/// (bias add, activation, activation-gradient mask).
#[derive(Clone, Debug, PartialEq)]
pub struct Epilogue {
    /// The consumer kernel's nest over `[m, n]`, not collapsed.
    pub nest: LoopNest,
    /// Which input of the nest is the matmul's result.
    pub acc_input: usize,
    /// Whether the product must be stored too (something else reads it); if not, a
    /// micro-kernel that applies the epilogue in registers skips the store.
    pub store_out: bool,
}

/// `out = a x b` for 2-D operands seen through strided accesses (batched: leading dims).
#[derive(Clone, Debug, PartialEq)]
pub struct MatMulStep {
    /// Output value (a contiguous buffer).
    pub out: ValueId,
    /// Left operand: strides over `[batch.., m, k]`.
    pub a: Access,
    /// Right operand: strides over `[batch.., k, n]`.
    pub b: Access,
    /// Batch dims.
    pub batch: Vec<Dim>,
    /// Rows of the output.
    pub m: Dim,
    /// Inner dim.
    pub k: Dim,
    /// Columns of the output.
    pub n: Dim,
    /// Fused elementwise consumer, if any (small GEMMs apply it in registers).
    pub epilogue: Option<Box<Epilogue>>,
}

/// An op the JIT does not compile (another dtype, gather, random, ...), run by the
/// reference interpreter on materialized operands.
#[derive(Clone, Debug, PartialEq)]
pub struct HostStep {
    /// The op's value.
    pub value: ValueId,
    /// Why it is not compiled.
    pub reason: String,
}

/// One step of a schedule.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// A fused loop kernel (JIT-compiled).
    Loop(LoopKernel),
    /// One op on the interpreter.
    Host(HostStep),
    /// A matrix product (a tuned GEMM).
    MatMul(MatMulStep),
}

impl Step {
    /// The values this step reads: a loop kernel's inputs, a GEMM's operands and its
    /// fused epilogue's inputs, an interpreter op's operands (some of which may have
    /// no buffer: a group's members).
    pub fn reads<'a>(&'a self, m: &'a Module) -> Box<dyn Iterator<Item = ValueId> + 'a> {
        match self {
            Step::Loop(k) => Box::new(k.nests.iter().flat_map(|n| n.inputs.iter().map(|a| a.buf))),
            Step::MatMul(mm) => Box::new(
                [mm.a.buf, mm.b.buf]
                    .into_iter()
                    // the epilogue's product input is the accumulator, not a read
                    .chain(
                        mm.epilogue.iter().flat_map(|e| e.nest.inputs.iter().map(|a| a.buf)).filter(|&v| v != mm.out),
                    ),
            ),
            Step::Host(h) => Box::new(m.op(h.value).operands.iter().copied()),
        }
    }

    /// The values this step writes (a GEMM's fused epilogue writes at the GEMM's step).
    pub fn writes(&self) -> Box<dyn Iterator<Item = ValueId> + '_> {
        match self {
            Step::Loop(k) => Box::new(k.nests.iter().flat_map(|n| n.outputs.iter().map(|o| o.value))),
            Step::MatMul(mm) => Box::new(
                std::iter::once(mm.out).chain(mm.epilogue.iter().flat_map(|e| e.nest.outputs.iter().map(|o| o.value))),
            ),
            Step::Host(h) => Box::new(std::iter::once(h.value)),
        }
    }
}

/// Where a materialized value's buffer lives.
#[derive(Clone, Debug, PartialEq)]
pub enum BufKind {
    /// A fed placeholder.
    Feed,
    /// A variable's storage (read-only during a run).
    Var(VarId),
    /// Constant data.
    Const(Vec<f32>),
    /// An intermediate in the arena.
    Temp,
}

/// A materialized value.
#[derive(Clone, Debug, PartialEq)]
pub struct Buffer {
    /// The value.
    pub value: ValueId,
    /// Its shape.
    pub shape: Shape,
    /// Its element type: f32 lives in the arena, anything else beside it as a value.
    pub dtype: kiln_ir::DType,
    /// Where it lives.
    pub kind: BufKind,
}

/// A whole compiled graph: steps over buffers, then variable writes.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// The (optimized) module the schedule computes.
    pub module: Module,
    /// Materialized values.
    pub buffers: Vec<Buffer>,
    /// Steps, in order.
    pub steps: Vec<Step>,
    /// Variable writes at the end of the run: (variable, source value).
    pub assigns: Vec<(VarId, ValueId)>,
    /// Fetched values, in fetch order.
    pub roots: Vec<ValueId>,
    /// Every decision against fusing, with its reason.
    pub refusals: Vec<Refusal>,
}

/// GEMMs with at least this many multiply-adds (m·k·n) run on the `gemm` crate's AVX-512
/// kernels, which take any strides; smaller ones run kiln's CLIF micro-kernel, which has
/// no packing overhead and allocates nothing. Chosen by measurement (`benches/kiln.rs`,
/// `gemm/crossover`).
pub const GEMM_LIBRARY_MIN_MACS: usize = 64 * 64 * 64;

/// Loop kernels and GEMMs below this much work (elements, multiply-adds) stay on one
/// thread: spawning costs tens of microseconds. Codegen relies on it too: a loop nest
/// whose extents are all fixed and smaller never has its outermost extent shortened
/// by a split, so that extent can be a compile-time constant.
pub const PARALLEL_MIN_WORK: usize = 1 << 18;

/// Whether a loop kernel may run split across threads along its outermost dim: one
/// nest, storing only (no reductions across the split), that cannot fail (its error
/// slots are per call) and has a dim to split. With [`worth_splitting`] this is the one
/// rule codegen (which bakes the outermost extent into a kernel that never splits) and
/// the runtime (which splits) both follow, so they cannot drift apart.
pub fn may_split(k: &LoopKernel) -> bool {
    match &k.nests[..] {
        [n] => !n.space.is_empty() && !n.fallible() && n.outputs.iter().all(|o| o.mode == OutMode::Store),
        _ => false,
    }
}

/// Whether `points` of work pay for spawning threads ([`PARALLEL_MIN_WORK`]).
pub fn worth_splitting(points: usize) -> bool {
    points >= PARALLEL_MIN_WORK
}

/// The name of `step`, the `i`th of its schedule (codegen names kernels the same way).
pub fn step_name(step: &Step, i: usize) -> String {
    match step {
        Step::Loop(k) => k.name.clone(),
        Step::MatMul(_) => format!("matmul.{i}"),
        Step::Host(_) => format!("host.{i}"),
    }
}

impl Schedule {
    /// The buffer of a value, if it is materialized.
    pub fn buffer(&self, v: ValueId) -> Option<&Buffer> {
        self.buffer_id(v).map(|b| &self.buffers[b.index()])
    }

    /// The id of a value's buffer, if it is materialized. Linear: callers that look up
    /// many values build [`Schedule::buffer_index`] once.
    pub fn buffer_id(&self, v: ValueId) -> Option<BufId> {
        self.buffers.iter().position(|b| b.value == v).map(|i| BufId(i as u32))
    }

    /// Every materialized value's buffer id.
    pub fn buffer_index(&self) -> std::collections::HashMap<ValueId, BufId> {
        self.buffers.iter().enumerate().map(|(i, b)| (b.value, BufId(i as u32))).collect()
    }

    /// The ids of the steps, in order.
    pub fn step_ids(&self) -> impl Iterator<Item = StepId> {
        (0..self.steps.len() as u32).map(StepId)
    }

    /// A step by id.
    pub fn step(&self, id: StepId) -> &Step {
        &self.steps[id.index()]
    }

    /// The name step `i` goes by in dumps and reports: `fusion.N`, `matmul.N`, `host.N`.
    pub fn step_name(&self, i: usize) -> String {
        step_name(&self.steps[i], i)
    }

    /// What step `i` came from (a fused GEMM includes its epilogue's ops).
    pub fn step_origins(&self, i: usize) -> Vec<Origin> {
        match &self.steps[i] {
            Step::Loop(k) => k.provenance.clone(),
            Step::MatMul(mm) => {
                let mut p = vec![Origin::Op(mm.out)];
                if mm.epilogue.is_some() {
                    let epi = self.steps.iter().find_map(|s| match s {
                        Step::Loop(k) if k.epilogue_of == Some(mm.out) => Some(k.provenance.clone()),
                        _ => None,
                    });
                    p.extend(epi.unwrap_or_default());
                }
                p
            }
            Step::Host(h) => vec![Origin::Op(h.value)],
        }
    }

    /// The IR values step `i` computes or copies (a fused GEMM includes its epilogue's).
    pub fn step_ops(&self, i: usize) -> Vec<ValueId> {
        self.step_origins(i).into_iter().map(Origin::value).collect()
    }

    /// What step `i` came from, as `%name` strings (kernel dumps).
    pub fn step_provenance(&self, i: usize) -> Vec<String> {
        self.step_origins(i).into_iter().map(|o| o.print(&self.module)).collect()
    }

    /// The optimized module in Graphviz DOT with each kernel drawn as a cluster around
    /// the ops it computes. An epilogue fused into its GEMM is drawn inside the GEMM.
    pub fn to_dot(&self) -> String {
        let clusters: Vec<kiln_ir::dot::Cluster> = (0..self.steps.len())
            .filter(|&i| !matches!(&self.steps[i], Step::Loop(k) if self.fused_epilogue(k)))
            .map(|i| kiln_ir::dot::Cluster { label: self.step_name(i), ops: self.step_ops(i) })
            .collect();
        kiln_ir::dot::to_dot(&self.module, "fused", &clusters)
    }

    /// Whether a loop kernel is the epilogue of a GEMM that runs it in registers.
    fn fused_epilogue(&self, k: &LoopKernel) -> bool {
        k.epilogue_of.is_some_and(|v| {
            self.steps.iter().any(|s| matches!(s, Step::MatMul(mm) if mm.out == v && mm.epilogue.is_some()))
        })
    }

    /// A readable summary: kernels with their ops, and refusals.
    pub fn describe(&self) -> String {
        let name = |v: ValueId| format!("%{}", self.module.op(v).name);
        let mut s = String::new();
        for step in &self.steps {
            match step {
                Step::Loop(k) => {
                    let ops: Vec<String> = k.provenance.iter().map(|o| o.print(&self.module)).collect();
                    let _ = write!(s, "{} ({} nest(s)): {}", k.name, k.nests.len(), ops.join(", "));
                    if let Some(v) = k.epilogue_of {
                        let _ = write!(s, " [epilogue of {}, skipped when fused]", name(v));
                    }
                    s.push('\n');
                    for n in &k.nests {
                        let outs: Vec<String> =
                            n.outputs.iter().map(|o| format!("{} {:?}", name(o.value), o.mode)).collect();
                        let ins: Vec<String> = n.inputs.iter().map(|a| name(a.buf)).collect();
                        let dims: Vec<String> = n.space.iter().map(|d| d.to_string()).collect();
                        let _ = writeln!(s, "  [{}] in: {} -> {}", dims.join(","), ins.join(" "), outs.join(" "));
                    }
                }
                Step::Host(h) => {
                    let _ = writeln!(s, "interpreter {} ({})", name(h.value), h.reason);
                }
                Step::MatMul(mm) => {
                    let _ = write!(s, "matmul {} = {} x {}", name(mm.out), name(mm.a.buf), name(mm.b.buf));
                    if let Some(e) = &mm.epilogue {
                        let outs: Vec<String> = e.nest.outputs.iter().map(|o| name(o.value)).collect();
                        let _ = write!(s, " + epilogue -> {}", outs.join(" "));
                        if !e.store_out {
                            let _ = write!(s, " (product not stored)");
                        }
                    }
                    s.push('\n');
                }
            }
        }
        for r in &self.refusals {
            let _ = writeln!(s, "not fused: {}", r.print(&self.module));
        }
        s
    }

    /// Number of loop kernels (function calls per run).
    pub fn kernel_count(&self) -> usize {
        self.steps.iter().filter(|s| matches!(s, Step::Loop(_))).count()
    }
}

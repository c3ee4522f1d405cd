//! Fusion: turns a module and its fetches into a [`Schedule`] of fused loop kernels and
//! matmuls.
//!
//! - View ops (broadcast, transpose, slice, contiguous reshape, stop_gradient) are never
//!   computed: they compose into the strided access of whoever reads them.
//! - Elementwise ops fuse into their consumers' loop kernel when it iterates the same
//!   space; a value with consumers in several kernels is stored once and loaded by the
//!   others (multi-output fusion).
//! - A reduction runs in the kernel of its input's space, so the loss and its elementwise
//!   producers are one kernel.
//! - Independent loop kernels that run back to back (the optimizer's per-variable
//!   updates) are merged into one function with several loop nests.
//!
//! Every decision not to fuse is recorded with its reason in [`Schedule::refusals`].
//!
//! The pass in files, one job each:
//! - `decide.rs`: what kernels compute (the ops sent to the interpreter, by the dtype
//!   table) and which kernel each op joins, every refusal with its typed reason;
//! - `views.rs`: views composed into strided accesses;
//! - `assemble.rs`: the schedule's buffers and steps from the grouping;
//! - `lower.rs`: loop nests, their scalar bodies and GEMM epilogues;
//! - `order.rs`: ordering steps and merging independent kernels.

use crate::schedule::*;
use crate::PassError;
use kiln_ir::{DType, Dim, DimClasses, Literal, Module, OpKind, ReduceOp, Shape, ValueId};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

fn fail(op: &str, message: String) -> PassError {
    PassError { pass: "fusion", op: op.to_string(), message }
}

/// Switches for the fusion pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FusionOptions {
    /// Fuse at all. Off (`kiln compile --no-fusion`), every elementwise op and every
    /// reduction is a kernel of its own and GEMMs get no epilogues: a baseline for
    /// measuring fusion and for bisecting a fusion bug.
    pub fuse: bool,
}

impl Default for FusionOptions {
    fn default() -> Self {
        FusionOptions { fuse: true }
    }
}

/// Builds the schedule computing `roots` (values or result-less ops such as a train op).
/// Returns an error naming the op if the graph uses something the JIT cannot compile
/// (callers then run it on the interpreter).
pub fn run(m: &Module, roots: &[ValueId], opts: &FusionOptions) -> Result<Schedule, PassError> {
    let mut f = Fusion::new(m, roots)?;
    f.fuse = opts.fuse;
    f.build()
}

struct Fusion<'m> {
    m: &'m Module,
    classes: DimClasses,
    roots: Vec<ValueId>,
    live: Vec<bool>,
    consumers: Vec<Vec<ValueId>>,
    kernel_of: HashMap<ValueId, usize>,
    /// Per kernel (valid at its root): its members, and the lowest and highest member
    /// index, so dependency questions between kernels cost their answer, not the graph.
    member_list: Vec<Vec<ValueId>>,
    span: Vec<(u32, u32)>,
    parent: Vec<usize>,
    /// Ops per kernel (at its root): a kernel stops taking ops at [`MAX_KERNEL_OPS`].
    sizes: Vec<usize>,
    spaces: Vec<Shape>,
    force: HashSet<ValueId>,
    copied: HashSet<ValueId>,
    epilogues: HashMap<ValueId, LoopNest>,
    /// ops run on the interpreter, with the reason
    host: HashMap<ValueId, String>,
    refusals: Vec<Refusal>,
    /// `FusionOptions::fuse`
    fuse: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Class {
    Base,
    View,
    Elementwise,
    Reduce,
    MatMul,
    Scalar,
    Sink,
    Host,
}

mod assemble;
mod decide;
mod lower;
mod order;
mod views;

pub(crate) use lower::const_words;

impl<'m> Fusion<'m> {
    fn new(m: &'m Module, roots: &[ValueId]) -> Result<Fusion<'m>, PassError> {
        let n = m.ops.len();
        let mut live = vec![false; n];
        let mut stack = roots.to_vec();
        while let Some(v) = stack.pop() {
            if !std::mem::replace(&mut live[v.index()], true) {
                stack.extend(m.op(v).operands.iter().copied());
            }
        }
        let mut consumers = vec![Vec::new(); n];
        for v in m.values().filter(|v| live[v.index()]) {
            for &u in &m.op(v).operands {
                consumers[u.index()].push(v);
            }
        }
        let f = Fusion {
            m,
            classes: m.dim_classes(),
            roots: roots.to_vec(),
            live,
            consumers,
            kernel_of: HashMap::default(),
            member_list: Vec::new(),
            span: Vec::new(),
            parent: Vec::new(),
            sizes: Vec::new(),
            spaces: Vec::new(),
            force: HashSet::default(),
            copied: HashSet::default(),
            epilogues: HashMap::default(),
            host: HashMap::default(),
            refusals: Vec::new(),
            fuse: true,
        };
        let mut f = f;
        // ops the kernels cannot compute run on the interpreter, and so does anything
        // that reads a non-f32 value they produce (or a mask a host select needs)
        loop {
            let mut changed = false;
            for v in m.values().filter(|v| f.live[v.index()]) {
                if f.host.contains_key(&v) {
                    continue;
                }
                let why = match f.check_supported(v) {
                    Err(e) => Some(e.message),
                    Ok(()) => {
                        // the interpreter keeps f64 values to itself (kernels and the
                        // arena hold 32- and 64-bit integers, bools and f32)
                        let f64_host = m.op(v).operands.iter().any(|u| {
                            let dt = m.ty(*u).map(|t| t.dtype);
                            let bool_var = matches!(m.op(*u).kind, OpKind::Read(_)) && dt == Some(DType::Bool);
                            f.host.contains_key(u) && (dt == Some(DType::F64) || bool_var)
                        });
                        f64_host.then(|| "reads a value only the interpreter has".to_string())
                    }
                };
                if let Some(why) = why {
                    if !matches!(m.op(v).kind, OpKind::Assign(_) | OpKind::Group | OpKind::Parameter) {
                        f.host.insert(v, why);
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        Ok(f)
    }

    /// How fusion treats `v`: as its kind says ([`decide::kernel_class`]), unless its
    /// dtypes send it to the interpreter.
    fn class(&self, v: ValueId) -> Class {
        if self.host.contains_key(&v) {
            return Class::Host;
        }
        decide::kernel_class(&self.m.op(v).kind).unwrap_or(Class::Host)
    }

    fn shape(&self, v: ValueId) -> Shape {
        self.m.ty(v).map(|t| self.classes.canon_shape(&t.shape)).unwrap_or_default()
    }

    fn refuse(&mut self, value: ValueId, why: Why) {
        self.refusals.push(Refusal { value, why });
    }
}

/// The most ops fused into one loop kernel. Cranelift's time grows faster than linearly
/// in a function's size (register allocation over long straight-line bodies): the
/// gradient of a 1,000-op `tanh` chain compiled in 0.95 s at 4,096, 0.17 s at 512;
/// smaller caps unroll bodies (below `UNROLL_MAX_NODES` in codegen) and cost more.
pub const MAX_KERNEL_OPS: usize = 512;

/// The most values one dependency question between kernels walks before answering a
/// conservative yes (the op then starts a kernel of its own): fusion stays linear in
/// the graph whatever its shape.
const REACH_BUDGET: usize = 1 << 14;

/// The most loop nests merged into one kernel.
const MAX_MERGED_NESTS: usize = 64;

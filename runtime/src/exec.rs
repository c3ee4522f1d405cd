//! The JIT executable: a schedule's kernels compiled once, bound to concrete shapes
//! once per feed-shape signature (arena layout and argument blocks), then run as
//! nothing but copies of the feeds, kernel calls, GEMM calls and the variable writes.

use crate::interp::Bindings;
use crate::TensorValue;
use kiln_codegen::{CodegenOptions, CompiledKernel, Jit};

use kiln_ir::{Dim, Module, ValueId, VarId};
use kiln_passes::schedule::{BufKind, Schedule, Step, Stride};
use std::collections::HashMap;

/// Where a buffer's data lives during a run.
#[derive(Clone, Copy, Debug)]
enum Loc {
    Arena(usize),
    Var(VarId),
    Const(usize),
    /// a fed placeholder read where the caller keeps it, for the length of a run (no
    /// copy); a fetched one is copied into the arena instead, to outlive the run
    Feed,
    /// a non-f32 value, kept beside the arena
    Host,
}

/// Why a run failed: an op on the interpreter failed (integer division by zero, an
/// index out of range), or something inside the executable went wrong.
#[derive(Debug)]
pub enum RunError {
    /// An op failed, as it would on the interpreter.
    Eval(crate::interp::EvalError),
    /// An internal inconsistency (a kiln bug).
    Internal(String),
}

impl From<String> for RunError {
    fn from(s: String) -> Self {
        RunError::Internal(s)
    }
}

impl From<&str> for RunError {
    fn from(s: &str) -> Self {
        RunError::Internal(s.to_string())
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Eval(e) => write!(f, "{e}"),
            RunError::Internal(s) => f.write_str(s),
        }
    }
}

pub use kiln_passes::schedule::GEMM_LIBRARY_MIN_MACS;

#[derive(Clone, Debug)]
struct MatMulArgs {
    a: (usize, usize),
    b: (usize, usize),
    c: usize,
    m: usize,
    k: usize,
    n: usize,
    rsa: isize,
    csa: isize,
    rsb: isize,
    csb: isize,
    /// per batch index: element offsets into a, b and c
    batches: Vec<(usize, usize, usize)>,
}

/// One call of a run, decided at bind time from the bound sizes (which kernels run,
/// which split across threads, which GEMMs go to the library).
#[derive(Clone, Copy, Debug)]
enum RunOp {
    /// A kernel with its argument block (a loop kernel, or a one-batch micro-GEMM whose
    /// operand pointers are patched slots).
    Call(usize),
    /// A loop kernel split across threads along its outermost dim.
    Split(usize),
    /// A batched micro-GEMM: kernel, matmul.
    Batched(usize, usize),
    /// A GEMM on the library: matmul.
    Library(usize),
    /// An op on the interpreter: step.
    Host(usize),
}

/// Shape-dependent state: recomputed only when the feed shapes change.
struct Bound {
    /// the run's calls in order
    plan: Vec<RunOp>,
    signature: Vec<Vec<usize>>,
    locs: Vec<Loc>,
    arena: Vec<f32>,
    args: Vec<Vec<i64>>,
    /// (kernel, slot, buffer, element offset): pointer slots patched each run
    patches: Vec<(usize, usize, usize, usize)>,
    /// (variable, elements, buffers in its storage): looked up and checked at every run
    var_bufs: Vec<(VarId, usize, Vec<usize>)>,
    /// the buffer addresses the patched slots hold (empty: not patched yet); a run
    /// re-patches only when a variable moved
    patched_for: Vec<*mut f32>,
    matmuls: Vec<MatMulArgs>,
    sizes: Vec<usize>,
    /// roots that are variables this run assigns: (buffer, arena offset of the copy
    /// taken before the assignments, so the fetch shows the value from before the run)
    snapshots: Vec<(usize, usize)>,
    /// the run's symbol sizes, for ops on the interpreter
    bindings: Bindings,
    /// non-f32 values, by buffer
    host_vals: Vec<Option<TensorValue>>,
}

/// A compiled graph ready to run many times.
pub struct Executable {
    // kernels hold pointers into `jit`'s memory: drop them first
    kernels: Vec<CompiledKernel>,
    _jit: Jit,
    /// Epilogue kernels compiled at bind time, when their GEMM went to the library.
    late_jits: Vec<Jit>,
    /// How the kernels were compiled (for the late ones).
    codegen_opts: CodegenOptions,
    /// The schedule it runs.
    pub schedule: Schedule,
    buf_index: HashMap<ValueId, usize>,
    /// `schedule.assigns` with each source's buffer index (no lookup per run).
    assign_bufs: Vec<(VarId, usize)>,
    /// per buffer: the variable whose storage it is computed into (`inplace`)
    in_place: Vec<Option<VarId>>,
    consts: Vec<Vec<f32>>,
    params: Vec<ValueId>,
    bound: Option<Bound>,
    bases: Vec<*mut f32>,
    /// Give every buffer its own arena slot (check mode compares them all after a run).
    pub no_reuse: bool,
    /// Value map from the graph's module to the optimized one the schedule runs.
    pub remap: Vec<Option<ValueId>>,
    /// Threads a large kernel may split across (1: never split).
    pub threads: usize,
    /// Run with denormals flushed to zero (see `denormals`).
    pub flush_denormals: bool,
    /// What building it took (passes and their times, compile time).
    pub report: crate::build::BuildReport,
    /// (buffer, parameter index) of every fed buffer, found once
    feed_params: Vec<(usize, usize)>,
}

/// The size of a dim under `b`; a symbol named `?0*?1` (a collapsed space) is the
/// product of its parts.
fn dim_size(b: &Bindings, d: &Dim) -> Result<usize, String> {
    match d {
        Dim::Fixed(k) => Ok(*k as usize),
        Dim::Sym(name) if name.contains('*') => name
            .split('*')
            .map(|p| match p.parse::<usize>() {
                Ok(k) => Ok(k),
                Err(_) => b.size(&Dim::Sym(p.to_string())).ok_or_else(|| format!("unbound dim {p}")),
            })
            .product(),
        _ => b.size(d).ok_or_else(|| format!("unbound dim {d}")),
    }
}

/// A large GEMM `c = a x b` (c row-major with row stride `rsc`) on the `gemm` crate's
/// AVX-512 kernels.
///
/// # Safety
/// The pointers must address matrices of the given extents and strides.
#[allow(clippy::too_many_arguments)]
unsafe fn big_gemm(
    m: usize,
    k: usize,
    n: usize,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    rsb: isize,
    csb: isize,
    c: *mut f32,
    rsc: isize,
) {
    // SAFETY: forwarded from the caller; `read_dst = false` ignores c's old contents
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c,
            1,
            rsc,
            false,
            a,
            csa,
            rsa,
            b,
            csb,
            rsb,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

pub use kiln_passes::schedule::PARALLEL_MIN_WORK;

/// Runs a single-nest, store-only loop kernel split along its outermost dim. Each
/// thread gets its own copy of the argument block with that dim shortened and every
/// pointer advanced to its first row, so the threads write disjoint rows and each
/// element is computed exactly as on one thread.
fn run_split(k: &CompiledKernel, args: &[i64], threads: usize, flush: bool) -> bool {
    let [l] = k.layouts.as_slice() else { return false };
    let n0 = args[l.dims] as usize;
    if threads < 2 || n0 < threads || l.means.iter().any(Option::is_some) {
        return false;
    }
    let func = k.func;
    std::thread::scope(|sc| {
        for c in (0..threads).rev() {
            let (start, end) = (n0 * c / threads, n0 * (c + 1) / threads);
            let mut a = args.to_vec();
            a[l.dims] = (end - start) as i64;
            for &at in l.inputs.iter().chain(&l.outputs) {
                a[at] += start as i64 * a[at + 1] * 4;
            }
            let run = move || {
                // a new thread starts with the default floating-point mode
                let _flush = crate::denormals::FlushDenormals::new(flush);
                // SAFETY: the block is the bound one restricted to rows start..end.
                unsafe { func(a.as_ptr()) }
            };
            if c == 0 {
                run();
            } else {
                sc.spawn(run);
            }
        }
    });
    true
}

// SAFETY: raw pointers in `bases` are scratch, rewritten at the start of every run.
unsafe impl Send for Executable {}

impl Executable {
    /// Bytes of the arena for the shapes it is bound to (`None` before the first bind).
    pub fn arena_bytes(&self) -> Option<usize> {
        self.bound.as_ref().map(|b| b.arena.len() * 4)
    }

    /// The optimized value of a graph value.
    pub fn map(&self, v: ValueId) -> Option<ValueId> {
        self.remap.get(v.index()).copied().flatten()
    }

    /// Compiles a schedule.
    pub fn new(schedule: Schedule, opts: &CodegenOptions) -> Result<Executable, kiln_codegen::CodegenError> {
        let (jit, kernels) = kiln_codegen::compile(&schedule, opts)?;
        let buf_index: HashMap<ValueId, usize> =
            schedule.buffers.iter().enumerate().map(|(i, b)| (b.value, i)).collect();
        let assign_bufs = schedule
            .assigns
            .iter()
            .map(|&(var, src)| buf_index.get(&src).map(|&i| (var, i)))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| kiln_codegen::CodegenError {
                kernel: "assign".into(),
                message: "an assigned value has no buffer".into(),
            })?;
        let consts = schedule
            .buffers
            .iter()
            .filter_map(|b| if let BufKind::Const(d) = &b.kind { Some(d.clone()) } else { None })
            .collect();
        let params = schedule.module.parameters();
        let n = schedule.buffers.len();
        let feed_params = schedule
            .buffers
            .iter()
            .enumerate()
            .filter(|(_, b)| matches!(b.kind, BufKind::Feed))
            .filter_map(|(i, b)| Some((i, params.iter().position(|&p| p == b.value)?)))
            .collect();
        let mut in_place = vec![None; n];
        for (i, v) in crate::inplace::plan(&schedule, &buf_index) {
            in_place[i] = Some(v);
        }
        Ok(Executable {
            in_place,
            kernels,
            _jit: jit,
            late_jits: Vec::new(),
            codegen_opts: opts.clone(),
            schedule,
            buf_index,
            assign_bufs,
            consts,
            params,
            bound: None,
            bases: vec![std::ptr::null_mut(); n],
            no_reuse: false,
            remap: Vec::new(),
            report: Default::default(),
            threads: 1,
            flush_denormals: true,
            feed_params,
        })
    }

    /// The assigned values computed straight into their variables' storage (see
    /// `inplace`): (the value's op name, the variable's name).
    pub fn in_place_updates(&self) -> Vec<(String, String)> {
        let m = &self.schedule.module;
        self.in_place
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let v = (*v)?;
                Some((m.op(self.schedule.buffers[i].value).name.clone(), m.var(v).name.clone()))
            })
            .collect()
    }

    /// The compiled kernels, one per step (names, provenance, CLIF and assembly if kept).
    pub fn kernels(&self) -> &[CompiledKernel] {
        &self.kernels
    }

    /// The module's parameters, in order (the feed order of [`Executable::run`]).
    pub fn params(&self) -> &[ValueId] {
        &self.params
    }

    /// Compiles the deferred epilogue kernels whose GEMMs go to the library at these
    /// sizes (their micro-kernels would have applied them in registers).
    fn compile_late_epilogues(&mut self, b: &Bindings) -> Result<(), String> {
        let mut need = Vec::new();
        for (ki, st) in self.schedule.steps.iter().enumerate() {
            let (Step::Loop(lk), kiln_codegen::KernelKind::Deferred) = (st, self.kernels[ki].kind) else { continue };
            let gemm = self.schedule.steps.iter().find_map(|x| match x {
                Step::MatMul(mm) if Some(mm.out) == lk.epilogue_of => Some(mm),
                _ => None,
            });
            if let Some(mm) = gemm {
                if dim_size(b, &mm.m)? * dim_size(b, &mm.k)? * dim_size(b, &mm.n)? >= GEMM_LIBRARY_MIN_MACS {
                    need.push(ki);
                }
            }
        }
        for ki in need {
            let Step::Loop(lk) = &self.schedule.steps[ki] else { continue };
            let (jit, mut ks) = kiln_codegen::compile_kernels(&[lk], &self.codegen_opts).map_err(|e| e.to_string())?;
            self.kernels[ki] = ks.remove(0);
            self.late_jits.push(jit);
        }
        Ok(())
    }

    fn bind(&mut self, b: &Bindings, signature: Vec<Vec<usize>>) -> Result<(), String> {
        self.compile_late_epilogues(b)?;
        let s = &self.schedule;
        let dim = |d: &Dim| dim_size(b, d);
        let prod = |ds: &[Dim]| -> Result<usize, String> { ds.iter().map(dim).product() };
        let stride = |st: &Stride| -> Result<i64, String> {
            match st {
                Stride::Zero => Ok(0),
                Stride::Prod(ds) => Ok(prod(ds)? as i64),
            }
        };
        let offset = |o: &[(u64, Vec<Dim>)]| -> Result<usize, String> {
            o.iter().map(|(k, ds)| Ok(*k as usize * prod(ds)?)).sum()
        };
        let sizes: Vec<usize> = s.buffers.iter().map(|buf| prod(&buf.shape.0)).collect::<Result<_, _>>()?;
        // liveness in step order: feeds live from the start, results to the end
        let nsteps = s.steps.len();
        let mut first = vec![usize::MAX; s.buffers.len()];
        let mut last = vec![0usize; s.buffers.len()];
        let idx = |v: ValueId| self.buf_index[&v];
        for (t, st) in s.steps.iter().enumerate() {
            let (reads, writes): (Vec<ValueId>, Vec<ValueId>) = match st {
                Step::Loop(k) => (
                    k.nests.iter().flat_map(|n| n.inputs.iter().map(|a| a.buf)).collect(),
                    k.nests.iter().flat_map(|n| n.outputs.iter().map(|o| o.value)).collect(),
                ),
                Step::Host(h) => {
                    let m = &self.schedule.module;
                    let reads =
                        m.op(h.value).operands.iter().copied().filter(|u| self.buf_index.contains_key(u)).collect();
                    let writes = if self.buf_index.contains_key(&h.value) { vec![h.value] } else { vec![] };
                    (reads, writes)
                }
                Step::MatMul(mm) => {
                    // a fused epilogue reads and writes at the GEMM's step
                    let mut reads = vec![mm.a.buf, mm.b.buf];
                    let mut writes = vec![mm.out];
                    if let Some(e) = &mm.epilogue {
                        reads.extend(e.nest.inputs.iter().map(|a| a.buf));
                        writes.extend(e.nest.outputs.iter().map(|o| o.value));
                    }
                    (reads, writes)
                }
            };
            for v in writes {
                first[idx(v)] = first[idx(v)].min(t + 1);
                last[idx(v)] = last[idx(v)].max(t + 1);
            }
            for v in reads {
                last[idx(v)] = last[idx(v)].max(t + 1);
            }
        }
        for v in s.roots.iter().chain(s.assigns.iter().map(|(_, v)| v)) {
            if let Some(&i) = self.buf_index.get(v) {
                last[i] = nsteps + 1;
            }
        }
        let mut locs = Vec::with_capacity(s.buffers.len());
        let mut placed: Vec<(usize, usize, usize, usize)> = Vec::new(); // (start, end, off, len)
        let mut arena_len = 0usize;
        let mut const_i = 0;
        for (i, buf) in s.buffers.iter().enumerate() {
            let (start, end) = match buf.kind {
                BufKind::Feed => (0, nsteps + 1),
                _ => (first[i].min(last[i]), last[i]),
            };
            let loc = match &buf.kind {
                _ if buf.dtype != kiln_ir::DType::F32 => Loc::Host,
                BufKind::Var(v) => Loc::Var(*v),
                BufKind::Feed if !s.roots.contains(&buf.value) => Loc::Feed,
                // an update computed straight into its variable (`inplace`)
                BufKind::Temp if self.in_place[i].is_some() => Loc::Var(self.in_place[i].expect("checked")),
                BufKind::Const(_) => {
                    const_i += 1;
                    Loc::Const(const_i - 1)
                }
                BufKind::Feed | BufKind::Temp => {
                    // first fit among buffers whose lifetimes overlap this one. Never in
                    // place: kernels load their inputs as movable (`ro()`), so a load may
                    // be scheduled after a store to an aliasing output (a random-graph
                    // case in tests/jit.proptest-regressions caught exactly that)
                    let len = sizes[i].div_ceil(16) * 16;
                    let mut busy: Vec<(usize, usize)> = placed
                        .iter()
                        .filter(|p| self.no_reuse || (p.0 <= end && start <= p.1))
                        .map(|p| (p.2, p.2 + p.3))
                        .collect();
                    busy.sort();
                    let mut off = 0;
                    for (a, z) in busy {
                        if off + len <= a {
                            break;
                        }
                        off = off.max(z);
                    }
                    placed.push((start, end, off, len));
                    arena_len = arena_len.max(off + len);
                    Loc::Arena(off)
                }
            };
            locs.push(loc);
        }
        let mut args = Vec::new();
        let mut patches = Vec::new();
        let mut matmuls = Vec::new();
        let mut skip = vec![false; s.steps.len()];
        for (ki, st) in s.steps.iter().enumerate() {
            // fills one nest's dims, strides, lengths and scalars; queues its pointers
            let mut fill_nest = |a: &mut Vec<i64>,
                                 n: &kiln_passes::schedule::LoopNest,
                                 l: &kiln_codegen::NestLayout|
             -> Result<(), String> {
                for (d, dd) in n.space.iter().enumerate() {
                    a[l.dims + d] = dim(dd)? as i64;
                }
                for (acc, &at) in n.inputs.iter().zip(&l.inputs) {
                    patches.push((ki, at, idx(acc.buf), offset(&acc.offset)?));
                    for (d, st) in acc.strides.iter().enumerate() {
                        a[at + 1 + d] = stride(st)?;
                    }
                }
                for (o, &at) in n.outputs.iter().zip(&l.outputs) {
                    patches.push((ki, at, idx(o.value), 0));
                    for (d, st) in o.strides.iter().enumerate() {
                        a[at + 1 + d] = stride(st)?;
                    }
                    a[at + 1 + n.space.len()] = prod(&o.len)? as i64;
                }
                for (j, sc) in n.scalars.iter().enumerate() {
                    a[l.scalars + j] = (prod(sc)? as f32).to_bits() as i64;
                }
                for (o, m) in n.outputs.iter().zip(&l.means) {
                    if let (Some(at), Some(ds)) = (m, &o.mean_of) {
                        a[*at] = (1.0 / prod(ds)? as f32).to_bits() as i64;
                    }
                }
                Ok(())
            };
            match st {
                Step::Host(_) => args.push(Vec::new()),
                Step::Loop(k) => {
                    let ck = &self.kernels[ki];
                    let mut a = vec![0i64; ck.slots];
                    for (n, l) in k.nests.iter().zip(&ck.layouts) {
                        fill_nest(&mut a, n, l)?;
                    }
                    args.push(a);
                }
                Step::MatMul(mm) => {
                    let r = mm.a.strides.len();
                    let st = |acc: &kiln_passes::schedule::Access, d: usize| stride(&acc.strides[d]);
                    let batch: Vec<usize> = mm.batch.iter().map(dim).collect::<Result<_, _>>()?;
                    let (m, k, n) = (dim(&mm.m)?, dim(&mm.k)?, dim(&mm.n)?);
                    let nb: usize = batch.iter().product();
                    let mut batches = Vec::with_capacity(nb);
                    for bi in 0..nb {
                        let (mut rem, mut oa, mut ob, mut oc) = (bi, 0usize, 0usize, 0usize);
                        let mut cstride = m * n;
                        for d in (0..batch.len()).rev() {
                            let x = rem % batch[d];
                            rem /= batch[d];
                            oa += x * st(&mm.a, d)? as usize;
                            ob += x * st(&mm.b, d)? as usize;
                            oc += x * cstride;
                            cstride *= batch[d];
                        }
                        batches.push((oa, ob, oc));
                    }
                    let (rsa, csa, rsb, csb) =
                        (st(&mm.a, r - 2)?, st(&mm.a, r - 1)?, st(&mm.b, r - 2)?, st(&mm.b, r - 1)?);
                    let ck = &self.kernels[ki];
                    let mut a = vec![0i64; ck.slots.max(10)];
                    a[3..10].copy_from_slice(&[m as i64, k as i64, n as i64, rsa, csa, rsb, csb]);
                    // a small GEMM compiled with its epilogue runs it in registers and the
                    // epilogue's own kernel is skipped
                    if let (Some(l), Some(e)) = (ck.layouts.first(), &mm.epilogue) {
                        if m * k * n < GEMM_LIBRARY_MIN_MACS {
                            fill_nest(&mut a, &e.nest, l)?;
                            let t = s
                                .steps
                                .iter()
                                .position(|x| matches!(x, Step::Loop(lk) if lk.epilogue_of == Some(mm.out)));
                            if let Some(t) = t {
                                skip[t] = true;
                            }
                        }
                    }
                    args.push(a);
                    matmuls.push(MatMulArgs {
                        a: (idx(mm.a.buf), offset(&mm.a.offset)?),
                        b: (idx(mm.b.buf), offset(&mm.b.offset)?),
                        c: idx(mm.out),
                        m,
                        k,
                        n,
                        rsa: st(&mm.a, r - 2)? as isize,
                        csa: st(&mm.a, r - 1)? as isize,
                        rsb: st(&mm.b, r - 2)? as isize,
                        csb: st(&mm.b, r - 1)? as isize,
                        batches,
                    });
                }
            }
        }
        let assigned: Vec<VarId> = s.assigns.iter().map(|(v, _)| *v).collect();
        let mut snapshots = Vec::new();
        for r in &s.roots {
            if let Some(&i) = self.buf_index.get(r) {
                if matches!(locs[i], Loc::Var(v) if assigned.contains(&v))
                    && !snapshots.iter().any(|x: &(usize, usize)| x.0 == i)
                {
                    snapshots.push((i, arena_len));
                    arena_len += sizes[i].div_ceil(16) * 16;
                }
            }
        }
        // per variable: its length and the buffers living in its storage
        let mut locs_var_bufs: Vec<(VarId, usize, Vec<usize>)> = Vec::new();
        for (i, l) in locs.iter().enumerate() {
            if let Loc::Var(v) = *l {
                match locs_var_bufs.iter_mut().find(|x| x.0 == v) {
                    Some(x) if x.1 == sizes[i] => x.2.push(i),
                    Some(_) => return Err(format!("buffers of variable {} differ in size", v.index())),
                    None => locs_var_bufs.push((v, sizes[i], vec![i])),
                }
            }
        }
        // the run's calls, decided once for these sizes
        let mut plan = Vec::new();
        let mut mi = 0;
        for (ki, st) in s.steps.iter().enumerate() {
            match st {
                Step::MatMul(_) => {
                    let mm = &matmuls[mi];
                    if mm.m * mm.k * mm.n >= GEMM_LIBRARY_MIN_MACS {
                        plan.push(RunOp::Library(mi));
                    } else if let [(oa, ob, oc)] = mm.batches[..] {
                        // operand pointers become patched slots: a plain call per run
                        patches.push((ki, 0, mm.a.0, mm.a.1 + oa));
                        patches.push((ki, 1, mm.b.0, mm.b.1 + ob));
                        patches.push((ki, 2, mm.c, oc));
                        plan.push(RunOp::Call(ki));
                    } else {
                        plan.push(RunOp::Batched(ki, mi));
                    }
                    mi += 1;
                }
                _ if skip[ki] => {}
                Step::Host(_) => plan.push(RunOp::Host(ki)),
                Step::Loop(lk) => {
                    let (k, a) = (&self.kernels[ki], &args[ki]);
                    let splittable = self.threads > 1
                        && lk.nests.len() == 1
                        && lk.nests[0].outputs.iter().all(|o| o.mode == kiln_passes::schedule::OutMode::Store)
                        && !lk.nests[0].space.is_empty()
                        && k.layouts[0].len > 0
                        && (0..lk.nests[0].space.len()).map(|d| a[k.layouts[0].dims + d] as usize).product::<usize>()
                            >= PARALLEL_MIN_WORK;
                    plan.push(if splittable { RunOp::Split(ki) } else { RunOp::Call(ki) });
                }
            }
        }
        self.bound = Some(Bound {
            plan,
            signature,
            locs,
            arena: vec![0.0; arena_len.max(1)],
            args,
            patches,
            var_bufs: locs_var_bufs,
            patched_for: Vec::new(),
            matmuls,
            sizes,
            snapshots,
            bindings: b.clone(),
            host_vals: vec![None; s.buffers.len()],
        });
        // fixed addresses, set once per bind (the arena is never resized)
        if let Some(bound) = self.bound.as_mut() {
            let arena = bound.arena.as_mut_ptr();
            for (i, loc) in bound.locs.iter().enumerate() {
                self.bases[i] = match *loc {
                    // SAFETY: `off` lies inside the arena, sized for every slot above.
                    Loc::Arena(off) => unsafe { arena.add(off) },
                    Loc::Const(c) => self.consts[c].as_ptr() as *mut f32,
                    Loc::Var(_) | Loc::Feed | Loc::Host => std::ptr::null_mut(),
                };
            }
        }
        Ok(())
    }

    /// Runs once: copies the feeds in, calls every step, then writes the assigned
    /// variables. `vars` must hold f32 values of the right shapes for every variable
    /// the schedule reads or writes (the session checks this first).
    pub fn run(
        &mut self,
        bindings: &Bindings,
        feeds: &HashMap<ValueId, &TensorValue>,
        vars: &mut [Option<TensorValue>],
    ) -> Result<(), RunError> {
        let signature: Vec<Vec<usize>> =
            self.params.iter().map(|p| feeds.get(p).map_or(vec![], |v| v.shape().to_vec())).collect();
        if self.bound.as_ref().is_none_or(|b| b.signature != signature) {
            self.bind(bindings, signature)?;
        }
        let mut raw = Vec::with_capacity(self.params.len());
        for p in &self.params {
            raw.push(match feeds.get(p) {
                Some(TensorValue::F32(a)) => {
                    let s = a.as_slice().ok_or("feeds must be contiguous")?;
                    (s.as_ptr(), s.len())
                }
                Some(other) => {
                    // other dtypes only feed ops on the interpreter
                    if let (Some(&i), Some(b)) = (self.buf_index.get(p), self.bound.as_mut()) {
                        b.host_vals[i] = Some((*other).clone());
                    }
                    (std::ptr::null(), 0)
                }
                None => (std::ptr::null(), 0),
            });
        }
        self.run_raw(&raw, vars)
    }

    /// True if the executable is bound to exactly these feed shapes (params order).
    pub fn bound_to<'s>(&self, mut shapes: impl Iterator<Item = &'s [usize]>) -> bool {
        match &self.bound {
            Some(b) => b.signature.iter().all(|s| shapes.next() == Some(s.as_slice())),
            None => false,
        }
    }

    /// Binds to feed shapes (params order) under `bindings`; no-op if already bound.
    pub fn prepare(&mut self, bindings: &Bindings, signature: Vec<Vec<usize>>) -> Result<(), String> {
        if self.bound.as_ref().is_none_or(|b| b.signature != signature) {
            self.bind(bindings, signature)?;
        }
        Ok(())
    }

    /// Runs with feeds given as (pointer, length) in params order, after
    /// [`Executable::prepare`]. Allocates nothing once every variable is initialized.
    pub fn run_raw(&mut self, feeds: &[(*const f32, usize)], vars: &mut [Option<TensorValue>]) -> Result<(), RunError> {
        let _flush = crate::denormals::FlushDenormals::new(self.flush_denormals);
        let bound = self.bound.as_mut().expect("bound above");
        let arena = bound.arena.as_mut_ptr();
        // arena and constant addresses were set at bind; variables may have moved
        for (v, len, bufs) in &bound.var_bufs {
            // kernels read (and in-place updates write) `len` elements here
            let p = match vars.get_mut(v.index()).and_then(|x| x.as_mut()) {
                Some(TensorValue::F32(a)) if a.len() == *len && a.is_standard_layout() => a.as_mut_ptr(),
                _ => {
                    return Err(
                        format!("variable {} is not an initialized f32 value of {len} elements", v.index()).into()
                    )
                }
            };
            for &i in bufs {
                self.bases[i] = p;
            }
        }
        for &(i, p) in &self.feed_params {
            let buf = &self.schedule.buffers[i];
            if let Loc::Arena(_) | Loc::Feed = bound.locs[i] {
                let (src, len) = feeds.get(p).copied().unwrap_or((std::ptr::null(), 0));
                if src.is_null() || len != bound.sizes[i] {
                    return Err(format!(
                        "feed for %{} has {len} elements, expected {}",
                        self.schedule.module.op(buf.value).name,
                        bound.sizes[i]
                    )
                    .into());
                }
                if let Loc::Feed = bound.locs[i] {
                    // kernels only read it (a feed is never a kernel's output), and only
                    // during this run, while the caller's borrow holds
                    self.bases[i] = src.cast_mut();
                } else {
                    // SAFETY: the caller's slice holds `len` elements, the arena slot was
                    // sized for exactly that many at bind time.
                    unsafe { std::ptr::copy_nonoverlapping(src, self.bases[i], len) };
                }
            }
        }
        if bound.patched_for != self.bases {
            for &(k, slot, buf, off) in &bound.patches {
                bound.args[k][slot] = unsafe { self.bases[buf].add(off) } as i64;
            }
            bound.patched_for.clone_from(&self.bases);
        }
        for &op in &bound.plan {
            match op {
                RunOp::Host(ki) => {
                    let Step::Host(h) = &self.schedule.steps[ki] else { continue };
                    let m = &self.schedule.module;
                    let mut owned = Vec::new();
                    for &u in &m.op(h.value).operands {
                        let Some(&iu) = self.buf_index.get(&u) else {
                            owned.push(TensorValue::Unit);
                            continue;
                        };
                        owned.push(match bound.locs[iu] {
                            Loc::Host => bound.host_vals[iu].clone().ok_or("a host value is missing")?,
                            _ => {
                                let t = m.ty(u).ok_or("operand without a type")?;
                                let shape = bound.bindings.shape(&t.shape).ok_or("unbound operand shape")?;
                                // SAFETY: the buffer holds exactly `sizes[iu]` elements.
                                let data = unsafe { std::slice::from_raw_parts(self.bases[iu], bound.sizes[iu]) };
                                let a = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&shape), data.to_vec())
                                    .map_err(|e| e.to_string())?;
                                TensorValue::F32(a)
                            }
                        });
                    }
                    let refs: Vec<&TensorValue> = owned.iter().collect();
                    let out =
                        crate::interp::eval_op(m, h.value, &refs, vars, &bound.bindings).map_err(RunError::Eval)?;
                    if let Some(&i) = self.buf_index.get(&h.value) {
                        match (bound.locs[i], &out) {
                            (Loc::Host, _) => bound.host_vals[i] = Some(out),
                            (_, TensorValue::F32(a)) => {
                                let src = a.as_slice().ok_or("interpreter results are row-major")?;
                                // SAFETY: the slot holds sizes[i] elements, the op's shape.
                                unsafe {
                                    std::ptr::copy_nonoverlapping(
                                        src.as_ptr(),
                                        self.bases[i],
                                        src.len().min(bound.sizes[i]),
                                    )
                                };
                            }
                            _ => return Err("an f32 slot got another dtype".into()),
                        }
                    }
                }
                RunOp::Call(ki) => {
                    // SAFETY: the argument block holds pointers and extents bound from
                    // verified shapes; every address the kernel forms lies in a buffer.
                    unsafe { (self.kernels[ki].func)(bound.args[ki].as_ptr()) };
                }
                RunOp::Split(ki) => {
                    let (k, args) = (&self.kernels[ki], &bound.args[ki]);
                    if !run_split(k, args, self.threads, self.flush_denormals) {
                        // SAFETY: as for `Call`
                        unsafe { (k.func)(args.as_ptr()) };
                    }
                }
                RunOp::Batched(ki, mi) => {
                    let mm = &bound.matmuls[mi];
                    let (a, b, c) = (self.bases[mm.a.0], self.bases[mm.b.0], self.bases[mm.c]);
                    let args = &mut bound.args[ki];
                    for &(oa, ob, oc) in &mm.batches {
                        // SAFETY: offsets, extents and strides come from the bound
                        // shapes, so the micro-kernel stays inside a, b and c.
                        unsafe {
                            args[0] = a.add(mm.a.1 + oa) as i64;
                            args[1] = b.add(mm.b.1 + ob) as i64;
                            args[2] = c.add(oc) as i64;
                            (self.kernels[ki].func)(args.as_ptr());
                        }
                    }
                }
                RunOp::Library(mi) => {
                    let mm = &bound.matmuls[mi];
                    let (a, b, c) = (self.bases[mm.a.0], self.bases[mm.b.0], self.bases[mm.c]);
                    if self.threads > 1 && mm.batches.len() == 1 && mm.m >= 256 {
                        // rows of c split across threads: each row is computed as on one
                        let (oa, ob, oc) = mm.batches[0];
                        let (a, b, c) = (a as usize, b as usize, c as usize);
                        let t = self.threads;
                        std::thread::scope(|sc| {
                            // boundaries at multiples of 128 rows: the library's row blocks
                            // then match a one-thread run exactly
                            let cut = |p: usize| ((mm.m * p / t) / 128 * 128).min(mm.m);
                            for part in 0..t {
                                let (r0, r1) = (
                                    if part == 0 { 0 } else { cut(part) },
                                    if part + 1 == t { mm.m } else { cut(part + 1) },
                                );
                                if r0 >= r1 {
                                    continue;
                                }
                                let flush = self.flush_denormals;
                                let run = move || unsafe {
                                    let _flush = crate::denormals::FlushDenormals::new(flush);
                                    let a = (a as *const f32).add(mm.a.1 + oa).offset(r0 as isize * mm.rsa);
                                    let b = (b as *const f32).add(mm.b.1 + ob);
                                    let c = (c as *mut f32).add(oc + r0 * mm.n);
                                    big_gemm(
                                        r1 - r0,
                                        mm.k,
                                        mm.n,
                                        a,
                                        mm.rsa,
                                        mm.csa,
                                        b,
                                        mm.rsb,
                                        mm.csb,
                                        c,
                                        mm.n as isize,
                                    )
                                };
                                sc.spawn(run);
                            }
                        });
                        continue;
                    }
                    for &(oa, ob, oc) in &mm.batches {
                        // SAFETY: strides and extents come from the bound shapes.
                        unsafe {
                            big_gemm(
                                mm.m,
                                mm.k,
                                mm.n,
                                a.add(mm.a.1 + oa),
                                mm.rsa,
                                mm.csa,
                                b.add(mm.b.1 + ob),
                                mm.rsb,
                                mm.csb,
                                c.add(oc),
                                mm.n as isize,
                            )
                        };
                    }
                }
            }
        }
        for &(i, off) in &bound.snapshots {
            // SAFETY: the snapshot slot was sized for this buffer at bind time.
            unsafe { std::ptr::copy_nonoverlapping(self.bases[i], arena.add(off), bound.sizes[i]) };
        }
        // variable writes land at the end of the run, in op order
        for &(var, i) in &self.assign_bufs {
            if self.in_place[i] == Some(var) {
                // computed in the variable's storage, checked above
                continue;
            }
            let n = bound.sizes[i];
            let from = self.bases[i];
            let slot = vars.get_mut(var.index()).ok_or("assign to an unknown variable")?;
            if let Loc::Host = bound.locs[i] {
                *slot = bound.host_vals[i].clone();
                continue;
            }
            if !matches!(slot, Some(TensorValue::F32(a)) if a.len() == n && a.is_standard_layout()) {
                // first initialization: the only allocation a run can make
                let shape = self.schedule.module.var(var).ty.shape.as_fixed().unwrap_or_default();
                *slot = Some(TensorValue::zeros(kiln_ir::DType::F32, &shape));
            }
            if let Some(TensorValue::F32(a)) = slot {
                let to = a.as_mut_ptr();
                if to != from {
                    // SAFETY: both hold n elements (the verifier matched the types).
                    unsafe { std::ptr::copy(from, to, n) };
                }
            }
        }
        Ok(())
    }

    /// The data of a computed value after [`Executable::run`] (roots and assign sources).
    pub fn value<'a>(&'a self, v: ValueId, vars: &'a [Option<TensorValue>]) -> Option<&'a [f32]> {
        let i = *self.buf_index.get(&v)?;
        let bound = self.bound.as_ref()?;
        let n = bound.sizes[i];
        if let Some(&(_, off)) = bound.snapshots.iter().find(|x| x.0 == i) {
            return Some(&bound.arena[off..off + n]);
        }
        Some(match bound.locs[i] {
            Loc::Arena(off) => &bound.arena[off..off + n],
            Loc::Const(c) => &self.consts[c][..n],
            Loc::Var(var) => match vars.get(var.index())? {
                Some(TensorValue::F32(a)) => a.as_slice()?,
                _ => return None,
            },
            Loc::Feed | Loc::Host => return None,
        })
    }

    /// A non-f32 value computed on the interpreter during the last run.
    pub fn host_value(&self, v: ValueId) -> Option<&TensorValue> {
        let i = *self.buf_index.get(&v)?;
        self.bound.as_ref()?.host_vals.get(i)?.as_ref()
    }

    /// The module the schedule was built from.
    pub fn module(&self) -> &Module {
        &self.schedule.module
    }
}

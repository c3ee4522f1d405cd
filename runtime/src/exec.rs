//! The JIT executable: a schedule's kernels compiled once, its buffers planned once
//! (`kiln_passes::buffer_plan`), bound to concrete shapes once per feed-shape signature
//! (a few bindings kept, least recently used evicted; see `bind`), then run as nothing
//! but feed copies, kernel calls, GEMM calls and the variable writes.

use crate::bind::{Bound, RunOp};
use crate::interp::Bindings;
use crate::TensorValue;
use kiln_codegen::{CodegenOptions, CompiledKernel, Jit, KernelKind};
use kiln_ir::{Module, ValueId, VarId};
use kiln_passes::buffer_plan::{BufferPlan, Place};
use kiln_passes::schedule::{BufKind, Schedule, Step};
use std::collections::HashMap;

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

pub use kiln_passes::schedule::{GEMM_LIBRARY_MIN_MACS, PARALLEL_MIN_WORK};

/// How many feed-shape bindings an executable keeps by default
/// ([`crate::SessionOptions::max_bindings`]).
pub const DEFAULT_MAX_BINDINGS: usize = 8;

/// 64 bytes of arena: slots start on these, so 64-bit elements and vector loads are
/// aligned.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Chunk([f32; 16]);

/// A compiled graph ready to run many times.
pub struct Executable {
    // kernels hold pointers into `jit`'s memory: drop them first
    pub(crate) kernels: Vec<CompiledKernel>,
    _jit: Jit,
    /// Epilogue kernels compiled at bind time, when their GEMM went to the library.
    late_jits: Vec<Jit>,
    /// How the kernels were compiled (for the late ones).
    codegen_opts: CodegenOptions,
    /// The schedule it runs (read-only from outside: the compiled kernels' argument
    /// layouts follow it).
    pub(crate) schedule: Schedule,
    buf_index: HashMap<ValueId, usize>,
    /// Where each buffer lives, for every binding.
    pub(crate) plan: BufferPlan,
    /// `schedule.assigns` with each source's buffer index (no lookup per run).
    assign_bufs: Vec<(VarId, usize)>,
    pub(crate) consts: Vec<Vec<f32>>,
    params: Vec<ValueId>,
    /// (buffer, parameter index) of every fed buffer, found once
    feed_params: Vec<(usize, usize)>,
    /// Per step: for a GEMM, the step of its epilogue kernel.
    pub(crate) epilogue_step: Vec<Option<usize>>,
    /// Deferred epilogue kernels and the step of their GEMM.
    deferred: Vec<(usize, usize)>,
    /// Bindings, most recent use first by `last_used`; `current` ran last.
    bindings: Vec<Bound>,
    current: usize,
    tick: u64,
    binds: usize,
    /// The arena every binding's slots live in, grown to the largest binding.
    arena: Vec<Chunk>,
    /// Every step's call: the argument blocks codegen compiled against and binding fills.
    pub(crate) abi: kiln_passes::abi::Abi,
    /// How many bindings to keep (least recently used evicted past it).
    pub max_bindings: usize,
    /// Value map from the graph's module to the optimized one the schedule runs: the
    /// mapped values only, sorted (a dense map would grow with the graph, per executable).
    remap: Vec<(ValueId, ValueId)>,
    /// Threads a large kernel may split across (1: never split).
    pub threads: usize,
    /// Run with denormals flushed to zero (see `denormals`).
    pub flush_denormals: bool,
    /// What building it took (passes and their times, compile time).
    pub report: crate::build::BuildReport,
    /// The seeds of the random ops it runs (on the interpreter), whose draws the
    /// session counts.
    pub(crate) random_seeds: Vec<u64>,
    /// The session's draw counts, set before a run that has random ops.
    pub(crate) draws: std::sync::Arc<HashMap<u64, u64>>,
}

// SAFETY: the raw pointers in bindings are scratch addresses into the executable's own
// arena and constants, or into variables and feeds rewritten at the start of every run;
// nothing is shared with another thread outside a run.
unsafe impl Send for Executable {}

impl Executable {
    /// Assembles an executable from what the stages made: the schedule, its ABI and
    /// buffer plan, and codegen's kernels. Private: an executable is built only by
    /// [`Executable::build`], whose argument blocks the bind fills.
    pub(crate) fn new(
        schedule: Schedule,
        abi: kiln_passes::abi::Abi,
        plan: BufferPlan,
        compiled: kiln_codegen::stage::Compiled,
        opts: &CodegenOptions,
    ) -> Result<Executable, kiln_codegen::CodegenError> {
        let kiln_codegen::stage::Compiled { jit, kernels } = compiled;
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
        let feed_params = schedule
            .buffers
            .iter()
            .enumerate()
            .filter(|(_, b)| matches!(b.kind, BufKind::Feed))
            .filter_map(|(i, b)| Some((i, params.iter().position(|&p| p == b.value)?)))
            .collect();
        let epilogue_of: HashMap<ValueId, usize> = schedule
            .steps
            .iter()
            .enumerate()
            .filter_map(|(t, st)| match st {
                Step::Loop(k) => Some((k.epilogue_of?, t)),
                _ => None,
            })
            .collect();
        let epilogue_step: Vec<Option<usize>> = schedule
            .steps
            .iter()
            .map(|st| match st {
                Step::MatMul(mm) => epilogue_of.get(&mm.out).copied(),
                _ => None,
            })
            .collect();
        let deferred = epilogue_step
            .iter()
            .enumerate()
            .filter_map(|(g, e)| Some(((*e)?, g)))
            .filter(|&(k, _)| kernels[k].kind == KernelKind::Deferred)
            .collect();
        let random_seeds = schedule
            .steps
            .iter()
            .filter_map(|st| match st {
                Step::Host(h) => match schedule.module.op(h.value).kind {
                    kiln_ir::OpKind::Random { seed, .. } => Some(seed),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        Ok(Executable {
            abi,
            kernels,
            _jit: jit,
            late_jits: Vec::new(),
            codegen_opts: opts.clone(),
            schedule,
            buf_index,
            plan,
            assign_bufs,
            consts,
            params,
            feed_params,
            epilogue_step,
            deferred,
            bindings: Vec::new(),
            current: 0,
            tick: 0,
            binds: 0,
            arena: Vec::new(),
            max_bindings: DEFAULT_MAX_BINDINGS,
            remap: Vec::new(),
            threads: 1,
            flush_denormals: true,
            report: Default::default(),
            random_seeds,
            draws: Default::default(),
        })
    }

    /// Drops the bindings made so far (a test that edits the schedule binds afresh).
    #[cfg(test)]
    pub(crate) fn clear_bindings(&mut self) {
        self.bindings.clear();
    }

    /// The schedule it runs: kernels, GEMMs and interpreter steps over buffers.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Where each buffer lives (slots of the arena, variables, feeds).
    pub fn buffer_plan(&self) -> &BufferPlan {
        &self.plan
    }

    /// Bytes of the arena for the shapes of the last run (`None` before the first bind).
    pub fn arena_bytes(&self) -> Option<usize> {
        self.bindings.get(self.current).map(|b| b.arena_len * std::mem::size_of::<f32>())
    }

    /// How many bindings this executable has made (new feed-shape signatures, or ones
    /// evicted and bound again).
    pub fn bind_count(&self) -> usize {
        self.binds
    }

    /// How many bindings it holds now (at most `max_bindings`).
    pub fn binding_count(&self) -> usize {
        self.bindings.len()
    }

    /// The optimized value of a graph value.
    pub fn map(&self, v: ValueId) -> Option<ValueId> {
        self.remap.binary_search_by_key(&v, |e| e.0).ok().map(|i| self.remap[i].1)
    }

    /// Sets the map from the graph's values to the optimized module's (`None`: dropped).
    pub fn set_remap(&mut self, dense: &[Option<ValueId>]) {
        self.remap = dense.iter().enumerate().filter_map(|(i, n)| Some((ValueId(i as u32), (*n)?))).collect();
    }

    /// The buffer index of a value.
    pub(crate) fn buf(&self, v: ValueId) -> Result<usize, String> {
        self.buf_index.get(&v).copied().ok_or_else(|| format!("%{} has no buffer", self.schedule.module.op(v).name))
    }

    /// The assigned values computed straight into their variables' storage (see
    /// `buffer_plan::in_place`): (the value's op name, the variable's name).
    pub fn in_place_updates(&self) -> Vec<(String, String)> {
        let m = &self.schedule.module;
        self.plan
            .places
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match (p, &self.schedule.buffers[i].kind) {
                (Place::Var(v), BufKind::Temp) => {
                    Some((m.op(self.schedule.buffers[i].value).name.clone(), m.var(*v).name.clone()))
                }
                _ => None,
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

    /// The module the schedule was built from.
    pub fn module(&self) -> &Module {
        &self.schedule.module
    }

    /// Compiles the deferred epilogue kernels whose GEMMs go to the library at these
    /// sizes (their micro-kernels would have applied them in registers). Each is
    /// compiled at most once per executable.
    fn compile_late_epilogues(&mut self, b: &Bindings) -> Result<(), String> {
        let mut need = Vec::new();
        for &(ki, g) in &self.deferred {
            let (Step::MatMul(mm), KernelKind::Deferred) = (&self.schedule.steps[g], self.kernels[ki].kind) else {
                continue;
            };
            let d = |d| crate::bind::dim_size(b, d);
            if d(&mm.m)?.saturating_mul(d(&mm.k)?).saturating_mul(d(&mm.n)?) >= GEMM_LIBRARY_MIN_MACS {
                need.push(ki);
            }
        }
        for ki in need {
            let Step::Loop(lk) = &self.schedule.steps[ki] else { continue };
            let (jit, mut ks) = kiln_codegen::compile_kernels(&[(lk, &self.abi.calls[ki])], &self.codegen_opts)
                .map_err(|e| e.to_string())?;
            self.kernels[ki] = ks.remove(0);
            self.late_jits.push(jit);
        }
        Ok(())
    }

    /// Makes the binding for these feed shapes (params order) current, if there is one.
    pub fn select<'s>(&mut self, shapes: impl Iterator<Item = &'s [usize]> + Clone) -> bool {
        let found = self.bindings.iter().position(|b| {
            let mut it = shapes.clone();
            b.signature.iter().all(|s| it.next() == Some(s.as_slice())) && it.next().is_none()
        });
        let Some(i) = found else { return false };
        self.tick += 1;
        self.bindings[i].last_used = self.tick;
        self.current = i;
        true
    }

    /// Binds to feed shapes (params order) under `bindings` and makes that binding
    /// current; reuses a binding already made for them. Compiles nothing, except an
    /// epilogue kernel the first time its GEMM is large enough for the library.
    pub fn prepare(&mut self, bindings: &Bindings, signature: Vec<Vec<usize>>) -> Result<(), String> {
        if self.select(signature.iter().map(Vec::as_slice)) {
            return Ok(());
        }
        self.compile_late_epilogues(bindings)?;
        let mut bound = crate::bind::bind(self, bindings, signature)?;
        self.binds += 1;
        self.tick += 1;
        bound.last_used = self.tick;
        let chunks = bound.arena_len.div_ceil(16);
        if chunks > self.arena.len() {
            // bindings' bases notice the move (`arena_at`) and are placed again
            let extra = chunks - self.arena.len();
            self.arena.try_reserve_exact(extra).map_err(|e| format!("arena of {} words: {e}", bound.arena_len))?;
            self.arena.resize(chunks, Chunk([0.0; 16]));
        }
        if self.bindings.len() >= self.max_bindings.max(1) {
            let lru = (0..self.bindings.len()).min_by_key(|&i| self.bindings[i].last_used).unwrap_or(0);
            self.bindings[lru] = bound;
            self.current = lru;
        } else {
            self.bindings.push(bound);
            self.current = self.bindings.len() - 1;
        }
        Ok(())
    }

    /// True if the current binding is for exactly these feed shapes (params order).
    pub fn bound_to<'s>(&self, mut shapes: impl Iterator<Item = &'s [usize]>) -> bool {
        match self.bindings.get(self.current) {
            Some(b) => b.signature.iter().all(|s| shapes.next() == Some(s.as_slice())),
            None => false,
        }
    }

    /// Runs once: binds to the feeds' shapes, calls every step, then writes the
    /// assigned variables. Every variable the schedule reads must hold an f32 value of
    /// its declared shape (the session checks this first; a run checks it again).
    pub fn run(
        &mut self,
        bindings: &Bindings,
        feeds: &HashMap<ValueId, &TensorValue>,
        vars: &mut [Option<TensorValue>],
    ) -> Result<(), RunError> {
        let signature: Vec<Vec<usize>> =
            self.params.iter().map(|p| feeds.get(p).map_or(vec![], |v| v.shape().to_vec())).collect();
        self.prepare(bindings, signature)?;
        let mut raw: Vec<(*const u8, usize)> = Vec::with_capacity(self.params.len());
        let mut owned = Vec::new();
        for k in 0..self.params.len() {
            let Some(v) = feeds.get(&self.params[k]) else {
                raw.push((std::ptr::null(), 0));
                continue;
            };
            fn ptr<T: Clone>(
                a: &ndarray::ArrayD<T>,
                owned: &mut Vec<TensorValue>,
                wrap: fn(ndarray::ArrayD<T>) -> TensorValue,
            ) -> (*const u8, usize) {
                match a.as_slice() {
                    Some(s) => (s.as_ptr().cast(), s.len()),
                    None => {
                        // a strided feed is copied to row-major order
                        let c = a.as_standard_layout().into_owned();
                        let r = (c.as_ptr().cast(), c.len());
                        owned.push(wrap(c));
                        r
                    }
                }
            }
            raw.push(match v {
                TensorValue::F32(a) => ptr(a, &mut owned, TensorValue::F32),
                TensorValue::I32(a) => ptr(a, &mut owned, TensorValue::I32),
                TensorValue::I64(a) => ptr(a, &mut owned, TensorValue::I64),
                TensorValue::Bool(a) => ptr(a, &mut owned, TensorValue::Bool),
                TensorValue::U8(a) => ptr(a, &mut owned, TensorValue::U8),
                TensorValue::I8(a) => ptr(a, &mut owned, TensorValue::I8),
                TensorValue::U16(a) => ptr(a, &mut owned, TensorValue::U16),
                TensorValue::I16(a) => ptr(a, &mut owned, TensorValue::I16),
                other => {
                    // f64 feeds only ops on the interpreter
                    self.set_host_feed(k, (*other).clone());
                    (std::ptr::null(), 0)
                }
            });
        }
        // SAFETY: each pointer addresses its count of elements of its parameter's dtype,
        // borrowed from `feeds` or `owned` (moving an array does not move its data), both
        // alive until the run returns.
        unsafe { self.run_raw(&raw, vars) }
    }

    /// Runs the current binding with feeds given as (pointer, element count) in params
    /// order, after [`Executable::prepare`]. Allocates nothing once every variable is
    /// initialized.
    ///
    /// # Safety
    /// Each non-null pointer must address that many initialized elements of its
    /// parameter's dtype (a bool as one byte), valid and unwritten until the call returns.
    pub(crate) unsafe fn run_raw(
        &mut self,
        feeds: &[(*const u8, usize)],
        vars: &mut [Option<TensorValue>],
    ) -> Result<(), RunError> {
        let flush = self.flush_denormals;
        let bound = self.bindings.get_mut(self.current).ok_or("run before any binding")?;
        let arena = self.arena.as_mut_ptr().cast::<f32>();
        if bound.arena_at != arena {
            bound.place(&self.plan.places, &self.consts, arena);
        }
        // variables may have moved since the last run
        for (v, bufs) in &self.plan.var_bufs {
            let len = bound.sizes[bufs[0].index()];
            // kernels read (and in-place updates write) `len` elements here
            let Some(p) = vars.get_mut(v.index()).and_then(|x| x.as_mut()).and_then(|x| var_words(x, len)) else {
                let ty = &self.schedule.module.var(*v).ty;
                return Err(format!("variable {} is not an initialized {ty} value", v.index()).into());
            };
            for &i in bufs {
                bound.bases[i.index()] = p;
            }
        }
        for &(i, p) in &self.feed_params {
            let place = self.plan.places[i];
            if let Place::Slot(_) | Place::Feed = place {
                let (src, len) = feeds.get(p).copied().unwrap_or((std::ptr::null(), 0));
                if src.is_null() || len != bound.sizes[i] {
                    let name = &self.schedule.module.op(self.schedule.buffers[i].value).name;
                    return Err(format!("feed for %{name} has {len} elements, expected {}", bound.sizes[i]).into());
                }
                if let Place::Feed = place {
                    // kernels only read it (a feed is never a kernel's output), and only
                    // during this run, while the caller's borrow holds
                    bound.bases[i] = src.cast_mut().cast();
                } else {
                    // SAFETY: the caller's data holds `len` elements (checked above), the
                    // slot was sized for exactly that many at bind time.
                    unsafe { crate::words::copy_feed(self.schedule.buffers[i].dtype, src, bound.bases[i], len) };
                }
            }
        }
        if bound.patched_for != bound.bases {
            for &(k, slot, buf, off) in &bound.patches {
                // SAFETY: `off` is an element offset inside buffer `buf` (from its bound
                // shape), so the address stays inside the buffer.
                bound.args[k][slot] = unsafe { bound.bases[buf].add(off) } as i64;
            }
            bound.patched_for.clone_from(&bound.bases);
        }
        for pi in 0..bound.plan.len() {
            match bound.plan[pi] {
                RunOp::Host(ki) => {
                    let Step::Host(h) = &self.schedule.steps[ki] else { continue };
                    if matches!(self.schedule.module.op(h.value).kind, kiln_ir::OpKind::Random { .. }) {
                        bound.bindings.draws = self.draws.clone();
                    }
                    run_host_step(&self.schedule.module, h.value, &self.buf_index, &self.plan.places, bound, vars)?;
                }
                RunOp::Call(ki) => {
                    // SAFETY: the argument block holds pointers and extents bound from
                    // verified shapes; every address the kernel forms lies in a buffer.
                    // The kernel writes only its error slots in the block.
                    unsafe { crate::denormals::call(self.kernels[ki].func, bound.args[ki].as_mut_ptr(), flush) };
                    let call = &self.abi.calls[ki];
                    for (tag_at, index_at) in call.error_slots() {
                        let args = &mut bound.args[ki];
                        if args[tag_at] != 0 {
                            // cleared for the next run
                            let (tag, bad) = (std::mem::take(&mut args[tag_at]), args[index_at]);
                            return Err(RunError::Eval(index_error(&self.schedule, ki, call, args, tag, bad)));
                        }
                    }
                }
                RunOp::Split(ki) => {
                    let (k, args) = (&self.kernels[ki], &mut bound.args[ki]);
                    // SAFETY: as for `Call`; a split restricts the block to disjoint rows.
                    if !unsafe { crate::calls::run_split(k, &self.abi.calls[ki], args, self.threads, flush) } {
                        // SAFETY: as for `Call`
                        unsafe { crate::denormals::call(k.func, args.as_mut_ptr(), flush) };
                    }
                }
                RunOp::Batched(ki, mi) => {
                    let mm = &bound.matmuls[mi];
                    let (a, b, c) = (bound.bases[mm.a.0], bound.bases[mm.b.0], bound.bases[mm.c]);
                    let args = &mut bound.args[ki];
                    let g = self.abi.calls[ki].gemm.ok_or("a GEMM call without its block")?;
                    for &(oa, ob, oc) in &mm.batches {
                        // SAFETY: offsets, extents and strides come from the bound
                        // shapes, so the micro-kernel stays inside a, b and c.
                        unsafe {
                            args[g.a] = a.add(mm.a.1 + oa) as i64;
                            args[g.b] = b.add(mm.b.1 + ob) as i64;
                            args[g.c] = c.add(oc) as i64;
                            crate::denormals::call(self.kernels[ki].func, args.as_mut_ptr(), flush);
                        }
                    }
                }
                RunOp::Library(mi) => {
                    let mm = &bound.matmuls[mi];
                    let (a, b, c) = (bound.bases[mm.a.0], bound.bases[mm.b.0], bound.bases[mm.c]);
                    // SAFETY: the bases are the bound buffers of this GEMM.
                    unsafe { crate::calls::library_gemm(mm, a, b, c, self.threads) };
                }
            }
        }
        for &(b, slot) in &self.plan.snapshots {
            let i = b.index();
            // SAFETY: the snapshot slot was sized for this buffer at bind time.
            unsafe {
                std::ptr::copy_nonoverlapping(bound.bases[i], arena.add(bound.offsets[slot.index()]), bound.words[i])
            };
        }
        // variable writes land at the end of the run, in op order
        for &(var, i) in &self.assign_bufs {
            if self.plan.places[i] == Place::Var(var) {
                // computed in the variable's storage, checked above
                continue;
            }
            let n = bound.sizes[i];
            let from = bound.bases[i];
            let slot = vars.get_mut(var.index()).ok_or("assign to an unknown variable")?;
            if let Place::Host = self.plan.places[i] {
                *slot = bound.host_vals[i].clone();
                continue;
            }
            let ty = &self.schedule.module.var(var).ty;
            if ty.dtype == kiln_ir::DType::Bool || ty.dtype.is_narrow_int() {
                // bool and narrow variables hold 1 or 2 bytes per element: read out of
                // the slot's words
                let shape = ty.shape.as_fixed().unwrap_or_default();
                // SAFETY: the slot holds n bools as 32-bit words.
                *slot = Some(unsafe { crate::words::read(ty.dtype, from, n, &shape) }?);
                continue;
            }
            if slot.as_mut().and_then(|x| var_words(x, n)).is_none() {
                // first initialization: the only allocation a run can make
                *slot = Some(TensorValue::zeros(ty.dtype, &ty.shape.as_fixed().unwrap_or_default()));
            }
            if let Some(to) = slot.as_mut().and_then(|x| var_words(x, n)) {
                if to != from {
                    // SAFETY: both hold n elements of the variable's dtype, `words[i]`
                    // words (the verifier matched the types).
                    unsafe { std::ptr::copy(from, to, bound.words[i]) };
                }
            }
        }
        Ok(())
    }

    /// The data of a computed value after the last run (roots and assign sources).
    pub fn value<'a>(&'a self, v: ValueId, vars: &'a [Option<TensorValue>]) -> Option<&'a [f32]> {
        let i = *self.buf_index.get(&v)?;
        let bound = self.bindings.get(self.current)?;
        if self.schedule.buffers[i].dtype != kiln_ir::DType::F32 {
            return None;
        }
        let n = bound.sizes[i];
        let slot = |k: usize| self.words().get(bound.offsets[k]..bound.offsets[k] + n);
        if let Some(&(_, k)) = self.plan.snapshots.iter().find(|x| x.0.index() == i) {
            return slot(k.index());
        }
        match self.plan.places[i] {
            Place::Slot(k) => slot(k.index()),
            Place::Const(c) => self.consts[c].get(..n),
            Place::Var(var) => match vars.get(var.index())? {
                Some(TensorValue::F32(a)) => a.as_slice(),
                _ => None,
            },
            Place::Feed | Place::Host => None,
        }
    }

    /// Feeds parameter `k` (params order) of the current binding as a value: other
    /// dtypes than f32 feed ops on the interpreter.
    pub(crate) fn set_host_feed(&mut self, k: usize, value: TensorValue) {
        let Some(&i) = self.params.get(k).and_then(|p| self.buf_index.get(p)) else { return };
        if let Some(b) = self.bindings.get_mut(self.current) {
            b.host_vals[i] = Some(value);
        }
    }

    /// The shape of root `i` (fetch order) under the current binding.
    pub fn root_shape(&self, i: usize) -> Option<Vec<usize>> {
        let ty = self.schedule.module.ty(*self.schedule.roots.get(i)?)?;
        self.bindings.get(self.current)?.bindings.shape(&ty.shape)
    }

    /// The arena as words.
    fn words(&self) -> &[f32] {
        // SAFETY: a chunk is 16 f32s with no padding (repr(C)), so the chunks are
        // `16 * len` consecutive initialized f32s.
        unsafe { std::slice::from_raw_parts(self.arena.as_ptr().cast::<f32>(), self.arena.len() * 16) }
    }

    /// A computed value of any dtype after the last run (roots and assign sources),
    /// copied out with its bound shape.
    pub fn value_of(&self, v: ValueId, vars: &[Option<TensorValue>]) -> Option<TensorValue> {
        let i = *self.buf_index.get(&v)?;
        if let Some(h) = self.host_value(v) {
            return Some(h.clone());
        }
        let bound = self.bindings.get(self.current)?;
        let ty = self.schedule.module.ty(v)?;
        let shape = bound.bindings.shape(&ty.shape)?;
        if ty.dtype == kiln_ir::DType::F32 {
            let data = self.value(v, vars)?;
            return Some(TensorValue::F32(ndarray::ArrayD::from_shape_vec(shape, data.to_vec()).ok()?));
        }
        let snapshot = self.plan.snapshots.iter().find(|x| x.0.index() == i).map(|x| x.1);
        let words = match (snapshot, self.plan.places[i]) {
            (Some(k), _) | (None, Place::Slot(k)) => {
                self.words().get(bound.offsets[k.index()]..bound.offsets[k.index()] + bound.words[i])?
            }
            // an int or bool variable read in place: its value after the run's writes
            (None, Place::Var(var)) => return vars.get(var.index())?.clone(),
            (None, Place::Const(c)) => self.consts[c].get(..bound.words[i])?,
            (None, Place::Feed | Place::Host) => return None,
        };
        crate::words::decode(ty.dtype, words, bound.sizes[i], &shape).ok()
    }

    /// A non-f32 value computed on the interpreter during the last run.
    pub fn host_value(&self, v: ValueId) -> Option<&TensorValue> {
        let i = *self.buf_index.get(&v)?;
        self.bindings.get(self.current)?.host_vals.get(i)?.as_ref()
    }
}

/// The storage of a variable value of `len` elements as arena words, if it is f32,
/// i32 or i64 in row-major layout (what kernels read and write in place).
fn var_words(v: &mut TensorValue, len: usize) -> Option<*mut f32> {
    match v {
        TensorValue::F32(a) if a.len() == len && a.is_standard_layout() => Some(a.as_mut_ptr()),
        TensorValue::I32(a) if a.len() == len && a.is_standard_layout() => Some(a.as_mut_ptr().cast()),
        TensorValue::I64(a) if a.len() == len && a.is_standard_layout() => Some(a.as_mut_ptr().cast()),
        _ => None,
    }
}

/// The error a kernel reported with `tag` (its call names the site) and index `bad`,
/// worded as the interpreter words it.
fn index_error(
    s: &Schedule,
    ki: usize,
    call: &kiln_passes::abi::CallAbi,
    args: &[i64],
    tag: i64,
    bad: i64,
) -> crate::interp::EvalError {
    use kiln_passes::abi::ErrorSite;
    // the kernel's op of that kind (a kernel rarely holds two)
    let op_of = |want: fn(&kiln_ir::OpKind) -> bool| {
        let v = s.step_ops(ki).into_iter().find(|&v| want(&s.module.op(v).kind));
        v.map_or_else(String::new, |v| s.module.op(v).name.clone())
    };
    let rows = |nest: u32, site: u32| {
        call.nests.get(nest as usize).and_then(|l| l.sites.get(site as usize)).map(|&(_, rows_at)| args[rows_at])
    };
    match call.site(tag) {
        Some(ErrorSite::CheckIndex { bound, .. }) => crate::interp::EvalError {
            op: op_of(|k| matches!(k, kiln_ir::OpKind::CheckIndex { .. })),
            message: format!("label {bad} is outside the valid range [0, {bound})"),
        },
        Some(ErrorSite::Gather { nest, site, .. }) => crate::interp::EvalError {
            op: op_of(|k| matches!(k, kiln_ir::OpKind::Gather)),
            message: format!("index {bad} is out of range for {} rows", rows(nest, site).unwrap_or(0)),
        },
        Some(ErrorSite::Scatter { nest, site, .. }) => crate::interp::EvalError {
            op: op_of(|k| matches!(k, kiln_ir::OpKind::ScatterAdd)),
            message: format!("index {bad} is out of range for {} rows", rows(nest, site).unwrap_or(0)),
        },
        None => crate::interp::EvalError {
            op: s.step_name(ki),
            message: format!("the kernel reported an unknown error tag {tag} (a kiln bug)"),
        },
    }
}

/// Runs one op on the interpreter: its operands read from their buffers (or host
/// values), its result written back.
fn run_host_step(
    m: &Module,
    v: ValueId,
    buf_index: &HashMap<ValueId, usize>,
    places: &[Place],
    bound: &mut Bound,
    vars: &[Option<TensorValue>],
) -> Result<(), RunError> {
    let mut owned = Vec::new();
    for &u in &m.op(v).operands {
        let Some(&iu) = buf_index.get(&u) else {
            owned.push(TensorValue::Unit);
            continue;
        };
        owned.push(match places[iu] {
            Place::Host => bound.host_vals[iu].clone().ok_or("a host value is missing")?,
            _ => {
                let t = m.ty(u).ok_or("operand without a type")?;
                let shape = bound.bindings.shape(&t.shape).ok_or("unbound operand shape")?;
                // SAFETY: the buffer holds `sizes[iu]` elements of its dtype.
                unsafe { crate::words::read(t.dtype, bound.bases[iu], bound.sizes[iu], &shape) }?
            }
        });
    }
    let refs: Vec<&TensorValue> = owned.iter().collect();
    let out = crate::interp::eval_op(m, v, &refs, vars, &bound.bindings).map_err(RunError::Eval)?;
    if let Some(&i) = buf_index.get(&v) {
        match places[i] {
            Place::Host => bound.host_vals[i] = Some(out),
            // SAFETY: the slot holds sizes[i] elements of the op's dtype and shape.
            _ => unsafe { crate::words::write(&out, bound.bases[i], bound.sizes[i]) }?,
        }
    }
    Ok(())
}

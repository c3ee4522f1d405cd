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

use crate::schedule::dtypes;
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

    fn class(&self, v: ValueId) -> Class {
        if self.host.contains_key(&v) {
            return Class::Host;
        }
        match self.m.op(v).kind {
            OpKind::Parameter | OpKind::Read(_) | OpKind::Constant(_) => Class::Base,
            OpKind::Broadcast { .. }
            | OpKind::Transpose { .. }
            | OpKind::Slice { .. }
            | OpKind::Reshape
            | OpKind::StopGradient => Class::View,
            OpKind::Unary(_)
            | OpKind::Binary(_)
            | OpKind::Compare(_)
            | OpKind::Select
            | OpKind::Convert
            | OpKind::Iota { .. }
            | OpKind::Gather
            | OpKind::CheckIndex { .. } => Class::Elementwise,
            OpKind::Reduce { .. } | OpKind::ScatterAdd => Class::Reduce,
            OpKind::MatMul => Class::MatMul,
            OpKind::DimSize { .. } => Class::Scalar,
            OpKind::Assign(_) | OpKind::Group => Class::Sink,
            // never compiled: check_supported sends them to the interpreter
            OpKind::Random { .. } | OpKind::Concat { .. } | OpKind::ArgMax { .. } | OpKind::Cumsum { .. } => {
                Class::Host
            }
        }
    }

    fn check_supported(&self, v: ValueId) -> Result<(), PassError> {
        let op = self.m.op(v);
        let name = &op.name;
        let not_yet = |what: String| Err(fail(name, format!("{what} is not compiled yet")));
        match op.kind {
            OpKind::Assign(_) | OpKind::Group => return Ok(()),
            OpKind::Random { .. } | OpKind::Concat { .. } | OpKind::ArgMax { .. } | OpKind::Cumsum { .. } => {
                return not_yet(op.kind.mnemonic().to_string());
            }
            // every other op is compiled, subject to its dtypes (below)
            OpKind::Parameter
            | OpKind::Constant(_)
            | OpKind::Read(_)
            | OpKind::Unary(_)
            | OpKind::Binary(_)
            | OpKind::Compare(_)
            | OpKind::Select
            | OpKind::Broadcast { .. }
            | OpKind::Reshape
            | OpKind::Transpose { .. }
            | OpKind::Slice { .. }
            | OpKind::Reduce { .. }
            | OpKind::MatMul
            | OpKind::Convert
            | OpKind::StopGradient
            | OpKind::DimSize { .. }
            | OpKind::Iota { .. }
            | OpKind::Gather
            | OpKind::ScatterAdd
            | OpKind::CheckIndex { .. } => {}
        }
        let Some(t) = &op.ty else { return Ok(()) };
        let dt = |u: ValueId| self.m.ty(u).map_or(DType::F32, |t| t.dtype);
        let int = |d: DType| matches!(d, DType::I32 | DType::I64);
        // what kernels compute for each dtype is one table (`schedule::dtypes`)
        if !dtypes::holds(t.dtype) || op.operands.iter().any(|&u| !dtypes::holds(dt(u))) {
            return not_yet("f64".into());
        }
        if matches!(op.kind, OpKind::Read(_)) && t.dtype == DType::Bool {
            return not_yet("a bool variable".into());
        }
        let on = || format!("{} on {}", op.kind.mnemonic(), t.dtype);
        match &op.kind {
            OpKind::Unary(u) if !dtypes::unary(*u, t.dtype) => return not_yet(on()),
            OpKind::Binary(b) if !dtypes::binary(*b, t.dtype) => return not_yet(on()),
            OpKind::Reduce { op: r, .. } if !dtypes::reduce(*r, t.dtype) => return not_yet(on()),
            OpKind::Compare(c) if !dtypes::compare(*c, dt(op.operands[0])) => {
                return not_yet(format!("a comparison of {}", dt(op.operands[0])))
            }
            OpKind::ScatterAdd if t.dtype == DType::Bool => return not_yet("scatter_add of bool".into()),
            OpKind::Gather | OpKind::CheckIndex { .. } | OpKind::ScatterAdd => {
                let idx = if let OpKind::Gather = op.kind { op.operands[1] } else { op.operands[0] };
                if !int(dt(idx)) {
                    return not_yet("gather by non-integer indices".into());
                }
            }
            // a kernel's scalar arguments are f32: an integer size runs as a host step
            OpKind::DimSize { .. } if t.dtype != DType::F32 => return not_yet(on()),
            OpKind::MatMul if t.dtype != DType::F32 => return not_yet(format!("matmul on {}", t.dtype)),
            OpKind::MatMul if t.shape.rank() < 2 => return Err(fail(name, "matmul needs rank >= 2".into())),
            _ => {}
        }
        Ok(())
    }

    fn shape(&self, v: ValueId) -> Shape {
        self.m.ty(v).map(|t| self.classes.canon_shape(&t.shape)).unwrap_or_default()
    }

    fn refuse(&mut self, value: ValueId, why: Why) {
        self.refusals.push(Refusal { value, why });
    }

    fn find(&mut self, k: usize) -> usize {
        let mut k = k;
        while self.parent[k] != k {
            self.parent[k] = self.parent[self.parent[k]];
            k = self.parent[k];
        }
        k
    }

    /// A kernel for one op.
    fn new_kernel(&mut self, space: Shape) -> usize {
        self.parent.push(self.parent.len());
        self.spaces.push(space);
        self.sizes.push(1);
        self.member_list.push(Vec::new());
        self.span.push((u32::MAX, 0));
        self.parent.len() - 1
    }

    /// Places `v` in kernel `k`.
    fn assign(&mut self, v: ValueId, k: usize) {
        self.kernel_of.insert(v, k);
        let r = self.find(k);
        self.member_list[r].push(v);
        let (lo, hi) = self.span[r];
        self.span[r] = (lo.min(v.0), hi.max(v.0));
    }

    /// Merges kernel `from` into kernel `into` (both roots).
    fn union(&mut self, into: usize, from: usize) {
        self.parent[from] = into;
        self.sizes[into] += self.sizes[from];
        let moved = std::mem::take(&mut self.member_list[from]);
        self.member_list[into].extend(moved);
        let ((a, b), (c, d)) = (self.span[into], self.span[from]);
        self.span[into] = (a.min(c), b.max(d));
    }

    /// The root of kernel `k`, without path compression (for walks that borrow `self`).
    fn root(&self, k: usize) -> usize {
        let mut k = k;
        while self.parent[k] != k {
            k = self.parent[k];
        }
        k
    }

    /// Does kernel `k` depend on a value `hit` accepts (none of which lies below value
    /// index `floor`)? A kernel runs as a unit, so reaching any member of another
    /// kernel makes `k` depend on everything that kernel reads: merged siblings
    /// included, which a walk over values alone misses. Values below `floor` are not
    /// walked (they cannot reach a hit); past [`REACH_BUDGET`] values the answer is a
    /// conservative yes, so one question never costs more than the budget.
    fn kernel_reaches(&self, k: usize, floor: u32, hit: &dyn Fn(ValueId) -> bool) -> bool {
        let own = self.root(k);
        let mut expanded: HashSet<usize> = HashSet::default();
        expanded.insert(own);
        let mut seen: HashSet<ValueId> = HashSet::default();
        let mut stack: Vec<ValueId> = Vec::new();
        let push = |stack: &mut Vec<ValueId>, w: ValueId| {
            stack.extend(self.m.op(w).operands.iter().copied().filter(|u| u.0 >= floor));
        };
        for &w in &self.member_list[own] {
            push(&mut stack, w);
        }
        while let Some(u) = stack.pop() {
            if hit(u) {
                return true;
            }
            if !seen.insert(u) {
                continue;
            }
            if seen.len() > REACH_BUDGET {
                return true;
            }
            if let Some(&kk) = self.kernel_of.get(&u) {
                let r = self.root(kk);
                if expanded.insert(r) {
                    for &w in &self.member_list[r] {
                        if hit(w) {
                            return true;
                        }
                        push(&mut stack, w);
                    }
                }
            }
            push(&mut stack, u);
        }
        false
    }

    /// Does anything kernel `k` computes depend on value `c`?
    fn kernel_depends_on(&mut self, k: usize, c: ValueId) -> bool {
        let r = self.find(k);
        // every member comes before `c`: nothing in `k` can read it
        if self.span[r].1 < c.0 {
            return false;
        }
        self.kernel_reaches(r, c.0, &|u| u == c)
    }

    /// Assigns every elementwise and reduce op to a kernel, consumers first.
    fn group(&mut self) {
        let live: Vec<ValueId> = self.m.values().filter(|v| self.live[v.index()]).collect();
        for &v in live.iter().rev() {
            match self.class(v) {
                Class::Reduce => {
                    // a reduction iterates its input; a scatter-add its updates
                    let op = self.m.op(v);
                    let x = if let OpKind::ScatterAdd = op.kind { op.operands[1] } else { op.operands[0] };
                    let space = self.shape(x);
                    let k = self.new_kernel(space);
                    self.assign(v, k);
                }
                Class::Elementwise => self.place_elementwise(v),
                _ => {}
            }
        }
    }

    fn place_elementwise(&mut self, v: ValueId) {
        let space = self.shape(v);
        // a comparison stays with its select even so: masks are never stored
        if !self.fuse && !matches!(self.m.op(v).kind, OpKind::Compare(_)) {
            self.refuse(v, Why::FusionOff);
            let k = self.new_kernel(space);
            self.assign(v, k);
            self.force.insert(v);
            return;
        }
        let mut fused_consumers = Vec::new();
        let mut outside = Vec::new();
        for c in self.consumers[v.index()].clone() {
            match (self.class(c), self.kernel_of.get(&c).copied()) {
                (Class::Elementwise | Class::Reduce, Some(k)) => fused_consumers.push(self.find(k)),
                _ => outside.push(c),
            }
        }
        if self.roots.contains(&v) {
            self.force.insert(v);
        }
        for &c in &outside {
            self.force.insert(v);
            let by = match self.class(c) {
                Class::MatMul => Outside::MatMul,
                Class::View => Outside::View,
                Class::Sink => Outside::Assign,
                _ => Outside::Other,
            };
            self.refuse(v, Why::ReadOutside { consumer: c, by });
        }
        fused_consumers.sort();
        fused_consumers.dedup();
        let same_space: Vec<usize> = fused_consumers.iter().copied().filter(|&k| self.spaces[k] == space).collect();
        if same_space.len() < fused_consumers.len() {
            self.force.insert(v);
            self.refuse(v, Why::OtherSpace);
        }
        // consumer kernels that depend on no other consumer of v (nor on anything outside
        // the kernels that reads v) can all take v; merging them cannot close a cycle
        let mut candidates = Vec::new();
        for &k in &same_space {
            let free = same_space.iter().filter(|&&o| o != k).all(|&o| !self.kernel_depends_on_kernel(k, o))
                && outside.iter().all(|&c| !self.kernel_depends_on(k, c));
            if free {
                candidates.push(k);
            }
        }
        // a full kernel takes no more ops: compile time grows faster than linearly in a
        // function's size, and storing one value between two kernels costs a pass
        let before = candidates.len();
        candidates.retain(|&k| {
            let r = self.find(k);
            self.sizes[r] < MAX_KERNEL_OPS
        });
        if candidates.len() < before {
            self.refuse(v, Why::KernelFull);
        }
        if let Some(&t) = candidates.first() {
            for &k in &candidates[1..] {
                let t_root = self.find(t);
                let k_root = self.find(k);
                if t_root != k_root {
                    self.union(t_root, k_root);
                }
            }
            let t_root = self.find(t);
            self.sizes[t_root] += 1;
            if candidates.len() < same_space.len() {
                self.force.insert(v);
                self.refuse(v, Why::ConsumersDepend);
            }
            let t = self.find(t);
            self.assign(v, t);
        } else {
            if !same_space.is_empty() {
                self.refuse(v, Why::Cycle);
            }
            let k = self.new_kernel(space);
            self.assign(v, k);
            self.force.insert(v);
        }
    }

    fn kernel_depends_on_kernel(&mut self, a: usize, b: usize) -> bool {
        let (a, b) = (self.find(a), self.find(b));
        // `a` can only read `b`'s values if some member of `a` comes after one of `b`'s
        if a == b || self.span[a].1 < self.span[b].0 {
            return false;
        }
        let in_b = |u: ValueId| self.kernel_of.get(&u).is_some_and(|&k| self.root(k) == b);
        self.kernel_reaches(a, self.span[b].0, &in_b)
    }

    /// The scalar value of a one-element constant, seen through views.
    fn scalar_const(&self, v: ValueId) -> Option<f32> {
        match &self.m.op(self.through_views(v)).kind {
            OpKind::Constant(Literal::F32(d)) if d.len() == 1 => Some(d[0]),
            _ => None,
        }
    }

    /// The first value under `v` that is not a shape-only view (broadcast, reshape,
    /// transpose, stop_gradient).
    fn through_views(&self, v: ValueId) -> ValueId {
        let mut u = v;
        while let OpKind::Broadcast { .. } | OpKind::Reshape | OpKind::StopGradient | OpKind::Transpose { .. } =
            self.m.op(u).kind
        {
            u = self.m.op(u).operands[0];
        }
        u
    }

    /// The dims whose product a `dim_size` computes, seen through views.
    fn dim_size(&self, v: ValueId) -> Option<Vec<Dim>> {
        let mut op = self.m.op(v);
        while let OpKind::Broadcast { .. } | OpKind::Reshape | OpKind::StopGradient = op.kind {
            op = self.m.op(op.operands[0]);
        }
        match &op.kind {
            // kernels take f32 scalar arguments; an integer size is a buffer
            OpKind::DimSize { axes } if op.ty.as_ref().is_some_and(|t| t.dtype == DType::F32) => {
                let xs = self.shape(op.operands[0]);
                Some(axes.iter().map(|&a| xs.0[a].clone()).collect())
            }
            _ => None,
        }
    }

    fn is_materialized(&self, v: ValueId) -> bool {
        if self.copied.contains(&v) {
            return true;
        }
        match self.class(v) {
            Class::Base | Class::MatMul | Class::Reduce | Class::Host => true,
            Class::Elementwise => self.force.contains(&v),
            _ => false,
        }
    }

    /// How to read `v` over its own shape: through views down to a materialized buffer
    /// (walked as a loop: a chain of views of any length needs no stack depth).
    fn access(&self, v: ValueId) -> Option<Access> {
        let mut chain = Vec::new();
        let mut u = v;
        while !self.is_materialized(u) {
            chain.push(u);
            u = *self.m.op(u).operands.first()?;
        }
        let mut a = Access { buf: u, offset: vec![], strides: contiguous(&self.shape(u)) };
        for &w in chain.iter().rev() {
            a = self.view(w, a)?;
        }
        Some(a)
    }

    /// The access of view `v` given the access `a` of its operand.
    fn view(&self, v: ValueId, a: Access) -> Option<Access> {
        let op = self.m.op(v);
        let x = *op.operands.first()?;
        let xs = self.shape(x);
        let out = self.shape(v);
        Some(match &op.kind {
            OpKind::StopGradient => a,
            OpKind::Broadcast { dims } => {
                let mut strides = vec![Stride::Zero; out.rank()];
                for (i, &r) in dims.iter().enumerate() {
                    let expanded = xs.0[i] == Dim::Fixed(1) && out.0[r] != Dim::Fixed(1);
                    strides[r] = if expanded { Stride::Zero } else { a.strides[i].clone() };
                }
                Access { buf: a.buf, offset: a.offset, strides }
            }
            OpKind::Transpose { perm } => {
                Access { buf: a.buf, offset: a.offset, strides: perm.iter().map(|&p| a.strides[p].clone()).collect() }
            }
            OpKind::Slice { begin } => {
                let mut offset = a.offset.clone();
                for (d, &b) in begin.iter().enumerate() {
                    match &a.strides[d] {
                        Stride::Prod(dims) if b > 0 => offset.push((b, dims.clone())),
                        _ => {}
                    }
                }
                Access { buf: a.buf, offset, strides: a.strides }
            }
            OpKind::Reshape => {
                // a reshape is free only over row-major data
                let size_one = |d: usize| xs.0[d] == Dim::Fixed(1);
                let contiguous_x = contiguous(&xs);
                let ok = (0..xs.rank()).all(|d| size_one(d) || a.strides[d] == contiguous_x[d]);
                if !ok {
                    return None;
                }
                Access { buf: a.buf, offset: a.offset, strides: contiguous(&out) }
            }
            _ => return None,
        })
    }

    fn build(mut self) -> Result<Schedule, PassError> {
        self.group();
        // values read through views or by matmuls must exist in memory
        let live: Vec<ValueId> = self.m.values().filter(|v| self.live[v.index()]).collect();
        let mut assigns = Vec::new();
        for &v in &live {
            if let OpKind::Assign(var) = self.m.op(v).kind {
                assigns.push((var, self.m.op(v).operands[0]));
            }
        }
        // a reshape reads row-major data: a strided view under it is copied first
        for &v in &live {
            if let OpKind::Reshape = self.m.op(v).kind {
                let x = self.m.op(v).operands[0];
                let contiguous_x = contiguous(&self.shape(x));
                let xs = self.shape(x);
                let ok = self.access(x).is_some_and(|a| {
                    a.offset.is_empty()
                        && (0..xs.rank()).all(|d| xs.0[d] == Dim::Fixed(1) || a.strides[d] == contiguous_x[d])
                });
                if !ok && self.class(x) == Class::View {
                    self.copied.insert(x);
                    self.refuse(x, Why::CopiedForReshape);
                }
            }
        }
        // the interpreter reads whole buffers: views it needs are copied out first
        for (&v, _) in self.host.iter() {
            for &u in &self.m.op(v).operands {
                if self.class(u) == Class::View && !self.copied.contains(&u) {
                    self.copied.insert(u);
                    self.refusals.push(Refusal { value: u, why: Why::CopiedForInterpreter });
                }
            }
        }
        // a GEMM wants B's rows contiguous: a transposed B (other than a vector) is copied
        for &v in &live {
            if self.class(v) != Class::MatMul {
                continue;
            }
            let (a, b) = (self.m.op(v).operands[0], self.m.op(v).operands[1]);
            let s = self.shape(v);
            let r = s.rank();
            let unit = |acc: &Option<Access>, d: usize| acc.as_ref().is_some_and(|x| x.strides[d].known() == Some(1));
            let (aa, ba) = (self.access(a), self.access(b));
            let swappable = s.0[r - 1] == Dim::Fixed(1) && r == 2 && unit(&aa, r - 2);
            if self.class(b) == Class::View && !unit(&ba, r - 1) && !swappable && s.0[r - 1] != Dim::Fixed(1) {
                self.copied.insert(b);
                self.refuse(b, Why::CopiedForMatMul);
            }
        }
        // roots and assign sources that are views need a copy kernel
        let mut copies: Vec<ValueId> = self.copied.iter().copied().collect();
        copies.sort();
        for &v in self.roots.iter().chain(assigns.iter().map(|(_, s)| s)) {
            if self.class(v) == Class::View && !copies.contains(&v) {
                copies.push(v);
                self.refusals.push(Refusal { value: v, why: Why::CopiedToStore });
            }
        }
        let mut steps: Vec<(usize, Step)> = Vec::new(); // (order key, step)
                                                        // every kernel's members at once: one pass over the placed values
        let placed: Vec<(ValueId, usize)> = self.kernel_of.iter().map(|(v, k)| (*v, *k)).collect();
        let mut by_kernel: std::collections::BTreeMap<usize, Vec<ValueId>> = std::collections::BTreeMap::new();
        for (v, k) in placed {
            let root = self.find(k);
            by_kernel.entry(root).or_default().push(v);
        }
        for (k, mut members) in by_kernel {
            members.sort();
            let nest = self.nest(k, &members)?;
            let key = members.iter().map(|v| v.index()).max().unwrap_or(0);
            let provenance = members.iter().map(|&v| Origin::Op(v)).collect();
            let epilogue_of = self.epilogue_target(k, &members);
            let kernel = LoopKernel { name: String::new(), nests: vec![nest], provenance, epilogue_of };
            steps.push((key, Step::Loop(kernel)));
        }
        for &v in &copies {
            let nest = self.copy_nest(v)?;
            let provenance = vec![Origin::Copy(v)];
            let kernel = LoopKernel { name: String::new(), nests: vec![nest], provenance, epilogue_of: None };
            steps.push((v.index(), Step::Loop(kernel)));
        }
        for &v in &live {
            if let Some(reason) = self.host.get(&v) {
                steps.push((v.index(), Step::Host(HostStep { value: v, reason: reason.clone() })));
                self.refusals.push(Refusal { value: v, why: Why::OnInterpreter(reason.clone()) });
            }
        }
        for &v in &live {
            if self.class(v) != Class::MatMul {
                continue;
            }
            let op = self.m.op(v);
            let (a, b) = (op.operands[0], op.operands[1]);
            let acc = |x: ValueId| self.access(x).ok_or_else(|| fail(&op.name, "operand is not addressable".into()));
            let (aa, ba) = (acc(a)?, acc(b)?);
            let s = self.shape(v);
            let r = s.rank();
            let k = self.shape(a).0[r - 1].clone();
            let mut step = MatMulStep {
                out: v,
                a: aa.clone(),
                b: ba.clone(),
                batch: s.0[..r - 2].to_vec(),
                m: s.0[r - 2].clone(),
                k,
                n: s.0[r - 1].clone(),
                epilogue: None,
            };
            // c = a x b with one column: compute c^T = b^T x a^T (the same memory), which
            // vectorizes over a's rows when a is a transposed contiguous matrix
            if r == 2 && step.n == Dim::Fixed(1) && aa.strides[0].known() == Some(1) && aa.strides[1].known() != Some(1)
            {
                let t = |x: &Access| Access {
                    buf: x.buf,
                    offset: x.offset.clone(),
                    strides: vec![x.strides[1].clone(), x.strides[0].clone()],
                };
                step = MatMulStep { a: t(&ba), b: t(&aa), m: Dim::Fixed(1), n: step.m.clone(), ..step };
            }
            steps.push((v.index(), Step::MatMul(step)));
        }
        // attach each epilogue to its matmul (kept unswapped, so rows are rows)
        let targets: Vec<(usize, ValueId)> = steps
            .iter()
            .enumerate()
            .filter_map(|(i, s)| if let Step::Loop(k) = &s.1 { k.epilogue_of.map(|v| (i, v)) } else { None })
            .collect();
        for (ki, v) in targets {
            let nest = self.epilogues.remove(&v);
            let j = steps.iter().position(|s| matches!(&s.1, Step::MatMul(mm) if mm.out == v));
            let shape = self.shape(v);
            match (nest, j) {
                (Some(nest), Some(j)) if matches!(&steps[j].1, Step::MatMul(mm) if mm.m == shape.0[0] && mm.batch.is_empty()) =>
                {
                    let acc_input = nest.inputs.iter().position(|a| a.buf == v).unwrap_or(0);
                    // the product itself is stored only if something besides the
                    // epilogue reads it
                    let store_out = self.roots.contains(&v)
                        || assigns.iter().any(|&(_, src)| src == v)
                        || steps
                            .iter()
                            .enumerate()
                            .any(|(x, st)| x != ki && x != j && st.1.reads(self.m).any(|r| r == v));
                    if let Step::MatMul(mm) = &mut steps[j].1 {
                        mm.epilogue = Some(Box::new(Epilogue { nest, acc_input, store_out }));
                    }
                }
                _ => {
                    self.refuse(v, Why::NotEpilogue(NotEpilogue::Shape));
                    if let Step::Loop(k) = &mut steps[ki].1 {
                        k.epilogue_of = None;
                    }
                }
            }
        }
        let steps = order_and_merge(self.m, steps, self.fuse, &mut self.refusals);
        // buffers: everything some step reads or writes, plus roots and assign sources
        let mut buffers: Vec<Buffer> = Vec::new();
        let mut has_buffer: HashSet<ValueId> = HashSet::default();
        let mut add = |f: &Self, v: ValueId, buffers: &mut Vec<Buffer>| {
            if !has_buffer.insert(v) {
                return;
            }
            let kind = match &f.m.op(v).kind {
                OpKind::Parameter => BufKind::Feed,
                OpKind::Read(var) => BufKind::Var(*var),
                OpKind::Constant(lit) => BufKind::Const(const_words(lit)),
                _ => BufKind::Temp,
            };
            let dtype = f.m.ty(v).map_or(DType::F32, |t| t.dtype);
            buffers.push(Buffer { value: v, shape: f.shape(v), dtype, kind });
        };
        for s in &steps {
            // an interpreter op's operands may have no type (a group): no buffer
            for v in s.reads(self.m).chain(s.writes()) {
                if self.m.ty(v).is_some() {
                    add(&self, v, &mut buffers);
                }
            }
        }
        for &v in self.roots.iter().chain(assigns.iter().map(|(_, s)| s)) {
            if self.m.ty(v).is_some() {
                add(&self, v, &mut buffers);
            }
        }
        Ok(Schedule {
            module: self.m.clone(),
            buffers,
            steps,
            assigns,
            roots: self.roots.clone(),
            refusals: self.refusals,
        })
    }

    fn nest(&mut self, k: usize, members: &[ValueId]) -> Result<LoopNest, PassError> {
        let mut n = self.nest_raw(k, members)?;
        collapse(&mut n);
        Ok(n)
    }

    fn nest_raw(&mut self, k: usize, members: &[ValueId]) -> Result<LoopNest, PassError> {
        let space = self.spaces[k].clone();
        let mset: HashSet<ValueId> = members.iter().copied().collect();
        let mut b = NestBuilder::default();
        let mut outputs = Vec::new();
        for &v in members {
            let op = self.m.op(v);
            match &op.kind {
                OpKind::Reduce { op: r, axes, keepdims } => {
                    let x = op.operands[0];
                    let node = self.node(&mut b, x, &mset, &space)?;
                    let out_shape = self.shape(v);
                    let out_contig = contiguous(&out_shape);
                    let mut strides = Vec::new();
                    let mut j = 0;
                    for d in 0..space.rank() {
                        if axes.contains(&d) {
                            strides.push(Stride::Zero);
                            if *keepdims {
                                j += 1;
                            }
                        } else {
                            strides.push(out_contig[j].clone());
                            j += 1;
                        }
                    }
                    let mean_of = (*r == ReduceOp::Mean).then(|| axes.iter().map(|&a| space.0[a].clone()).collect());
                    outputs.push(KernelOutput {
                        value: v,
                        node,
                        mode: OutMode::Reduce(*r),
                        strides,
                        len: out_shape.0.clone(),
                        mean_of,
                        scatter: None,
                    });
                }
                OpKind::ScatterAdd => {
                    // over the updates' space: add each point into row `indices[i..]`
                    let (indices, updates) = (op.operands[0], op.operands[1]);
                    let node = self.node(&mut b, updates, &mset, &space)?;
                    let index = self.prefix_node(&mut b, indices, &mset, &space)?;
                    let out_shape = self.shape(v);
                    let out_contig = contiguous(&out_shape);
                    let ir = self.shape(indices).rank();
                    let mut strides = vec![Stride::Zero; ir];
                    strides.extend(out_contig[1..].iter().cloned());
                    let scatter = Some(Scatter { index, stride: out_contig[0].clone(), rows: out_shape.0[0].clone() });
                    outputs.push(KernelOutput {
                        value: v,
                        node,
                        mode: OutMode::Reduce(ReduceOp::Sum),
                        strides,
                        len: out_shape.0.clone(),
                        mean_of: None,
                        scatter,
                    });
                }
                _ if self.force.contains(&v) => {
                    let node = self.node(&mut b, v, &mset, &space)?;
                    outputs.push(store(v, node, &space));
                }
                _ => {}
            }
        }
        Ok(b.finish(space.0.clone(), outputs))
    }

    /// The matmul whose only consumers are this kernel's elementwise ops, if the kernel
    /// can run as that matmul's epilogue: same `[m, n]` space, no reductions, every
    /// other input read contiguously or broadcast along a row, none derived from it.
    fn epilogue_target(&mut self, k: usize, members: &[ValueId]) -> Option<ValueId> {
        let space = self.spaces[k].clone();
        if !self.fuse || space.rank() != 2 {
            return None;
        }
        let mut found = None;
        for &v in members {
            for &u in &self.m.op(v).operands {
                if self.class(u) == Class::MatMul && self.shape(u) == space {
                    found = Some(u);
                }
            }
        }
        let mm = found?;
        let mset: HashSet<ValueId> = members.iter().copied().collect();
        let all_inside = self.consumers[mm.index()].iter().all(|c| mset.contains(c));
        let no = |f: &mut Self, why: NotEpilogue| {
            f.refuse(mm, Why::NotEpilogue(why));
            None
        };
        if !all_inside || self.roots.contains(&mm) {
            return no(self, NotEpilogue::ReadElsewhere);
        }
        let nest = self.nest_raw(k, members).ok()?;
        // a GEMM applies f32 epilogues only
        if !nest.is_f32() {
            return no(self, NotEpilogue::NotF32);
        }
        let ok_input = |a: &Access| a.buf == mm || matches!(a.strides[1].known(), Some(0) | Some(1));
        if let Some(a) = nest.inputs.iter().find(|a| !ok_input(a)) {
            return no(self, NotEpilogue::StridedInput(a.buf));
        }
        // outputs: tiles of [m, n], or sums over the rows into [n] (a bias gradient
        // beside a ReLU mask), which the GEMM accumulates tile by tile
        let ok_output = |o: &KernelOutput| match o.mode {
            OutMode::Store => true,
            OutMode::Reduce(ReduceOp::Sum) => {
                o.mean_of.is_none() && o.strides[0] == Stride::Zero && o.strides[1].known() == Some(1)
            }
            OutMode::Reduce(_) => false,
        };
        if let Some(o) = nest.outputs.iter().find(|o| !ok_output(o)) {
            return no(self, NotEpilogue::Output(o.value));
        }
        // an input computed from the matmul's result would need it before it exists
        for a in nest.inputs.iter().filter(|a| a.buf != mm) {
            let mut stack = vec![a.buf];
            let mut seen = HashSet::default();
            while let Some(u) = stack.pop() {
                if u == mm {
                    return no(self, NotEpilogue::DependsOnProduct(a.buf));
                }
                if u > mm && seen.insert(u) {
                    stack.extend(self.m.op(u).operands.iter().copied());
                }
            }
        }
        self.epilogues.insert(mm, nest);
        Some(mm)
    }

    fn copy_nest(&mut self, v: ValueId) -> Result<LoopNest, PassError> {
        let space = self.shape(v);
        let mut b = NestBuilder::default();
        // read v through its views, even if v itself is a copied (materialized) value
        let was = self.copied.remove(&v);
        let node = self.node(&mut b, v, &HashSet::default(), &space);
        if was {
            self.copied.insert(v);
        }
        let outputs = vec![store(v, node?, &space)];
        let mut nest = b.finish(space.0, outputs);
        collapse(&mut nest);
        Ok(nest)
    }

    /// The body node computing `v` at each point of `space`: an explicit post-order
    /// walk over the kernel's member ops (a chain of any length needs no stack depth).
    fn node(
        &self,
        b: &mut NestBuilder,
        v: ValueId,
        members: &HashSet<ValueId>,
        space: &Shape,
    ) -> Result<usize, PassError> {
        let mut stack = vec![(v, false)];
        while let Some((u, expanded)) = stack.pop() {
            if b.memo.contains_key(&u) {
                continue;
            }
            let op = self.m.op(u);
            let computed = members.contains(&u) && !matches!(op.kind, OpKind::Reduce { .. } | OpKind::ScatterAdd);
            if computed && !expanded {
                // its operands' nodes first (a gather's params are read, not computed, and
                // its indices computed here only when they iterate the whole space)
                stack.push((u, true));
                let deps: &[ValueId] = match op.kind {
                    OpKind::Gather if self.shape(op.operands[1]).rank() == space.rank() => &op.operands[1..],
                    OpKind::Gather => &[],
                    _ => &op.operands,
                };
                stack.extend(deps.iter().rev().filter(|d| !b.memo.contains_key(d)).map(|&d| (d, false)));
                continue;
            }
            let n = self.node_of(b, u, members, space)?;
            b.memo.insert(u, n);
        }
        b.memo.get(&v).copied().ok_or_else(|| fail(&self.m.op(v).name, "no node was built".into()))
    }

    /// The node of `v` once the nodes of the operands it computes from are built.
    fn node_of(
        &self,
        b: &mut NestBuilder,
        v: ValueId,
        members: &HashSet<ValueId>,
        space: &Shape,
    ) -> Result<usize, PassError> {
        let op = self.m.op(v);
        let ty = self.m.ty(v).map_or(DType::F32, |t| t.dtype);
        let n = if members.contains(&v) && matches!(op.kind, OpKind::Gather) {
            self.gather_node(b, v, members, space)?
        } else if members.contains(&v) && !matches!(op.kind, OpKind::Reduce { .. } | OpKind::ScatterAdd) {
            let args: Vec<usize> = op
                .operands
                .iter()
                .map(|u| b.memo.get(u).copied().ok_or_else(|| fail(&op.name, "an operand has no node".into())))
                .collect::<Result<_, _>>()?;
            let node = match &op.kind {
                OpKind::Unary(u) => Node::Unary(*u, args[0]),
                OpKind::Binary(o) => Node::Binary(*o, args[0], args[1]),
                OpKind::Compare(c) => Node::Cmp(*c, args[0], args[1]),
                OpKind::Select => Node::Select(args[0], args[1], args[2]),
                OpKind::Convert if b.types[args[0]] == ty => return Ok(args[0]),
                OpKind::Convert => Node::Convert(args[0]),
                OpKind::Iota { axis } => Node::Iota(*axis),
                OpKind::CheckIndex { bound } => Node::CheckIndex(args[0], *bound),
                _ => return Err(fail(&op.name, "not an elementwise op".into())),
            };
            b.push(node, ty)
        } else if let Some(c) = self.scalar_const(v) {
            b.push(Node::Const(c), ty)
        } else if let Some(k) = self.int_const(v) {
            b.push(Node::Int(k), ty)
        } else if let Some(dims) = self.dim_size(v) {
            b.scalars.push(dims);
            b.push(Node::Scalar(b.scalars.len() - 1), ty)
        } else {
            let a = self.access(v).ok_or_else(|| fail(&op.name, "value is not addressable".into()))?;
            if a.strides.len() != space.rank() {
                return Err(fail(
                    &op.name,
                    format!("access of rank {} in a space of rank {}", a.strides.len(), space.rank()),
                ));
            }
            let idx = b.input(a);
            b.push(Node::Load(idx), ty)
        };
        Ok(n)
    }
}

/// A constant's data as the 32-bit words the arena holds: f32 and i32 as themselves,
/// bools as 0 or 1, 64-bit values as two words each (little-endian).
fn const_words(lit: &Literal) -> Vec<f32> {
    let w = |bits: u32| f32::from_bits(bits);
    match lit {
        Literal::F32(d) => d.clone(),
        Literal::I32(d) => d.iter().map(|&x| w(x as u32)).collect(),
        Literal::Bool(d) => d.iter().map(|&x| w(x as u32)).collect(),
        Literal::I64(d) => d.iter().flat_map(|&x| [w(x as u32), w((x as u64 >> 32) as u32)]).collect(),
        Literal::F64(d) => d.iter().flat_map(|&x| [w(x.to_bits() as u32), w((x.to_bits() >> 32) as u32)]).collect(),
    }
}

impl Fusion<'_> {
    /// A gather at each point `(i.., r..)` of its result: the index node at `(i..)`,
    /// then params read at row `index` through a view whose strides skip the index dims.
    fn gather_node(
        &self,
        b: &mut NestBuilder,
        v: ValueId,
        members: &HashSet<ValueId>,
        space: &Shape,
    ) -> Result<usize, PassError> {
        let op = self.m.op(v);
        let (params, indices) = (op.operands[0], op.operands[1]);
        let ir = self.shape(indices).rank();
        let index = self.prefix_node(b, indices, members, space)?;
        let pa = self.access(params).ok_or_else(|| fail(&op.name, "params are not addressable".into()))?;
        let rows = self.shape(params).0[0].clone();
        let stride = pa.strides[0].clone();
        let mut strides = vec![Stride::Zero; ir];
        strides.extend(pa.strides[1..].iter().cloned());
        let input = b.input(Access { buf: pa.buf, offset: pa.offset, strides });
        let ty = self.m.ty(v).map_or(DType::F32, |t| t.dtype);
        Ok(b.push(Node::Gather { input, index, stride, rows }, ty))
    }

    /// The node of `u`, whose dims are the leading dims of `space`: computed in the
    /// nest if it iterates `u`'s own space, else loaded, constant along the other dims.
    fn prefix_node(
        &self,
        b: &mut NestBuilder,
        u: ValueId,
        members: &HashSet<ValueId>,
        space: &Shape,
    ) -> Result<usize, PassError> {
        let r = self.shape(u).rank();
        if r == space.rank() {
            return self.node(b, u, members, space);
        }
        let name = &self.m.op(u).name;
        let mut a = self.access(u).ok_or_else(|| fail(name, "indices are not addressable".into()))?;
        a.strides.extend(std::iter::repeat_n(Stride::Zero, space.rank() - r));
        let i = b.input(a);
        Ok(b.push(Node::Load(i), self.m.ty(u).map_or(DType::I32, |t| t.dtype)))
    }

    /// The value of a one-element integer or bool constant, seen through views.
    fn int_const(&self, v: ValueId) -> Option<i64> {
        match &self.m.op(self.through_views(v)).kind {
            OpKind::Constant(Literal::I32(d)) if d.len() == 1 => Some(d[0] as i64),
            OpKind::Constant(Literal::I64(d)) if d.len() == 1 => Some(d[0]),
            OpKind::Constant(Literal::Bool(d)) if d.len() == 1 => Some(d[0] as i64),
            _ => None,
        }
    }
}

/// A plain row-major store of `v` over `space`.
fn store(v: ValueId, node: usize, space: &Shape) -> KernelOutput {
    KernelOutput {
        value: v,
        node,
        mode: OutMode::Store,
        strides: contiguous(space),
        len: space.0.clone(),
        mean_of: None,
        scatter: None,
    }
}

#[derive(Default)]
struct NestBuilder {
    nodes: Vec<Node>,
    types: Vec<DType>,
    /// Each node's key, for common subexpressions in constant time.
    keys: HashMap<(NodeKey, DType), usize>,
    memo: HashMap<ValueId, usize>,
    inputs: Vec<Access>,
    input_index: HashMap<Access, usize>,
    scalars: Vec<Vec<Dim>>,
}

/// A node as a hash key (an f32 constant by its bits).
#[derive(Clone, PartialEq, Eq, Hash)]
enum NodeKey {
    Load(usize),
    Const(u32),
    Int(i64),
    Iota(usize),
    Convert(usize),
    Scalar(usize),
    Unary(kiln_ir::UnaryOp, usize),
    Binary(kiln_ir::BinaryOp, usize, usize),
    Cmp(kiln_ir::CmpOp, usize, usize),
    Select(usize, usize, usize),
    Gather(usize, usize),
    CheckIndex(usize, u64),
}

impl NodeKey {
    fn of(n: &Node) -> NodeKey {
        match *n {
            Node::Load(i) => NodeKey::Load(i),
            Node::Const(c) => NodeKey::Const(c.to_bits()),
            Node::Int(k) => NodeKey::Int(k),
            Node::Iota(d) => NodeKey::Iota(d),
            Node::Convert(x) => NodeKey::Convert(x),
            Node::Scalar(i) => NodeKey::Scalar(i),
            Node::Unary(u, x) => NodeKey::Unary(u, x),
            Node::Binary(o, x, y) => NodeKey::Binary(o, x, y),
            Node::Cmp(c, x, y) => NodeKey::Cmp(c, x, y),
            Node::Select(m, x, y) => NodeKey::Select(m, x, y),
            // the input fixes the params, so their row stride and count
            Node::Gather { input, index, .. } => NodeKey::Gather(input, index),
            Node::CheckIndex(x, bound) => NodeKey::CheckIndex(x, bound),
        }
    }
}

impl NestBuilder {
    fn push(&mut self, n: Node, t: DType) -> usize {
        let key = (NodeKey::of(&n), t);
        if let Some(&i) = self.keys.get(&key) {
            return i; // common subexpressions within a kernel
        }
        self.nodes.push(n);
        self.types.push(t);
        self.keys.insert(key, self.nodes.len() - 1);
        self.nodes.len() - 1
    }

    fn input(&mut self, a: Access) -> usize {
        if let Some(&i) = self.input_index.get(&a) {
            return i;
        }
        self.inputs.push(a.clone());
        self.input_index.insert(a, self.inputs.len() - 1);
        self.inputs.len() - 1
    }

    fn finish(self, space: Vec<Dim>, outputs: Vec<KernelOutput>) -> LoopNest {
        LoopNest { space, inputs: self.inputs, scalars: self.scalars, nodes: self.nodes, types: self.types, outputs }
    }
}

/// Drops size-1 dims and merges adjacent dims that every access walks contiguously.
/// An iota's dim counts as an access of its own (stride 1 along it, 0 elsewhere), so
/// it is never merged; an iota along a dropped size-1 dim is the constant 0.
fn collapse(n: &mut LoopNest) {
    let keep: Vec<usize> = (0..n.space.len()).filter(|&d| n.space[d] != Dim::Fixed(1)).collect();
    let iotas: Vec<usize> =
        n.nodes.iter().filter_map(|x| if let Node::Iota(d) = x { Some(*d) } else { None }).collect();
    let along = |d: usize| (0..n.space.len()).map(|e| if e == d { Stride::one() } else { Stride::Zero }).collect();
    let all: Vec<Vec<Stride>> = n
        .inputs
        .iter()
        .map(|a| a.strides.clone())
        .chain(n.outputs.iter().map(|o| o.strides.clone()))
        .chain(iotas.iter().map(|&d| along(d)))
        .collect();
    let mut space: Vec<Vec<Dim>> = keep.iter().map(|&d| vec![n.space[d].clone()]).collect();
    // the original dims each collapsed dim stands for
    let mut origin: Vec<Vec<usize>> = keep.iter().map(|&d| vec![d]).collect();
    let mut acc: Vec<Vec<Stride>> = all.iter().map(|s| keep.iter().map(|&d| s[d].clone()).collect()).collect();
    let mut d = 0;
    while d + 1 < space.len() {
        let inner_size = &space[d + 1];
        let mergeable = acc.iter().all(|s| match (&s[d], &s[d + 1]) {
            (Stride::Zero, Stride::Zero) => true,
            (outer, inner) => inner_size.iter().fold(inner.clone(), |st, dim| st.times(dim)) == *outer,
        });
        if mergeable {
            let inner = space.remove(d + 1);
            space[d].extend(inner);
            let o = origin.remove(d + 1);
            origin[d].extend(o);
            for s in acc.iter_mut() {
                let inner = s.remove(d + 1);
                s[d] = inner;
            }
        } else {
            d += 1;
        }
    }
    // a merged dim is the product of its parts: keep it symbolic as a list
    n.space = space.iter().map(|parts| product_dim(parts)).collect();
    let ni = n.inputs.len();
    let no = n.outputs.len();
    for (i, s) in acc.into_iter().enumerate().take(ni + no) {
        if i < ni {
            n.inputs[i].strides = s;
        } else {
            n.outputs[i - ni].strides = s;
        }
    }
    for node in n.nodes.iter_mut() {
        if let Node::Iota(d) = *node {
            *node = match origin.iter().position(|o| o.contains(&d)) {
                Some(nd) => Node::Iota(nd),
                None => Node::Int(0),
            };
        }
    }
}

/// A single dim standing for a product: fixed if every part is, else a symbol named for
/// the product (`?0*20`) that the runtime evaluates.
fn product_dim(parts: &[Dim]) -> Dim {
    if let Some(n) = parts.iter().map(Dim::fixed).product::<Option<u64>>() {
        return Dim::Fixed(n);
    }
    let names: Vec<String> = parts.iter().map(|d| d.to_string()).collect();
    Dim::Sym(names.join("*"))
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

/// Orders steps by their dependencies (stable in op order) and merges back-to-back
/// independent loop kernels into one function.
/// Each step's reads and writes come from [`Step::reads`] and [`Step::writes`], as
/// everywhere else.
fn order_and_merge(m: &Module, mut keyed: Vec<(usize, Step)>, merge: bool, refusals: &mut Vec<Refusal>) -> Vec<Step> {
    keyed.sort_by_key(|s| s.0);
    let mut steps: Vec<(Step, Vec<ValueId>, Vec<ValueId>)> = keyed
        .into_iter()
        .map(|(_, st)| {
            let (r, w) = (st.reads(m).collect(), st.writes().collect());
            (st, r, w)
        })
        .collect();
    let n = steps.len();
    let producer: HashMap<ValueId, usize> =
        steps.iter().enumerate().flat_map(|(i, s)| s.2.iter().map(move |&v| (v, i))).collect();
    let deps: Vec<Vec<usize>> = (0..n)
        .map(|i| steps[i].1.iter().filter_map(|v| producer.get(v).copied()).filter(|&p| p != i).collect())
        .collect();
    // Kahn's algorithm, taking the earliest ready step first (op order where free)
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut waiting: Vec<usize> = vec![0; n];
    for (i, ds) in deps.iter().enumerate() {
        let mut ds = ds.clone();
        ds.sort_unstable();
        ds.dedup();
        waiting[i] = ds.len();
        for d in ds {
            users[d].push(i);
        }
    }
    let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> =
        (0..n).filter(|&i| waiting[i] == 0).map(std::cmp::Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(std::cmp::Reverse(next)) = ready.pop() {
        order.push(next);
        for &u in &users[next] {
            waiting[u] -= 1;
            if waiting[u] == 0 {
                ready.push(std::cmp::Reverse(u));
            }
        }
    }
    debug_assert_eq!(order.len(), n, "steps form a DAG");
    let mut out: Vec<(Step, HashSet<ValueId>)> = Vec::new();
    let is_epilogue = |s: &Step| matches!(s, Step::Loop(k) if k.epilogue_of.is_some());
    // a merged kernel stays one readable, quickly compiled function
    let full = |s: &Step| matches!(s, Step::Loop(k) if k.nests.len() >= MAX_MERGED_NESTS);
    for i in order {
        let (step, reads, writes) = std::mem::replace(
            &mut steps[i],
            (Step::Host(HostStep { value: ValueId(0), reason: String::new() }), Vec::new(), Vec::new()),
        );
        if let (true, Step::Loop(k)) = (merge, &step) {
            // merge into the latest earlier loop kernel that writes nothing this one
            // reads, moving it back past steps that write nothing it reads either:
            // one call instead of two (a weight's transpose joins the loss kernel)
            let mut at = out.len();
            let target = loop {
                if at == 0 || k.epilogue_of.is_some() {
                    break None;
                }
                at -= 1;
                let mergeable = matches!(&out[at].0, Step::Loop(_)) && !is_epilogue(&out[at].0);
                let first = k.provenance.first().map(|o| o.value());
                if let Some(&r) = reads.iter().find(|r| out[at].1.contains(r)) {
                    if let (true, Some(value)) = (mergeable, first) {
                        refusals.push(Refusal { value, why: Why::NotMerged { reads: r } });
                    }
                    break None;
                }
                if mergeable {
                    if full(&out[at].0) {
                        if let Some(value) = first {
                            refusals.push(Refusal { value, why: Why::MergedKernelFull });
                        }
                        break None;
                    }
                    break Some(at);
                }
            };
            if let Some(t) = target {
                if let (Step::Loop(prev), prev_writes) = &mut out[t] {
                    prev.nests.extend(k.nests.iter().cloned());
                    prev.provenance.extend(k.provenance.iter().cloned());
                    prev_writes.extend(writes);
                    continue;
                }
            }
        }
        out.push((step, writes.into_iter().collect()));
    }
    out.into_iter()
        .enumerate()
        .map(|(i, (mut s, _))| {
            if let Step::Loop(k) = &mut s {
                k.name = format!("fusion.{i}");
            }
            s
        })
        .collect()
}

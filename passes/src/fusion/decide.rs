//! Deciding what fuses: which ops kernels compute (the rest run on the interpreter, by
//! the dtype table `schedule::dtypes`) and which kernel each op joins, every decision
//! against fusing recorded as a typed [`Refusal`].

use super::*;
use crate::schedule::dtypes;

/// How fusion treats an op of this kind, or `None` for the ops no kernel computes
/// whatever their dtypes: the one list of what runs on the interpreter by kind (by
/// dtype, the table `schedule::dtypes` adds the rest).
pub(super) fn kernel_class(kind: &OpKind) -> Option<Class> {
    Some(match kind {
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
        OpKind::Random { .. } | OpKind::Concat { .. } | OpKind::ArgMax { .. } | OpKind::Cumsum { .. } => return None,
    })
}

impl Fusion<'_> {
    pub(super) fn check_supported(&self, v: ValueId) -> Result<(), PassError> {
        let op = self.m.op(v);
        let name = &op.name;
        let not_yet = |what: String| Err(fail(name, format!("{what} is not compiled yet")));
        match kernel_class(&op.kind) {
            Some(Class::Sink) => return Ok(()),
            None => return not_yet(op.kind.mnemonic().to_string()),
            // every other op is compiled, subject to its dtypes (below)
            Some(_) => {}
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

    pub(super) fn find(&mut self, k: usize) -> usize {
        let mut k = k;
        while self.parent[k] != k {
            self.parent[k] = self.parent[self.parent[k]];
            k = self.parent[k];
        }
        k
    }

    /// A kernel for one op.
    pub(super) fn new_kernel(&mut self, space: Shape) -> usize {
        self.parent.push(self.parent.len());
        self.spaces.push(space);
        self.sizes.push(1);
        self.member_list.push(Vec::new());
        self.span.push((u32::MAX, 0));
        self.parent.len() - 1
    }

    /// Places `v` in kernel `k`.
    pub(super) fn assign(&mut self, v: ValueId, k: usize) {
        self.kernel_of.insert(v, k);
        let r = self.find(k);
        self.member_list[r].push(v);
        let (lo, hi) = self.span[r];
        self.span[r] = (lo.min(v.0), hi.max(v.0));
    }

    /// Merges kernel `from` into kernel `into` (both roots).
    pub(super) fn union(&mut self, into: usize, from: usize) {
        self.parent[from] = into;
        self.sizes[into] += self.sizes[from];
        let moved = std::mem::take(&mut self.member_list[from]);
        self.member_list[into].extend(moved);
        let ((a, b), (c, d)) = (self.span[into], self.span[from]);
        self.span[into] = (a.min(c), b.max(d));
    }

    /// The root of kernel `k`, without path compression (for walks that borrow `self`).
    pub(super) fn root(&self, k: usize) -> usize {
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
    pub(super) fn kernel_reaches(&self, k: usize, floor: u32, hit: &dyn Fn(ValueId) -> bool) -> bool {
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
    pub(super) fn kernel_depends_on(&mut self, k: usize, c: ValueId) -> bool {
        let r = self.find(k);
        // every member comes before `c`: nothing in `k` can read it
        if self.span[r].1 < c.0 {
            return false;
        }
        self.kernel_reaches(r, c.0, &|u| u == c)
    }

    /// Assigns every elementwise and reduce op to a kernel, consumers first.
    pub(super) fn group(&mut self) {
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

    pub(super) fn place_elementwise(&mut self, v: ValueId) {
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

    pub(super) fn kernel_depends_on_kernel(&mut self, a: usize, b: usize) -> bool {
        let (a, b) = (self.find(a), self.find(b));
        // `a` can only read `b`'s values if some member of `a` comes after one of `b`'s
        if a == b || self.span[a].1 < self.span[b].0 {
            return false;
        }
        let in_b = |u: ValueId| self.kernel_of.get(&u).is_some_and(|&k| self.root(k) == b);
        self.kernel_reaches(a, self.span[b].0, &in_b)
    }
}

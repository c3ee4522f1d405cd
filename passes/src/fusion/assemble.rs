//! The schedule from the grouping: which values are materialized, their buffers, and
//! one step per kernel, GEMM and interpreter op.

use super::lower::const_words;
use super::order::order_and_merge;
use super::*;

impl Fusion<'_> {
    pub(super) fn build(mut self) -> Result<Schedule, PassError> {
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
}

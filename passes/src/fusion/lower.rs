//! Lowering a kernel's ops to loop nests: the scalar body of each nest (loads through
//! views, gathers, integer paths), its outputs, and the epilogue a GEMM applies in
//! registers.

use super::*;

impl Fusion<'_> {
    pub(super) fn nest(&mut self, k: usize, members: &[ValueId]) -> Result<LoopNest, PassError> {
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
    pub(super) fn epilogue_target(&mut self, k: usize, members: &[ValueId]) -> Option<ValueId> {
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

    pub(super) fn copy_nest(&mut self, v: ValueId) -> Result<LoopNest, PassError> {
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
/// bools as 0 or 1, narrow integers widened, 64-bit values as two words each
/// (little-endian).
pub(crate) fn const_words(lit: &Literal) -> Vec<f32> {
    let w = |bits: u32| f32::from_bits(bits);
    match lit {
        Literal::F32(d) => d.clone(),
        Literal::I32(d) => d.iter().map(|&x| w(x as u32)).collect(),
        Literal::Bool(d) => d.iter().map(|&x| w(x as u32)).collect(),
        // narrow integers widen to a word, sign-extended where signed
        Literal::U8(d) => d.iter().map(|&x| w(u32::from(x))).collect(),
        Literal::I8(d) => d.iter().map(|&x| w(i32::from(x) as u32)).collect(),
        Literal::U16(d) => d.iter().map(|&x| w(u32::from(x))).collect(),
        Literal::I16(d) => d.iter().map(|&x| w(i32::from(x) as u32)).collect(),
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
    pub(super) fn of(n: &Node) -> NodeKey {
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
    pub(super) fn push(&mut self, n: Node, t: DType) -> usize {
        let key = (NodeKey::of(&n), t);
        if let Some(&i) = self.keys.get(&key) {
            return i; // common subexpressions within a kernel
        }
        self.nodes.push(n);
        self.types.push(t);
        self.keys.insert(key, self.nodes.len() - 1);
        self.nodes.len() - 1
    }

    pub(super) fn input(&mut self, a: Access) -> usize {
        if let Some(&i) = self.input_index.get(&a) {
            return i;
        }
        self.inputs.push(a.clone());
        self.input_index.insert(a, self.inputs.len() - 1);
        self.inputs.len() - 1
    }

    pub(super) fn finish(self, space: Vec<Dim>, outputs: Vec<KernelOutput>) -> LoopNest {
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

//! The ops, under their TensorFlow names. NumPy broadcasting is resolved here and
//! becomes explicit `broadcast` ops in the IR.

use crate::graph::RankPromotion;
use crate::{Error, Graph, Result, Tensor};
use kiln_ir::{BinaryOp, CmpOp, DType, Dim, Loc, OpKind, ReduceOp, Shape, Type, UnaryOp, ValueId};

/// Reduction axes: all of them, or a list (negative counts from the end).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Axes {
    /// Every axis (TF `axis=None`).
    All,
    /// These axes.
    List(Vec<i64>),
}

impl From<i64> for Axes {
    fn from(a: i64) -> Self {
        Axes::List(vec![a])
    }
}
impl From<i32> for Axes {
    fn from(a: i32) -> Self {
        Axes::List(vec![a as i64])
    }
}
impl<const N: usize> From<[i64; N]> for Axes {
    fn from(a: [i64; N]) -> Self {
        Axes::List(a.to_vec())
    }
}
impl<const N: usize> From<[i32; N]> for Axes {
    fn from(a: [i32; N]) -> Self {
        Axes::List(a.iter().map(|&x| x as i64).collect())
    }
}
impl From<&[i64]> for Axes {
    fn from(a: &[i64]) -> Self {
        Axes::List(a.to_vec())
    }
}
impl From<Vec<i64>> for Axes {
    fn from(a: Vec<i64>) -> Self {
        Axes::List(a)
    }
}

/// Checks that every tensor is valid and of graph `g`; returns their values.
pub(crate) fn values(op: &str, g: &Graph, ts: &[&Tensor], loc: &Loc) -> Result<Vec<ValueId>> {
    ts.iter()
        .map(|t| {
            let v = t.value()?;
            if t.graph != *g {
                return Err(Error::ForeignTensor { op: op.to_string(), tensor: t.name(), loc: loc.clone() });
            }
            Ok(v)
        })
        .collect()
}

pub(crate) fn data_ty(op: &str, t: &Tensor, loc: &Loc) -> Result<Type> {
    t.ty().ok_or_else(|| Error::Invalid {
        op: op.to_string(),
        message: format!("'{}' is an operation without a value", t.op_name()),
        loc: loc.clone(),
    })
}

/// NumPy's broadcast of two shapes under the graph's dim constraints. Symbolic dims
/// that must match are recorded as constraints checked when a run binds them.
fn broadcast_shape(g: &Graph, op: &str, a: &Shape, b: &Shape, loc: &Loc) -> Result<Shape> {
    let rank = a.rank().max(b.rank());
    let mut out = vec![Dim::Fixed(1); rank];
    let fail = || Error::Broadcast { op: op.to_string(), lhs: a.clone(), rhs: b.clone(), loc: loc.clone() };
    for (i, slot) in out.iter_mut().enumerate() {
        let da = (i + a.rank()).checked_sub(rank).map(|j| &a.0[j]);
        let db = (i + b.rank()).checked_sub(rank).map(|j| &b.0[j]);
        *slot = match (da, db) {
            (Some(x), None) | (None, Some(x)) => x.clone(),
            (Some(x), Some(y)) if g.same_dim(x, y) => x.clone(),
            (Some(x), Some(y)) if *x == Dim::Fixed(1) => y.clone(),
            (Some(x), Some(y)) if *y == Dim::Fixed(1) => x.clone(),
            (Some(Dim::Fixed(_)), Some(Dim::Fixed(_))) => return Err(fail()),
            (Some(x), Some(y)) => {
                // a symbol against another dim: assume equal, checked at bind time
                g.constrain(x, y).map_err(|_| fail())?;
                if x.is_sym() {
                    y.clone()
                } else {
                    x.clone()
                }
            }
            (None, None) => unreachable!("i < rank means one operand has the axis"),
        };
    }
    Ok(Shape(out))
}

/// Inserts a broadcast of `v` (type `t`) to `shape` if it differs.
fn broadcast_to_shape(g: &Graph, v: ValueId, t: &Type, shape: &Shape, name: &str, loc: &Loc) -> Result<ValueId> {
    if t.shape.rank() == shape.rank() && t.shape.0.iter().zip(&shape.0).all(|(a, b)| g.same_dim(a, b)) {
        return Ok(v);
    }
    let off = shape.rank() - t.shape.rank();
    let dims = (0..t.shape.rank()).map(|i| i + off).collect();
    g.add_op(OpKind::Broadcast { dims }, &[v], Some(Type::new(t.dtype, shape.clone())), name, loc)
}

/// True when the broadcast expands both operands, turning vectors into a matrix:
/// `[n,1] op [n]` or `[n,1] op [1,n]` -> `[n,n]` (the notebook's warning). A bias
/// `[20]` added to `[?,20]` expands only the bias, so it is not this.
fn is_outer_promotion(g: &Graph, a: &Shape, b: &Shape, out: &Shape) -> bool {
    let expanded = |s: &Shape| {
        let off = out.rank() - s.rank();
        out.0.iter().enumerate().any(|(j, o)| {
            let one = Dim::Fixed(1);
            let d = if j < off { &one } else { &s.0[j - off] };
            *d == one && !g.same_dim(o, &one)
        })
    };
    a.rank() > 0 && b.rank() > 0 && expanded(a) && expanded(b)
}

/// Broadcasts two operands to a common shape, applying the rank-promotion policy.
fn broadcast_pair(op: &str, a: &Tensor, b: &Tensor, loc: &Loc) -> Result<(Graph, ValueId, ValueId, Type)> {
    let g = a.graph.clone();
    let vs = values(op, &g, &[a, b], loc)?;
    let (ta, tb) = (data_ty(op, a, loc)?, data_ty(op, b, loc)?);
    if ta.dtype != tb.dtype {
        return Err(Error::DType { op: op.to_string(), lhs: ta.dtype, rhs: tb.dtype, loc: loc.clone() });
    }
    let shape = broadcast_shape(&g, op, &ta.shape, &tb.shape, loc)?;
    if is_outer_promotion(&g, &ta.shape, &tb.shape, &shape) {
        let policy = g.lock().policy;
        match policy {
            RankPromotion::Allow => {}
            RankPromotion::Warn => {
                let w = format!(
                    "warning: {loc}: {op}: outer broadcast of {} and {} to {}: both operands are expanded",
                    ta.shape, tb.shape, shape
                );
                eprintln!("{w}");
                g.lock().warnings.push(w);
            }
            RankPromotion::Error => {
                return Err(Error::RankPromotion {
                    op: op.to_string(),
                    lhs: ta.shape,
                    rhs: tb.shape,
                    result: shape,
                    loc: loc.clone(),
                })
            }
        }
    }
    // `op` carries the name scope already; the new ops get it from add_op
    let local = op.rsplit('/').next().unwrap_or(op);
    let x = broadcast_to_shape(&g, vs[0], &ta, &shape, &format!("{local}/broadcast_x"), loc)?;
    let y = broadcast_to_shape(&g, vs[1], &tb, &shape, &format!("{local}/broadcast_y"), loc)?;
    Ok((g, x, y, Type::new(ta.dtype, shape)))
}

/// A scalar constant of `t`'s dtype, for `t + 1.0` (a weakly typed Python scalar in TF).
pub(crate) fn scalar_like(t: &Tensor, x: f64, b: BinaryOp, role: &str, loc: &Loc) -> Result<Tensor> {
    t.value()?;
    let dtype = t.dtype().unwrap_or(DType::F32);
    // TF names the scalar after the op that consumes it: `add_1/y`
    let name = format!("{}/{role}", t.graph.prospective_name(b.tf_name()));
    let g = &t.graph;
    let saved = std::mem::take(&mut g.lock().name_scopes);
    let r = g.constant_at(x, Some(dtype), &name, loc);
    g.lock().name_scopes = saved;
    r
}

/// Any binary op of the table, by its enum, with NumPy broadcasting (the named
/// functions and the operators are this).
#[track_caller]
pub fn binary_op(b: BinaryOp, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let loc = Loc::caller();
    binary_at(b, x, y, &loc)
}

pub(crate) fn binary_at(b: BinaryOp, x: &Tensor, y: &Tensor, loc: &Loc) -> Result<Tensor> {
    x.value()?;
    y.value()?;
    let op = x.graph.prospective_name(b.tf_name());
    let (g, xv, yv, _) = broadcast_pair(&op, x, y, loc)?;
    let v = g.add_op(OpKind::Binary(b), &[xv, yv], None, b.tf_name(), loc)?;
    Ok(g.tensor(v))
}

/// Any unary op of the table, by its enum (the named functions, `tanh` and the rest,
/// are this).
#[track_caller]
pub fn unary_op(u: UnaryOp, x: &Tensor) -> Result<Tensor> {
    let loc = Loc::caller();
    unary_at(u, x, &loc)
}

pub(crate) fn unary_at(u: UnaryOp, x: &Tensor, loc: &Loc) -> Result<Tensor> {
    let g = x.graph.clone();
    let vs = values(u.tf_name(), &g, &[x], loc)?;
    let v = g.add_op(OpKind::Unary(u), &vs, None, u.tf_name(), loc)?;
    Ok(g.tensor(v))
}

// The functions, one per op of each family's table (`kiln_ir::for_each_*_op`).
macro_rules! binary_fns {
    ([] $($v:ident $mn:literal $tf:literal $f:ident $kind:ident $doc:literal;)*) => {$(
        #[doc = concat!($doc, " with NumPy broadcasting (TF `", stringify!($f), "`).")]
        #[track_caller]
        pub fn $f(x: &Tensor, y: &Tensor) -> Result<Tensor> {
            binary_at(BinaryOp::$v, x, y, &Loc::caller())
        }
    )*};
}
kiln_ir::for_each_binary_op!(binary_fns);

macro_rules! unary_fns {
    ([] $($v:ident $mn:literal $tf:literal $f:ident $kind:ident $doc:literal;)*) => {$(
        #[doc = concat!($doc, ", elementwise (TF `", stringify!($f), "`).")]
        #[track_caller]
        pub fn $f(x: &Tensor) -> Result<Tensor> {
            unary_at(UnaryOp::$v, x, &Loc::caller())
        }
    )*};
}
kiln_ir::for_each_unary_op!(unary_fns);

macro_rules! cmp_fns {
    ([] $($v:ident $mn:literal $tf:literal $f:ident $kind:ident $doc:literal;)*) => {$(
        #[doc = concat!($doc, " elementwise with NumPy broadcasting, a bool result (TF `", stringify!($f), "`).")]
        #[track_caller]
        pub fn $f(x: &Tensor, y: &Tensor) -> Result<Tensor> {
            compare_at(CmpOp::$v, x, y, &Loc::caller())
        }
    )*};
}
kiln_ir::for_each_cmp_op!(cmp_fns);

/// Any comparison of the table, by its enum, with NumPy broadcasting.
#[track_caller]
pub fn compare_op(c: CmpOp, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    compare_at(c, x, y, &Loc::caller())
}

fn compare_at(c: CmpOp, x: &Tensor, y: &Tensor, loc: &Loc) -> Result<Tensor> {
    x.value()?;
    y.value()?;
    let op = x.graph.prospective_name(c.tf_name());
    let (g, xv, yv, _) = broadcast_pair(&op, x, y, loc)?;
    let v = g.add_op(OpKind::Compare(c), &[xv, yv], None, c.tf_name(), loc)?;
    Ok(g.tensor(v))
}

/// `cond ? x : y` elementwise, all three broadcast together (TF `where`).
#[track_caller]
pub fn where_(cond: &Tensor, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let loc = Loc::caller();
    let g = cond.graph.clone();
    let op = g.prospective_name("Select");
    let vs = values(&op, &g, &[cond, x, y], &loc)?;
    let tc = data_ty(&op, cond, &loc)?;
    let (_, xv, yv, t) = broadcast_pair(&op, x, y, &loc)?;
    let shape = broadcast_shape(&g, &op, &tc.shape, &t.shape, &loc)?;
    let local = op.rsplit('/').next().unwrap_or(&op).to_string();
    let cv = broadcast_to_shape(&g, vs[0], &tc, &shape, &format!("{local}/broadcast_c"), &loc)?;
    let xv = broadcast_to_shape(&g, xv, &t, &shape, &format!("{local}/broadcast_x2"), &loc)?;
    let yv = broadcast_to_shape(&g, yv, &t, &shape, &format!("{local}/broadcast_y2"), &loc)?;
    let v = g.add_op(OpKind::Select, &[cv, xv, yv], None, "Select", &loc)?;
    Ok(g.tensor(v))
}

/// Alias of [`where_`] (TF `select`).
#[track_caller]
pub fn select(cond: &Tensor, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    where_(cond, x, y)
}

pub(crate) fn norm_axis(op: &str, t: &Tensor, rank: usize, a: i64, loc: &Loc) -> Result<usize> {
    let r = rank as i64;
    if a < -r || a >= r.max(1) || (r == 0) {
        return Err(Error::Axis {
            op: op.to_string(),
            tensor: t.name(),
            shape: t.get_shape().0,
            axis: a,
            loc: loc.clone(),
        });
    }
    Ok(if a < 0 { (a + r) as usize } else { a as usize })
}

pub(crate) fn reduce_at(r: ReduceOp, x: &Tensor, axis: Axes, keepdims: bool, loc: &Loc) -> Result<Tensor> {
    let name = r.tf_name();
    let g = x.graph.clone();
    let op = g.prospective_name(name);
    let vs = values(&op, &g, &[x], loc)?;
    let t = data_ty(&op, x, loc)?;
    let rank = t.shape.rank();
    let mut axes = match axis {
        Axes::All => (0..rank).collect::<Vec<_>>(),
        Axes::List(l) => l.iter().map(|&a| norm_axis(&op, x, rank, a, loc)).collect::<Result<_>>()?,
    };
    axes.sort_unstable();
    axes.dedup();
    let v = g.add_op(OpKind::Reduce { op: r, axes, keepdims }, &vs, None, name, loc)?;
    Ok(g.tensor(v))
}

/// The reduction `r` over `axis` (the functions below, chosen at run time).
#[track_caller]
pub fn reduce_op(r: ReduceOp, x: &Tensor, axis: impl Into<Axes>, keepdims: bool) -> Result<Tensor> {
    reduce_at(r, x, axis.into(), keepdims, &Loc::caller())
}

macro_rules! reduce_fns {
    ([] $($v:ident $mn:literal $tf:literal $f:ident $kind:ident $doc:literal;)*) => {$(
        #[doc = concat!("The ", $doc, " over `axis` (TF `", stringify!($f), "`); `Axes::All` gives a scalar.")]
        #[track_caller]
        pub fn $f(x: &Tensor, axis: impl Into<Axes>, keepdims: bool) -> Result<Tensor> {
            reduce_at(ReduceOp::$v, x, axis.into(), keepdims, &Loc::caller())
        }
    )*};
}
kiln_ir::for_each_reduce_op!(reduce_fns);

/// Matrix product (TF `matmul`): rank 2, or batched with equal leading dims.
#[track_caller]
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let loc = Loc::caller();
    let g = a.graph.clone();
    let op = g.prospective_name("MatMul");
    let vs = values(&op, &g, &[a, b], &loc)?;
    let (ta, tb) = (data_ty(&op, a, &loc)?, data_ty(&op, b, &loc)?);
    if ta.dtype != tb.dtype {
        return Err(Error::DType { op, lhs: ta.dtype, rhs: tb.dtype, loc });
    }
    let r = ta.shape.rank();
    let ok = r >= 2
        && tb.shape.rank() == r
        && (0..r - 2).all(|i| g.same_dim(&ta.shape.0[i], &tb.shape.0[i]))
        && g.same_dim(&ta.shape.0[r - 1], &tb.shape.0[r - 2]);
    if !ok {
        // a symbolic inner dim may still be constrained equal
        let inner_sym = r >= 2 && tb.shape.rank() == r && (ta.shape.0[r - 1].is_sym() || tb.shape.0[r - 2].is_sym());
        if !(inner_sym && g.constrain(&ta.shape.0[r - 1], &tb.shape.0[r - 2]).is_ok()) {
            return Err(Error::MatMul { op, lhs: ta.shape, rhs: tb.shape, loc });
        }
    }
    let v = g.add_op(OpKind::MatMul, &vs, None, "MatMul", &loc)?;
    Ok(g.tensor(v))
}

/// Reshape (TF `reshape`); one entry may be -1 and is inferred.
#[track_caller]
pub fn reshape(x: &Tensor, shape: &[i64]) -> Result<Tensor> {
    let loc = Loc::caller();
    let g = x.graph.clone();
    let op = g.prospective_name("Reshape");
    let vs = values(&op, &g, &[x], &loc)?;
    let t = data_ty(&op, x, &loc)?;
    let invalid = |message: String| Error::Invalid { op: op.clone(), message, loc: loc.clone() };
    if shape.iter().filter(|&&d| d == -1).count() > 1 || shape.iter().any(|&d| d < -1) {
        return Err(invalid(format!("bad target shape {shape:?}")));
    }
    let mut dims: Vec<Dim> = shape.iter().map(|&d| Dim::Fixed(d.max(0) as u64)).collect();
    if let Some(pos) = shape.iter().position(|&d| d == -1) {
        let known: u64 = shape.iter().filter(|&&d| d >= 0).map(|&d| d as u64).product();
        let fixed: u64 = t.shape.0.iter().filter_map(Dim::fixed).product();
        let syms: Vec<&Dim> = t.shape.0.iter().filter(|d| d.is_sym()).collect();
        dims[pos] = match syms.as_slice() {
            [] if known != 0 && fixed.is_multiple_of(known) => Dim::Fixed(fixed / known),
            [s] if known != 0 && fixed == known => (*s).clone(),
            _ => return Err(invalid(format!("cannot infer the -1 in {shape:?} from shape {}", t.shape.tf_string()))),
        };
    }
    let target = Shape(dims);
    if let (Some(have), Some(want)) = (t.shape.fixed_elements(), target.fixed_elements()) {
        if have != want {
            return Err(invalid(format!(
                "cannot reshape a tensor of {have} elements (shape {}) to shape {} ({want} elements)",
                t.shape.tf_string(),
                target.tf_string()
            )));
        }
    }
    let v = g.add_op(OpKind::Reshape, &vs, Some(Type::new(t.dtype, target)), "Reshape", &loc)?;
    Ok(g.tensor(v))
}

/// Permutes axes (TF `transpose`); `None` reverses them.
#[track_caller]
pub fn transpose(x: &Tensor, perm: Option<&[usize]>) -> Result<Tensor> {
    let loc = Loc::caller();
    let g = x.graph.clone();
    let op = g.prospective_name("transpose");
    let vs = values(&op, &g, &[x], &loc)?;
    let rank = data_ty(&op, x, &loc)?.shape.rank();
    let perm = perm.map_or_else(|| (0..rank).rev().collect(), <[usize]>::to_vec);
    let v = g.add_op(OpKind::Transpose { perm }, &vs, None, "transpose", &loc)?;
    Ok(g.tensor(v))
}

/// A box of `size` starting at `begin` (TF `slice`); a size of -1 runs to the end.
#[track_caller]
pub fn slice(x: &Tensor, begin: &[usize], size: &[i64]) -> Result<Tensor> {
    let loc = Loc::caller();
    let g = x.graph.clone();
    let op = g.prospective_name("Slice");
    let vs = values(&op, &g, &[x], &loc)?;
    let t = data_ty(&op, x, &loc)?;
    if begin.len() != t.shape.rank() || size.len() != t.shape.rank() {
        let message = format!("begin {begin:?} and size {size:?} must have one entry per axis of {}", t.shape);
        return Err(Error::Invalid { op, message, loc });
    }
    let dims = t
        .shape
        .0
        .iter()
        .zip(begin.iter().zip(size))
        .map(|(d, (&b, &s))| match (s, d) {
            (-1, Dim::Fixed(n)) => Dim::Fixed(n.saturating_sub(b as u64)),
            (-1, sym) => sym.clone(),
            (s, _) => Dim::Fixed(s.max(0) as u64),
        })
        .collect();
    let begin = begin.iter().map(|&b| b as u64).collect();
    let v = g.add_op(OpKind::Slice { begin }, &vs, Some(Type::new(t.dtype, Shape(dims))), "Slice", &loc)?;
    Ok(g.tensor(v))
}

/// Joins tensors along `axis` (TF `concat`).
#[track_caller]
pub fn concat(xs: &[&Tensor], axis: i64) -> Result<Tensor> {
    concat_at(xs, axis, &Loc::caller())
}

pub(crate) fn concat_at(xs: &[&Tensor], axis: i64, loc: &Loc) -> Result<Tensor> {
    let loc = loc.clone();
    let Some(first) = xs.first() else {
        return Err(Error::Invalid { op: "concat".into(), message: "needs at least one tensor".into(), loc });
    };
    let g = first.graph.clone();
    let op = g.prospective_name("concat");
    let vs = values(&op, &g, xs, &loc)?;
    let first_shape = data_ty(&op, first, &loc)?.shape;
    let rank = first_shape.rank();
    let axis = norm_axis(&op, first, rank, axis, &loc)?;
    // Off the concat axis, a symbol meeting another dim is assumed equal to it and
    // checked when a run binds them, as TF1's shape inference merges unknown dims
    // (`concat([state, action], 1)` of two `[None, d]` placeholders). Two different
    // fixed sizes are left to the op's own check, which names them.
    for x in &xs[1..] {
        let shape = data_ty(&op, x, &loc)?.shape;
        if shape.rank() != rank {
            continue;
        }
        for (a, (d, f)) in shape.0.iter().zip(&first_shape.0).enumerate() {
            if a != axis && (d.is_sym() || f.is_sym()) && !g.same_dim(d, f) {
                let _ = g.constrain(f, d);
            }
        }
    }
    let v = g.add_op(OpKind::Concat { axis }, &vs, None, "concat", &loc)?;
    Ok(g.tensor(v))
}

/// Converts the element type (TF `cast`).
#[track_caller]
pub fn cast(x: &Tensor, dtype: DType) -> Result<Tensor> {
    let loc = Loc::caller();
    let g = x.graph.clone();
    let op = g.prospective_name("Cast");
    let vs = values(&op, &g, &[x], &loc)?;
    let t = data_ty(&op, x, &loc)?;
    let v = g.add_op(OpKind::Convert, &vs, Some(Type::new(dtype, t.shape)), "Cast", &loc)?;
    Ok(g.tensor(v))
}

/// Broadcasts to `shape` by NumPy's rules (TF `broadcast_to`).
#[track_caller]
pub fn broadcast_to(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let loc = Loc::caller();
    let g = x.graph.clone();
    let op = g.prospective_name("BroadcastTo");
    let vs = values(&op, &g, &[x], &loc)?;
    let t = data_ty(&op, x, &loc)?;
    let target = Shape::fixed(shape);
    let out = broadcast_shape(&g, &op, &t.shape, &target, &loc)?;
    if !g.lock().classes.same_shape(&out, &target) {
        return Err(Error::Broadcast { op, lhs: t.shape, rhs: target, loc });
    }
    let v = broadcast_to_shape(&g, vs[0], &t, &target, "BroadcastTo", &loc)?;
    Ok(g.tensor(v))
}

/// Runs all `ops` together; no value (TF `group`).
#[track_caller]
pub fn group(ops: &[&Tensor]) -> Result<Tensor> {
    let loc = Loc::caller();
    let Some(first) = ops.first() else {
        return Err(Error::Invalid { op: "group".into(), message: "needs at least one op".into(), loc });
    };
    let g = first.graph.clone();
    let vs = values("group_deps", &g, ops, &loc)?;
    let v = g.add_op(OpKind::Group, &vs, None, "group_deps", &loc)?;
    Ok(g.tensor(v))
}

/// Stores `value` into the variable `var` when run (TF `assign`). Variable reads in the
/// same run see the value from before the run; assignments land at its end.
#[track_caller]
pub fn assign(var: &Tensor, value: &Tensor) -> Result<Tensor> {
    assign_at(var, value, &Loc::caller())
}

pub(crate) fn assign_at(var: &Tensor, value: &Tensor, loc: &Loc) -> Result<Tensor> {
    let g = var.graph.clone();
    let op = g.prospective_name("Assign");
    let vs = values(&op, &g, &[var, value], loc)?;
    let vid = match g.module().op(vs[0]).kind {
        OpKind::Read(v) => v,
        _ => {
            return Err(Error::Invalid {
                op,
                message: format!("'{}' is not a variable", var.name()),
                loc: loc.clone(),
            });
        }
    };
    let base = format!("{}/Assign", var.op_name());
    let v = g.add_op(OpKind::Assign(vid), &vs[1..], None, &base, loc)?;
    Ok(g.tensor(v))
}

/// TF `expand_dims(x, axis)`: a size-1 dim inserted at `axis` (negative counts from
/// the end: -1 appends). A view: nothing is copied.
#[track_caller]
pub fn expand_dims(x: &Tensor, axis: i64) -> Result<Tensor> {
    expand_dims_at(x, axis, &Loc::caller())
}

pub(crate) fn expand_dims_at(x: &Tensor, axis: i64, loc: &Loc) -> Result<Tensor> {
    let g = x.graph.clone();
    let vs = values("ExpandDims", &g, &[x], loc)?;
    let t = data_ty("ExpandDims", x, loc)?;
    // one more position than dims: -1 appends
    let a = norm_axis("ExpandDims", x, t.shape.rank() + 1, axis, loc)?;
    let mut out = t.shape.0.clone();
    out.insert(a, Dim::Fixed(1));
    let dims: Vec<usize> = (0..t.shape.rank()).map(|i| if i < a { i } else { i + 1 }).collect();
    let ty = Type::new(t.dtype, Shape(out));
    let v = g.add_op(OpKind::Broadcast { dims }, &vs, Some(ty), "ExpandDims", loc)?;
    Ok(g.tensor(v))
}

/// TF `squeeze(x, axis)`: the size-1 dims at `axes` removed (every size-1 dim when
/// `axes` is empty). Removing a dim that is not 1 is an error naming it.
#[track_caller]
pub fn squeeze(x: &Tensor, axes: &[i64]) -> Result<Tensor> {
    let loc = Loc::caller();
    let g = x.graph.clone();
    let vs = values("Squeeze", &g, &[x], &loc)?;
    let t = data_ty("Squeeze", x, &loc)?;
    let r = t.shape.rank();
    let mut drop = vec![false; r];
    if axes.is_empty() {
        for (i, d) in t.shape.0.iter().enumerate() {
            drop[i] = *d == Dim::Fixed(1);
        }
    }
    for &axis in axes {
        let a = norm_axis("Squeeze", x, r, axis, &loc)?;
        if t.shape.0[a] != Dim::Fixed(1) {
            let message = format!(
                "can not squeeze dim[{a}], expected a dimension of 1, got {} (shape {})",
                t.shape.0[a],
                t.shape.tf_string()
            );
            return Err(Error::Invalid { op: "Squeeze".into(), message, loc });
        }
        drop[a] = true;
    }
    let out: Vec<Dim> = t.shape.0.iter().zip(&drop).filter(|(_, &d)| !d).map(|(d, _)| d.clone()).collect();
    let v = g.add_op(OpKind::Reshape, &vs, Some(Type::new(t.dtype, Shape(out))), "Squeeze", &loc)?;
    Ok(g.tensor(v))
}

/// TF `stack(values, axis)`: tensors of one shape joined along a new dim at `axis`.
#[track_caller]
pub fn stack(xs: &[&Tensor], axis: i64) -> Result<Tensor> {
    let loc = Loc::caller();
    let first = xs.first().ok_or_else(|| Error::Invalid {
        op: "stack".into(),
        message: "needs at least one tensor".into(),
        loc: loc.clone(),
    })?;
    let r = data_ty("stack", first, &loc)?.shape.rank() as i64;
    let a = if axis < 0 { axis + r + 1 } else { axis };
    let parts = xs.iter().map(|x| expand_dims_at(x, a, &loc)).collect::<Result<Vec<_>>>()?;
    let refs: Vec<&Tensor> = parts.iter().collect();
    concat_at(&refs, a, &loc)
}

//! Reverse-mode automatic differentiation over the IR (TF `gradients`).
//!
//! Gradients are ordinary IR ops appended to the module, so later passes fuse and
//! compile them like the forward graph. Every op has exactly one rule in [`vjp`]; the
//! match is exhaustive, so a new op cannot be added without deciding its gradient.

use crate::builder::Builder;
use crate::PassError;
use kiln_ir::{BinaryOp, CmpOp, DType, Dim, Loc, Module, OpKind, ReduceOp, Shape, Type, UnaryOp, ValueId};
use std::collections::HashMap;

/// Appends ops computing `d(sum of ys)/d(x)` for each of `xs` and returns them;
/// `None` where `x` does not reach any `y` through differentiable float ops (TF
/// returns `None` there too). `grad_ys` seeds each `y` (default: ones). New ops are
/// named under `prefix` and carry `loc`.
pub fn gradients(
    m: &mut Module,
    ys: &[ValueId],
    grad_ys: Option<&[ValueId]>,
    xs: &[ValueId],
    prefix: &str,
    loc: Option<Loc>,
) -> Result<Vec<Option<ValueId>>, PassError> {
    let n = m.ops.len();
    let fail = |op: String, message: String| PassError { pass: "autodiff", op, message };
    let is_float = |m: &Module, v: ValueId| m.ty(v).is_some_and(|t| t.dtype.is_float());
    // values on a path from some x to some y
    let mut from_x = vec![false; n];
    for v in m.values() {
        from_x[v.index()] = xs.contains(&v) || m.op(v).operands.iter().any(|u| from_x[u.index()]);
    }
    let to_y = reach_back(m, ys);
    let active: Vec<bool> = (0..n).map(|i| from_x[i] && to_y[i]).collect();

    let mut b = Builder::new(m, "autodiff", prefix, loc);
    let mut cot: HashMap<ValueId, ValueId> = HashMap::new();
    for (k, &y) in ys.iter().enumerate() {
        if !is_float(b.m, y) {
            return Err(fail(b.m.op(y).name.clone(), "can only differentiate float tensors".into()));
        }
        let seed = match grad_ys {
            Some(g) => g[k],
            None => {
                let t = b.ty(y);
                b.fill(&t, 1.0)?
            }
        };
        accumulate(&mut b, &mut cot, y, seed)?;
    }
    for i in (0..n).rev() {
        let v = ValueId(i as u32);
        let Some(&g) = cot.get(&v) else { continue };
        if !active[i] {
            continue;
        }
        let operands = b.m.op(v).operands.clone();
        let need: Vec<bool> = operands.iter().map(|u| active[u.index()] && is_float(b.m, *u)).collect();
        let grads = vjp(&mut b, v, g, &need)?;
        for (u, gu) in operands.into_iter().zip(grads) {
            if let Some(gu) = gu {
                if active[u.index()] && is_float(b.m, u) {
                    accumulate(&mut b, &mut cot, u, gu)?;
                }
            }
        }
    }
    Ok(xs.iter().map(|x| cot.get(x).copied()).collect())
}

fn reach_back(m: &Module, roots: &[ValueId]) -> Vec<bool> {
    let mut seen = vec![false; m.ops.len()];
    let mut stack = roots.to_vec();
    while let Some(v) = stack.pop() {
        if !std::mem::replace(&mut seen[v.index()], true) {
            stack.extend(m.op(v).operands.iter().copied());
        }
    }
    seen
}

fn accumulate(b: &mut Builder, cot: &mut HashMap<ValueId, ValueId>, v: ValueId, g: ValueId) -> Result<(), PassError> {
    let g = match cot.get(&v) {
        Some(&prev) => b.binary(BinaryOp::Add, prev, g)?,
        None => g,
    };
    cot.insert(v, g);
    Ok(())
}

/// The gradient of a concat along an axis of unknown size: each operand's rows of `g`,
/// picked by a gather of `iota + offset` (the offset a run-time sum of the earlier
/// operands' sizes), since a slice's begin is a fixed number.
fn concat_vjp_symbolic(
    b: &mut Builder,
    operands: &[ValueId],
    axis: usize,
    g: ValueId,
    need: &dyn Fn(usize) -> bool,
) -> Result<Vec<Option<ValueId>>, PassError> {
    use OpKind as K;
    let rank = b.ty(g).shape.rank();
    let front: Vec<usize> = std::iter::once(axis).chain((0..rank).filter(|&d| d != axis)).collect();
    let gt = if axis == 0 { g } else { b.transpose(g, front.clone())? };
    let mut back = vec![0; rank];
    for (i, &p) in front.iter().enumerate() {
        back[p] = i;
    }
    let mut offset: Option<ValueId> = None;
    let mut out = Vec::with_capacity(operands.len());
    for (i, &u) in operands.iter().enumerate() {
        let tu = b.ty(u);
        let d = tu.shape.0[axis].clone();
        out.push(if need(i) {
            let idx_ty = Type::new(DType::I64, Shape(vec![d.clone()]));
            let mut idx = b.op(K::Iota { axis: 0 }, &[], Some(idx_ty.clone()), "Iota")?;
            if let Some(o) = offset {
                let o = b.broadcast(o, vec![], &idx_ty.shape)?;
                idx = b.binary(BinaryOp::Add, idx, o)?;
            }
            let picked = b.op(K::Gather, &[gt, idx], None, "Gather")?;
            Some(if axis == 0 { picked } else { b.transpose(picked, back.clone())? })
        } else {
            None
        });
        let size = match d.fixed() {
            Some(n) => b.scalar(DType::I64, n as f64)?,
            None => b.op(K::DimSize { axes: vec![axis] }, &[u], Some(Type::scalar(DType::I64)), "DimSize")?,
        };
        offset = Some(match offset {
            Some(o) => b.binary(BinaryOp::Add, o, size)?,
            None => size,
        });
    }
    Ok(out)
}

/// The cotangent of each operand of `v` given the cotangent `g` of its result
/// (`None`: no gradient flows to that operand). Only operands with `need[i]` get ops
/// built, so constants and placeholders cost nothing.
pub fn vjp(b: &mut Builder, v: ValueId, g: ValueId, need: &[bool]) -> Result<Vec<Option<ValueId>>, PassError> {
    let op = b.m.op(v).clone();
    let need = |i: usize| need.get(i).copied().unwrap_or(false);
    let x = |i: usize| op.operands[i];
    let t = b.ty(v);
    use OpKind as K;
    let grads = match &op.kind {
        // leaves and ops with no derivative (integer-valued, piecewise constant, random)
        K::Parameter | K::Constant(_) | K::Read(_) | K::Random { .. } | K::Iota { .. } | K::DimSize { .. } => vec![],
        K::CheckIndex { .. } => vec![None],
        K::Compare(_) | K::ArgMax { .. } => vec![None; op.operands.len()],
        K::StopGradient => vec![None],
        K::Assign(_) | K::Group => vec![None; op.operands.len()],
        K::Unary(u) => vec![Some(unary_vjp(b, *u, x(0), v, g)?)],
        K::Binary(bo) => binary_vjp(b, *bo, x(0), x(1), v, g, [need(0), need(1)])?,
        K::Select => {
            let z = b.zeros_like(g)?;
            let ga = if need(1) { Some(b.select(x(0), g, z)?) } else { None };
            let gb = if need(2) { Some(b.select(x(0), z, g)?) } else { None };
            vec![None, ga, gb]
        }
        K::Broadcast { dims } => vec![Some(unbroadcast(b, g, &b.ty(x(0)), dims)?)],
        K::Reshape => {
            let s = b.ty(x(0)).shape;
            vec![Some(b.reshape(g, &s)?)]
        }
        K::Transpose { perm } => {
            let mut inv = vec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inv[p] = i;
            }
            vec![Some(b.transpose(g, inv)?)]
        }
        K::Slice { begin } => vec![Some(unslice(b, g, &b.ty(x(0)), begin)?)],
        K::Concat { axis } if op.operands.iter().any(|&u| b.ty(u).shape.0[*axis].is_sym()) => {
            concat_vjp_symbolic(b, &op.operands, *axis, g, &need)?
        }
        K::Concat { axis } => {
            let mut off = 0u64;
            let mut out = Vec::new();
            for (i, &u) in op.operands.iter().enumerate() {
                let tu = b.ty(u);
                let mut beg = vec![0u64; tu.shape.rank()];
                beg[*axis] = off;
                off += tu.shape.0[*axis].fixed().unwrap_or(0);
                out.push(if need(i) {
                    Some(b.op(K::Slice { begin: beg }, &[g], Some(Type::new(t.dtype, tu.shape)), "Slice")?)
                } else {
                    None
                });
            }
            out
        }
        K::Reduce { op: r, axes, keepdims } => vec![Some(reduce_vjp(b, *r, x(0), v, g, axes, *keepdims)?)],
        K::MatMul => {
            let ga = if need(0) {
                let bt = b.transpose_last2(x(1))?;
                Some(b.matmul(g, bt)?)
            } else {
                None
            };
            let gb = if need(1) {
                let at = b.transpose_last2(x(0))?;
                Some(b.matmul(at, g)?)
            } else {
                None
            };
            vec![ga, gb]
        }
        K::Convert => {
            let tx = b.ty(x(0));
            if tx.dtype.is_float() && t.dtype.is_float() {
                vec![Some(b.convert(g, tx.dtype)?)]
            } else {
                vec![None]
            }
        }
        K::Gather if need(0) => {
            let tp = b.ty(x(0));
            vec![Some(b.op(K::ScatterAdd, &[x(1), g], Some(tp), "ScatterAdd")?), None]
        }
        K::Gather => vec![None, None],
        // each input feeds every later (or earlier) sum: the adjoint runs the other way
        K::Cumsum { axis, exclusive, reverse } => {
            let back = K::Cumsum { axis: *axis, exclusive: *exclusive, reverse: !*reverse };
            vec![Some(b.op(back, &[g], None, "Cumsum")?)]
        }
        K::ScatterAdd => vec![None, Some(b.op(K::Gather, &[g, x(0)], None, "Gather")?)],
    };
    Ok(grads)
}

fn unary_vjp(b: &mut Builder, u: UnaryOp, x: ValueId, y: ValueId, g: ValueId) -> Result<ValueId, PassError> {
    use BinaryOp::*;
    Ok(match u {
        UnaryOp::Neg => b.unary(UnaryOp::Neg, g)?,
        UnaryOp::Abs => {
            let s = b.unary(UnaryOp::Sign, x)?;
            b.binary(Mul, g, s)?
        }
        // piecewise constant: zero almost everywhere
        UnaryOp::Sign => b.zeros_like(g)?,
        UnaryOp::Exp => b.binary(Mul, g, y)?,
        UnaryOp::Log => b.binary(Div, g, x)?,
        UnaryOp::Sqrt => {
            let two_y = b.binary_scalar(Mul, y, 2.0)?;
            b.binary(Div, g, two_y)?
        }
        UnaryOp::Rsqrt => {
            // d/dx x^-1/2 = -1/2 y^3
            let y2 = b.binary(Mul, y, y)?;
            let y3 = b.binary(Mul, y2, y)?;
            let k = b.binary_scalar(Mul, y3, -0.5)?;
            b.binary(Mul, g, k)?
        }
        UnaryOp::Square => {
            let two_x = b.binary_scalar(Mul, x, 2.0)?;
            b.binary(Mul, g, two_x)?
        }
        UnaryOp::Tanh => {
            let y2 = b.binary(Mul, y, y)?;
            let one = b.fill(&b.ty(y), 1.0)?;
            let d = b.binary(Sub, one, y2)?;
            b.binary(Mul, g, d)?
        }
        UnaryOp::Sigmoid => {
            let one = b.fill(&b.ty(y), 1.0)?;
            let omy = b.binary(Sub, one, y)?;
            let d = b.binary(Mul, y, omy)?;
            b.binary(Mul, g, d)?
        }
        UnaryOp::Relu => {
            // TF's rule (ReluGrad reads the output): the gradient at exactly 0 is 0.
            // y > 0 exactly where x > 0, and reading y leaves x dead after the forward
            // pass, so a fused forward kernel need not store it
            let z = b.zeros_like(y)?;
            let pos = b.compare(CmpOp::Gt, y, z)?;
            let zg = b.zeros_like(g)?;
            b.select(pos, g, zg)?
        }
        // d/dx log(1 + e^x) = sigmoid(x)
        UnaryOp::Softplus => {
            let s = b.unary(UnaryOp::Sigmoid, x)?;
            b.binary(Mul, g, s)?
        }
        UnaryOp::Log1p => {
            let one = b.fill(&b.ty(x), 1.0)?;
            let xp1 = b.binary(Add, x, one)?;
            b.binary(Div, g, xp1)?
        }
        UnaryOp::Elu => {
            // TF's EluGrad reads the output: g where y > 0, else g * (y + 1)
            let z = b.zeros_like(y)?;
            let pos = b.compare(CmpOp::Gt, y, z)?;
            let one = b.fill(&b.ty(y), 1.0)?;
            let yp1 = b.binary(Add, y, one)?;
            let neg = b.binary(Mul, g, yp1)?;
            b.select(pos, g, neg)?
        }
    })
}

fn binary_vjp(
    b: &mut Builder,
    bo: BinaryOp,
    x: ValueId,
    y: ValueId,
    z: ValueId,
    g: ValueId,
    need: [bool; 2],
) -> Result<Vec<Option<ValueId>>, PassError> {
    use BinaryOp::*;
    let mut out = vec![None, None];
    for (side, wanted) in need.into_iter().enumerate() {
        if !wanted {
            continue;
        }
        out[side] = Some(match (bo, side) {
            (Add, _) | (Sub, 0) => g,
            (Sub, _) => b.unary(UnaryOp::Neg, g)?,
            (Mul, 0) => b.binary(Mul, g, y)?,
            (Mul, _) => b.binary(Mul, g, x)?,
            (Div, 0) => b.binary(Div, g, y)?,
            (Div, _) => {
                // -g x / y^2, written as -g (x/y) / y
                let zy = b.binary(Div, z, y)?;
                let t = b.binary(Mul, g, zy)?;
                b.unary(UnaryOp::Neg, t)?
            }
            (Pow, 0) => {
                let ym1 = b.binary_scalar(Sub, y, 1.0)?;
                let p = b.binary(Pow, x, ym1)?;
                let yp = b.binary(Mul, y, p)?;
                b.binary(Mul, g, yp)?
            }
            (Pow, _) => {
                // d/dy x^y = z log x, taken as 0 where x <= 0 (TF's rule)
                let zero = b.zeros_like(x)?;
                let pos = b.compare(CmpOp::Gt, x, zero)?;
                let lx = b.unary(UnaryOp::Log, x)?;
                let zl = b.binary(Mul, z, lx)?;
                let gz = b.binary(Mul, g, zl)?;
                let zg = b.zeros_like(g)?;
                b.select(pos, gz, zg)?
            }
            (Maximum | Minimum, _) => {
                // ties go to x, as in TF
                let c = if bo == Maximum { CmpOp::Ge } else { CmpOp::Le };
                let mask = b.compare(c, x, y)?;
                let zg = b.zeros_like(g)?;
                if side == 0 {
                    b.select(mask, g, zg)?
                } else {
                    b.select(mask, zg, g)?
                }
            }
        });
    }
    Ok(out)
}

/// The adjoint of a broadcast: sum over new axes and over expanded size-1 axes.
fn unbroadcast(b: &mut Builder, g: ValueId, tx: &Type, dims: &[usize]) -> Result<ValueId, PassError> {
    let tg = b.ty(g);
    let one = Dim::Fixed(1);
    let sum_axes: Vec<usize> = (0..tg.shape.rank())
        .filter(|a| match dims.iter().position(|d| d == a) {
            None => true,
            Some(i) => tx.shape.0[i] == one && !b.same_dim(&tg.shape.0[*a], &one),
        })
        .collect();
    let r = if sum_axes.is_empty() { g } else { b.reduce(ReduceOp::Sum, g, sum_axes, false)? };
    b.reshape(r, &tx.shape)
}

/// The adjoint of a slice: the cotangent padded with zeros to the operand's shape.
fn unslice(b: &mut Builder, g: ValueId, tx: &Type, begin: &[u64]) -> Result<ValueId, PassError> {
    let mut cur = g;
    for (a, &beg) in begin.iter().enumerate() {
        let tc = b.ty(cur);
        let (Some(n), Some(s)) = (tx.shape.0[a].fixed(), tc.shape.0[a].fixed()) else { continue };
        let after = n - beg - s;
        let mut parts = Vec::new();
        for (len, is_before) in [(beg, true), (after, false)] {
            if len == 0 {
                continue;
            }
            let mut shape = tc.shape.clone();
            shape.0[a] = Dim::Fixed(len);
            let z = b.fill(&Type::new(tc.dtype, shape), 0.0)?;
            parts.push((z, is_before));
        }
        if parts.is_empty() {
            continue;
        }
        let mut ops: Vec<ValueId> = parts.iter().filter(|p| p.1).map(|p| p.0).collect();
        ops.push(cur);
        ops.extend(parts.iter().filter(|p| !p.1).map(|p| p.0));
        cur = b.op(OpKind::Concat { axis: a }, &ops, None, "Pad")?;
    }
    Ok(cur)
}

fn reduce_vjp(
    b: &mut Builder,
    r: ReduceOp,
    x: ValueId,
    y: ValueId,
    g: ValueId,
    axes: &[usize],
    keepdims: bool,
) -> Result<ValueId, PassError> {
    let tx = b.ty(x);
    let rank = tx.shape.rank();
    let kept: Vec<usize> =
        if keepdims { (0..rank).collect() } else { (0..rank).filter(|a| !axes.contains(a)).collect() };
    let spread = |b: &mut Builder, v: ValueId| b.broadcast(v, kept.clone(), &tx.shape);
    let gb = spread(b, g)?;
    Ok(match r {
        ReduceOp::Sum => gb,
        ReduceOp::Mean => {
            let fixed: Option<u64> = axes.iter().map(|&a| tx.shape.0[a].fixed()).product();
            match fixed {
                Some(n) => b.binary_scalar(BinaryOp::Mul, gb, 1.0 / n.max(1) as f64)?,
                None => {
                    // a symbolic batch: divide by its size bound at run time
                    let n =
                        b.op(OpKind::DimSize { axes: axes.to_vec() }, &[x], Some(Type::scalar(tx.dtype)), "Size")?;
                    let nb = b.broadcast(n, vec![], &tx.shape)?;
                    b.binary(BinaryOp::Div, gb, nb)?
                }
            }
        }
        ReduceOp::Max | ReduceOp::Min => {
            // split the gradient evenly among the tied extrema, as TF does
            let yb = spread(b, y)?;
            let hit = b.compare(CmpOp::Eq, x, yb)?;
            let mask = b.convert(hit, tx.dtype)?;
            let cnt = b.reduce(ReduceOp::Sum, mask, axes.to_vec(), keepdims)?;
            let cb = spread(b, cnt)?;
            let share = b.binary(BinaryOp::Div, mask, cb)?;
            b.binary(BinaryOp::Mul, gb, share)?
        }
        ReduceOp::Prod => {
            // the product of the others, without dividing by zero (TF1's cumprod trick
            // gives the same): over the nonzeros `p`, with `k` zeros in the group, it is
            // p / x where k = 0, p at the zero where k = 1, and 0 elsewhere
            let zero = b.fill(&tx, 0.0)?;
            let one = b.fill(&tx, 1.0)?;
            let z = b.compare(CmpOp::Eq, x, zero)?;
            let safe = b.select(z, one, x)?;
            let p = b.reduce(ReduceOp::Prod, safe, axes.to_vec(), keepdims)?;
            let zf = b.convert(z, tx.dtype)?;
            let k = b.reduce(ReduceOp::Sum, zf, axes.to_vec(), keepdims)?;
            let (pb, kb) = (spread(b, p)?, spread(b, k)?);
            let others = b.binary(BinaryOp::Div, pb, safe)?;
            let none = b.compare(CmpOp::Eq, kb, zero)?;
            let single = b.compare(CmpOp::Eq, kb, one)?;
            let at_zero = b.select(single, pb, zero)?;
            let at_nonzero = b.select(none, others, zero)?;
            let share = b.select(z, at_zero, at_nonzero)?;
            b.binary(BinaryOp::Mul, gb, share)?
        }
    })
}

//! Expands `argmax` into reductions and elementwise ops the kernels compile:
//!
//! ```text
//! y     = select x != x, -inf, x                  (float x only: NaNs skipped)
//! m     = reduce_max y  over the axis
//! first = reduce_min (select x == m, iota, MAX)  over the axis
//! index = convert (select first < MAX, first, 0)   (float x only: a lane of NaNs)
//! ```
//!
//! which is TF1's rule and the interpreter's exactly: the first index of the largest
//! element, NaNs skipped (Eigen's `>` scan never picks one), 0 for a lane of NaNs. The
//! comparisons each feed one select, so fusion keeps them in registers. The result
//! keeps the op's name.

use crate::PassError;
use kiln_ir::{infer_type, CmpOp, DType, Literal, Module, Op, OpKind, ReduceOp, Shape, Type, ValueId};
use std::collections::HashSet;

/// Expands every argmax. Returns the old-to-new value map, or `None` if there was none.
pub fn run(m: &mut Module, roots: &mut [ValueId]) -> Result<Option<Vec<Option<ValueId>>>, PassError> {
    if !m.ops.iter().any(|o| matches!(o.kind, OpKind::ArgMax { .. })) {
        return Ok(None);
    }
    let classes = m.dim_classes();
    let mut names: HashSet<String> = m.ops.iter().map(|o| o.name.clone()).collect();
    let mut out = Module { vars: m.vars.clone(), constraints: m.constraints.clone(), ops: Vec::new() };
    let mut map: Vec<Option<ValueId>> = vec![None; m.ops.len()];
    for (i, op) in std::mem::take(&mut m.ops).into_iter().enumerate() {
        let mut op = op;
        for u in op.operands.iter_mut() {
            *u = map[u.index()].expect("operands come first");
        }
        let OpKind::ArgMax { axis } = op.kind else {
            map[i] = Some(ValueId(out.ops.len() as u32));
            out.ops.push(op);
            continue;
        };
        let fail = |message: String| PassError { pass: "expand_argmax", op: op.name.clone(), message };
        let x = op.operands[0];
        let xt = out.ty(x).cloned().ok_or_else(|| fail("an operand without a type".into()))?;
        let result = op.ty.clone().ok_or_else(|| fail("an argmax without a type".into()))?;
        let mut push = |kind: OpKind, operands: &[ValueId], declared: Option<Type>, base: &str| {
            let ty = infer_type(&out, &classes, &kind, operands, declared.as_ref()).map_err(fail)?;
            let mut name = format!("{}/{base}", op.name);
            let mut k = 0;
            while names.contains(&name) {
                k += 1;
                name = format!("{}/{base}_{k}", op.name);
            }
            names.insert(name.clone());
            out.ops.push(Op { kind, operands: operands.to_vec(), ty, name, loc: op.loc.clone() });
            Ok::<ValueId, PassError>(ValueId(out.ops.len() as u32 - 1))
        };
        let r = xt.shape.rank();
        let keep: Vec<usize> = (0..r).filter(|&d| d != axis).collect();
        let reduce = |op: ReduceOp| OpKind::Reduce { op, axes: vec![axis], keepdims: false };
        let int_shape = |s: &Shape| Some(Type::new(DType::I32, s.clone()));
        // TF1's rule (Eigen's `>` scan): NaNs are skipped, a lane of NaNs gives 0. So
        // the max is over the non-NaN values, and the index is the first equal to it.
        let scan = if xt.dtype.is_float() {
            let isnan = push(OpKind::Compare(CmpOp::Ne), &[x, x], None, "is_nan")?;
            let lowest = match xt.dtype {
                DType::F64 => Literal::F64(vec![f64::NEG_INFINITY]),
                _ => Literal::F32(vec![f32::NEG_INFINITY]),
            };
            let scalar = Some(Type::new(xt.dtype, Shape::scalar()));
            let lo = push(OpKind::Constant(lowest), &[], scalar, "lowest")?;
            let lob = push(OpKind::Broadcast { dims: vec![] }, &[lo], Some(xt.clone()), "lowest_b")?;
            push(OpKind::Select, &[isnan, lob, x], None, "no_nan")?
        } else {
            x
        };
        let m_ = push(reduce(ReduceOp::Max), &[scan], None, "max")?;
        let mb = push(OpKind::Broadcast { dims: keep.clone() }, &[m_], Some(xt.clone()), "max_b")?;
        let iota = push(OpKind::Iota { axis }, &[], int_shape(&xt.shape), "iota")?;
        let big = push(OpKind::Constant(Literal::I32(vec![i32::MAX])), &[], int_shape(&Shape::scalar()), "none")?;
        let bigb = push(OpKind::Broadcast { dims: vec![] }, &[big], int_shape(&xt.shape), "none_b")?;
        let c = push(OpKind::Compare(CmpOp::Eq), &[x, mb], None, "is_max")?;
        let s = push(OpKind::Select, &[c, iota, bigb], None, "is_max_at")?;
        let mut first = push(reduce(ReduceOp::Min), &[s], None, "is_max_first")?;
        if xt.dtype.is_float() {
            // all NaN: nothing equals the max
            let reduced = Shape(keep.iter().map(|&d| xt.shape.0[d].clone()).collect());
            let bign = push(OpKind::Broadcast { dims: vec![] }, &[big], int_shape(&reduced), "none_r")?;
            let found = push(OpKind::Compare(CmpOp::Lt), &[first, bign], None, "found")?;
            let zero = push(OpKind::Constant(Literal::I32(vec![0])), &[], int_shape(&Shape::scalar()), "zero")?;
            let zerob = push(OpKind::Broadcast { dims: vec![] }, &[zero], int_shape(&reduced), "zero_r")?;
            first = push(OpKind::Select, &[found, first, zerob], None, "index")?;
        }
        // the result keeps the argmax's name, so fetches by name still find it
        let ty = infer_type(&out, &classes, &OpKind::Convert, &[first], Some(&result)).map_err(fail)?;
        out.ops.push(Op {
            kind: OpKind::Convert,
            operands: vec![first],
            ty,
            name: op.name.clone(),
            loc: op.loc.clone(),
        });
        map[i] = Some(ValueId(out.ops.len() as u32 - 1));
    }
    *m = out;
    for r in roots.iter_mut() {
        *r = map[r.index()].expect("every op is kept");
    }
    Ok(Some(map))
}

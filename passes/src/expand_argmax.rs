//! Expands `argmax` into reductions and elementwise ops the kernels compile:
//!
//! ```text
//! m     = reduce_max x  over the axis          (NaN propagates)
//! first = reduce_min (select x == m, iota, MAX)  over the axis
//! nan   = reduce_min (select x != x, iota, MAX)  over the axis   (float x only)
//! index = convert (select nan < MAX, nan, first)
//! ```
//!
//! which is the interpreter's rule exactly: the first index of the largest element,
//! and NaN counts as largest (the first NaN wins). The comparisons each feed one
//! select, so fusion keeps them in registers. The result keeps the op's name.

use crate::PassError;
use kiln_ir::{infer_type, CmpOp, DType, Literal, Module, Op, OpKind, ReduceOp, Shape, Type, ValueId};
use std::collections::HashSet;

/// Appends one checked op: kind, operands, declared type, name under the argmax's.
type Push<'a> = dyn FnMut(OpKind, &[ValueId], Option<Type>, &str) -> Result<ValueId, PassError> + 'a;

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
        let m_ = push(reduce(ReduceOp::Max), &[x], None, "max")?;
        let mb = push(OpKind::Broadcast { dims: keep.clone() }, &[m_], Some(xt.clone()), "max_b")?;
        let iota = push(OpKind::Iota { axis }, &[], int_shape(&xt.shape), "iota")?;
        let big = push(OpKind::Constant(Literal::I32(vec![i32::MAX])), &[], int_shape(&Shape::scalar()), "none")?;
        let bigb = push(OpKind::Broadcast { dims: vec![] }, &[big], int_shape(&xt.shape), "none_b")?;
        let first_of = |push: &mut Push, cmp: CmpOp, y: ValueId, base: &str| {
            let c = push(OpKind::Compare(cmp), &[x, y], None, base)?;
            let s = push(OpKind::Select, &[c, iota, bigb], None, &format!("{base}_at"))?;
            push(reduce(ReduceOp::Min), &[s], None, &format!("{base}_first"))
        };
        let mut first = first_of(&mut push, CmpOp::Eq, mb, "is_max")?;
        if xt.dtype.is_float() {
            let nan = first_of(&mut push, CmpOp::Ne, x, "is_nan")?;
            let reduced = Shape(keep.iter().map(|&d| xt.shape.0[d].clone()).collect());
            let bign = push(OpKind::Broadcast { dims: vec![] }, &[big], int_shape(&reduced), "none_r")?;
            let has = push(OpKind::Compare(CmpOp::Lt), &[nan, bign], None, "has_nan")?;
            first = push(OpKind::Select, &[has, nan, first], None, "index")?;
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

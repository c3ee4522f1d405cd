//! Result-type rules: one function that checks an op's operands and attributes and
//! computes its result type. The frontend builds with it and the verifier re-checks
//! with it, so the two can never disagree.

use crate::{BinaryOp, DType, Dim, DimClasses, Module, OpKind, RandomDist, ReduceOp, Shape, Type, ValueId};

/// Checks `kind` applied to `operands` and returns the result type (`None` for ops
/// without a result). Ops whose result shape is an attribute (parameter, constant,
/// random, broadcast, reshape, slice, convert) take it from `declared`.
pub fn infer_type(
    m: &Module,
    classes: &DimClasses,
    kind: &OpKind,
    operands: &[ValueId],
    declared: Option<&Type>,
) -> Result<Option<Type>, String> {
    let mut tys = Vec::with_capacity(operands.len());
    for (i, &v) in operands.iter().enumerate() {
        if v.index() >= m.ops.len() {
            return Err(format!("operand {i} ({v}) is not defined"));
        }
        match m.ty(v) {
            Some(t) => tys.push(t),
            None if matches!(kind, OpKind::Group) => {}
            None => {
                return Err(format!("operand {i} (%{}) has no value", m.op(v).name));
            }
        }
    }
    let arity = |n: usize| -> Result<(), String> {
        if operands.len() == n {
            Ok(())
        } else {
            Err(format!("expects {n} operand(s), got {}", operands.len()))
        }
    };
    let need_decl = || declared.cloned().ok_or_else(|| "needs a declared result type".to_string());
    let ty = match kind {
        OpKind::Parameter => {
            arity(0)?;
            Some(need_decl()?)
        }
        OpKind::Constant(lit) => {
            arity(0)?;
            let t = need_decl()?;
            if t.dtype != lit.dtype() {
                return Err(format!("literal of {} declared as {}", lit.dtype(), t.dtype));
            }
            let n =
                t.shape.fixed_elements().filter(|_| !t.shape.has_sym()).ok_or("a constant's shape must be fixed")?;
            if n != lit.len() as u64 {
                return Err(format!("{} literal values for shape {} ({n} elements)", lit.len(), t.shape));
            }
            Some(t)
        }
        OpKind::Read(var) => {
            arity(0)?;
            let v = m.vars.get(var.index()).ok_or("reads an undeclared variable")?;
            Some(v.ty.clone())
        }
        OpKind::Assign(var) => {
            arity(1)?;
            let v = m.vars.get(var.index()).ok_or("assigns an undeclared variable")?;
            let t = tys[0];
            if t.dtype != v.ty.dtype || !classes.same_shape(&t.shape, &v.ty.shape) {
                return Err(format!("assigns {t} to variable @{} of type {}", v.name, v.ty));
            }
            None
        }
        OpKind::Random { dist, .. } => {
            arity(0)?;
            let t = need_decl()?;
            if !t.dtype.is_float() {
                return Err(format!("random values must be float, not {}", t.dtype));
            }
            // a symbolic dim (a batch) is bound by the feeds of the run that draws
            let bad = match *dist {
                RandomDist::Uniform { min, max } => !min.is_finite() || !max.is_finite() || min > max,
                RandomDist::Normal { stddev, .. } | RandomDist::TruncatedNormal { stddev, .. } => {
                    !stddev.is_finite() || stddev < 0.0
                }
            };
            if bad {
                return Err(format!("invalid distribution {dist:?}"));
            }
            Some(t)
        }
        OpKind::Unary(u) => {
            arity(1)?;
            let t = tys[0];
            if !t.dtype.is_numeric() {
                return Err(format!("{} is not defined on {}", kind.mnemonic(), t.dtype));
            }
            if u.operands() == crate::Operands::Float && !t.dtype.is_float() {
                return Err(format!("{} needs a float operand, got {}", kind.mnemonic(), t.dtype));
            }
            Some(t.clone())
        }
        OpKind::Binary(b) => {
            arity(2)?;
            same_type(classes, tys[0], tys[1])?;
            if !tys[0].dtype.is_numeric() {
                return Err(format!("{} is not defined on {}", kind.mnemonic(), tys[0].dtype));
            }
            if *b == BinaryOp::Pow && !tys[0].dtype.is_float() {
                return Err(format!("pow needs float operands, got {}", tys[0].dtype));
            }
            Some(tys[0].clone())
        }
        OpKind::Compare(_) => {
            arity(2)?;
            same_type(classes, tys[0], tys[1])?;
            Some(Type::new(DType::Bool, tys[0].shape.clone()))
        }
        OpKind::Select => {
            arity(3)?;
            if tys[0].dtype != DType::Bool {
                return Err(format!("condition must be bool, got {}", tys[0].dtype));
            }
            same_type(classes, tys[1], tys[2])?;
            if !classes.same_shape(&tys[0].shape, &tys[1].shape) {
                return Err(format!("condition shape {} differs from {}", tys[0].shape, tys[1].shape));
            }
            Some(tys[1].clone())
        }
        OpKind::Broadcast { dims } => {
            arity(1)?;
            let t = need_decl()?;
            let x = tys[0];
            check_dtype(x.dtype, t.dtype)?;
            if dims.len() != x.shape.rank() {
                return Err(format!("dims={dims:?} has {} entries for operand rank {}", dims.len(), x.shape.rank()));
            }
            check_increasing(dims, t.shape.rank(), "dims")?;
            for (i, &r) in dims.iter().enumerate() {
                let (od, rd) = (&x.shape.0[i], &t.shape.0[r]);
                if *od != Dim::Fixed(1) && !classes.same(od, rd) {
                    return Err(format!("operand dim {i} ({od}) cannot broadcast to result dim {r} ({rd})"));
                }
            }
            Some(t)
        }
        OpKind::Reshape => {
            arity(1)?;
            let t = need_decl()?;
            check_dtype(tys[0].dtype, t.dtype)?;
            if !same_count(classes, &tys[0].shape, &t.shape) {
                return Err(format!("cannot reshape {} to {}: element counts differ", tys[0].shape, t.shape));
            }
            Some(t)
        }
        OpKind::Transpose { perm } => {
            arity(1)?;
            let x = tys[0];
            let mut seen = vec![false; perm.len()];
            if perm.len() != x.shape.rank()
                || perm.iter().any(|&p| p >= perm.len() || std::mem::replace(&mut seen[p], true))
            {
                return Err(format!("perm={perm:?} is not a permutation of rank {}", x.shape.rank()));
            }
            Some(Type::new(x.dtype, Shape(perm.iter().map(|&p| x.shape.0[p].clone()).collect())))
        }
        OpKind::Slice { begin } => {
            arity(1)?;
            let t = need_decl()?;
            let x = tys[0];
            check_dtype(x.dtype, t.dtype)?;
            if begin.len() != x.shape.rank() || t.shape.rank() != x.shape.rank() {
                return Err(format!(
                    "begin={begin:?} and result {} do not match operand rank {}",
                    t.shape,
                    x.shape.rank()
                ));
            }
            for (a, ((od, rd), &b)) in x.shape.0.iter().zip(&t.shape.0).zip(begin).enumerate() {
                let ok = match (classes.canon(od), classes.canon(rd)) {
                    (Dim::Fixed(n), Dim::Fixed(s)) => b.checked_add(s).is_some_and(|end| end <= n),
                    (o, r) => b == 0 && o == r,
                };
                if !ok {
                    return Err(format!("axis {a}: [{b}, {b}+{rd}) is outside 0..{od}"));
                }
            }
            Some(t)
        }
        OpKind::Concat { axis } => {
            if tys.is_empty() {
                return Err("expects at least one operand".into());
            }
            let first = tys[0];
            let rank = first.shape.rank();
            if *axis >= rank {
                return Err(format!("axis {axis} out of range for rank {rank}"));
            }
            // along the axis, the sizes add: a symbol's size is summed when a run binds it
            let mut parts = Vec::with_capacity(tys.len());
            for (i, t) in tys.iter().enumerate() {
                check_dtype(first.dtype, t.dtype)?;
                if t.shape.rank() != rank {
                    return Err(format!("operand {i} has rank {}, expected {rank}", t.shape.rank()));
                }
                for a in 0..rank {
                    if a == *axis {
                        parts.push(classes.canon(&t.shape.0[a]));
                    } else if !classes.same(&t.shape.0[a], &first.shape.0[a]) {
                        return Err(format!(
                            "operand {i} shape {} differs from {} off axis {axis}",
                            t.shape, first.shape
                        ));
                    }
                }
            }
            let mut s = first.shape.clone();
            s.0[*axis] = Dim::sum(&parts).ok_or("the concat axis overflows")?;
            Some(Type::new(first.dtype, s))
        }
        OpKind::Reduce { op, axes, keepdims } => {
            arity(1)?;
            let x = tys[0];
            if !x.dtype.is_numeric() {
                return Err(format!("{} is not defined on {}", kind.mnemonic(), x.dtype));
            }
            if *op == ReduceOp::Mean && !x.dtype.is_float() {
                return Err(format!("reduce_mean needs a float operand, got {}", x.dtype));
            }
            check_increasing(axes, x.shape.rank(), "axes")?;
            let dims = x
                .shape
                .0
                .iter()
                .enumerate()
                .filter_map(|(i, d)| match (axes.contains(&i), keepdims) {
                    (false, _) => Some(d.clone()),
                    (true, true) => Some(Dim::Fixed(1)),
                    (true, false) => None,
                })
                .collect();
            Some(Type::new(x.dtype, Shape(dims)))
        }
        OpKind::MatMul => {
            arity(2)?;
            let (a, b) = (tys[0], tys[1]);
            check_dtype(a.dtype, b.dtype)?;
            if !a.dtype.is_numeric() {
                return Err(format!("matmul is not defined on {}", a.dtype));
            }
            let r = a.shape.rank();
            if r < 2 || b.shape.rank() != r {
                return Err(format!("operands must have equal rank >= 2, got {} and {}", a.shape, b.shape));
            }
            for i in 0..r - 2 {
                if !classes.same(&a.shape.0[i], &b.shape.0[i]) {
                    return Err(format!("batch dims differ: {} and {}", a.shape, b.shape));
                }
            }
            if !classes.same(&a.shape.0[r - 1], &b.shape.0[r - 2]) {
                return Err(format!("inner dims differ: {} and {}", a.shape, b.shape));
            }
            let mut s = a.shape.clone();
            s.0[r - 1] = b.shape.0[r - 1].clone();
            Some(Type::new(a.dtype, s))
        }
        OpKind::Convert => {
            arity(1)?;
            let t = need_decl()?;
            if !classes.same_shape(&t.shape, &tys[0].shape) {
                return Err(format!("convert changes shape {} to {}", tys[0].shape, t.shape));
            }
            Some(t)
        }
        OpKind::Group => None,
        OpKind::StopGradient => {
            arity(1)?;
            Some(tys[0].clone())
        }
        OpKind::DimSize { axes } => {
            arity(1)?;
            let t = need_decl()?;
            check_increasing(axes, tys[0].shape.rank(), "axes")?;
            if t.shape.rank() != 0 || !t.dtype.is_numeric() {
                return Err(format!("result must be a numeric scalar, not {t}"));
            }
            Some(t)
        }
        OpKind::Iota { axis } => {
            arity(0)?;
            let t = need_decl()?;
            if *axis >= t.shape.rank() || !t.dtype.is_numeric() {
                return Err(format!("axis {axis} of a numeric result, got {t}"));
            }
            Some(t)
        }
        OpKind::Cumsum { axis, .. } => {
            arity(1)?;
            let x = tys[0];
            if !x.dtype.is_numeric() {
                return Err(format!("cumsum needs a numeric operand, got {}", x.dtype));
            }
            if *axis >= x.shape.rank() {
                return Err(format!("axis {axis} out of range for rank {}", x.shape.rank()));
            }
            Some(x.clone())
        }
        OpKind::ArgMax { axis } => {
            arity(1)?;
            let t = need_decl()?;
            let x = tys[0];
            if !x.dtype.is_numeric() || !t.dtype.is_int() {
                return Err(format!("argmax of {} into {} needs numeric input and integer output", x.dtype, t.dtype));
            }
            if *axis >= x.shape.rank() {
                return Err(format!("axis {axis} out of range for rank {}", x.shape.rank()));
            }
            let mut s = x.shape.clone();
            s.0.remove(*axis);
            Some(Type::new(t.dtype, s))
        }
        OpKind::Gather => {
            arity(2)?;
            let (p, i) = (tys[0], tys[1]);
            if !i.dtype.is_int() {
                return Err(format!("indices must be integers, got {}", i.dtype));
            }
            if p.shape.rank() == 0 {
                return Err("params must have rank >= 1".into());
            }
            let mut dims = i.shape.0.clone();
            dims.extend(p.shape.0[1..].iter().cloned());
            Some(Type::new(p.dtype, Shape(dims)))
        }
        OpKind::CheckIndex { .. } => {
            arity(1)?;
            if !tys[0].dtype.is_int() {
                return Err(format!("indices must be integers, got {}", tys[0].dtype));
            }
            Some(tys[0].clone())
        }
        OpKind::ScatterAdd => {
            arity(2)?;
            let t = need_decl()?;
            let (i, u) = (tys[0], tys[1]);
            if !i.dtype.is_int() {
                return Err(format!("indices must be integers, got {}", i.dtype));
            }
            check_dtype(t.dtype, u.dtype)?;
            if t.shape.rank() == 0 {
                return Err("result must have rank >= 1".into());
            }
            let mut want = i.shape.0.clone();
            want.extend(t.shape.0[1..].iter().cloned());
            if !classes.same_shape(&Shape(want.clone()), &u.shape) {
                return Err(format!("updates have shape {}, expected {}", u.shape, Shape(want)));
            }
            Some(t)
        }
    };
    if let Some(t) = &ty {
        t.shape.check_size()?;
    }
    Ok(ty)
}

fn same_type(c: &DimClasses, a: &Type, b: &Type) -> Result<(), String> {
    check_dtype(a.dtype, b.dtype)?;
    if !c.same_shape(&a.shape, &b.shape) {
        return Err(format!("operand shapes differ: {} and {}", a.shape, b.shape));
    }
    Ok(())
}

fn check_dtype(a: DType, b: DType) -> Result<(), String> {
    if a != b {
        return Err(format!("dtypes differ: {a} and {b}"));
    }
    Ok(())
}

fn check_increasing(xs: &[usize], bound: usize, what: &str) -> Result<(), String> {
    for (i, &x) in xs.iter().enumerate() {
        if x >= bound {
            return Err(format!("{what}={xs:?}: {x} is out of range for rank {bound}"));
        }
        if i > 0 && xs[i - 1] >= x {
            return Err(format!("{what}={xs:?} must be strictly increasing"));
        }
    }
    Ok(())
}

/// Element counts equal for every binding of the symbols: the fixed products match
/// and the symbols match as multisets.
fn same_count(c: &DimClasses, a: &Shape, b: &Shape) -> bool {
    let split = |s: &Shape| {
        let mut fixed = 1u64;
        let mut syms = Vec::new();
        for d in &s.0 {
            match c.canon(d) {
                Dim::Fixed(n) => fixed = fixed.saturating_mul(n),
                sym => syms.push(sym),
            }
        }
        syms.sort();
        (fixed, syms)
    };
    let (fa, sa) = split(a);
    let (fb, sb) = split(b);
    // a zero-sized tensor reshapes to any zero-sized one
    (fa == 0 && fb == 0) || (fa == fb && sa == sb)
}

//! TF1's math functions that are compositions of IR ops: `matmul` with transposes,
//! `add_n`, `reduce_logsumexp`, `reduce_any`/`reduce_all`, `argmin`, and clipping
//! (`clip_by_value` with tensor bounds, `clip_by_norm`, `clip_by_global_norm`).

use crate::array_ops::{reshape_dims, TensorLike};
use crate::ops::{binary_at, data_ty, norm_axis, reduce_at, unary_at};
use crate::{Axes, DType, Error, Result, Tensor};
use kiln_ir::{BinaryOp, Loc, ReduceOp, UnaryOp};

fn invalid(op: &str, message: String, loc: &Loc) -> Error {
    Error::Invalid { op: op.into(), message, loc: loc.clone() }
}

/// The options of [`matmul_with`] (TF `matmul`'s keywords).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MatMul {
    /// Multiply by `a`'s transpose (its last two dims swapped).
    pub transpose_a: bool,
    /// Multiply by `b`'s transpose.
    pub transpose_b: bool,
}

#[track_caller]
fn swap_last(x: &Tensor, loc: &Loc) -> Result<Tensor> {
    let r = data_ty("MatMul", x, loc)?.shape.rank();
    if r < 2 {
        let message = format!("Shape must be rank 2 but is rank {r} for 'MatMul' ('{}')", x.name());
        return Err(invalid("MatMul", message, loc));
    }
    let perm: Vec<usize> = (0..r - 2).chain([r - 1, r - 2]).collect();
    crate::transpose(x, Some(&perm))
}

/// TF `matmul(a, b, transpose_a, transpose_b)`.
#[track_caller]
pub fn matmul_with(a: &Tensor, b: &Tensor, opts: MatMul) -> Result<Tensor> {
    let loc = Loc::caller();
    let a = if opts.transpose_a { swap_last(a, &loc)? } else { a.clone() };
    let b = if opts.transpose_b { swap_last(b, &loc)? } else { b.clone() };
    crate::matmul(&a, &b)
}

/// TF `add_n(inputs)`: the elementwise sum of tensors of one shape and dtype.
#[track_caller]
pub fn add_n(xs: &[&Tensor]) -> Result<Tensor> {
    let loc = Loc::caller();
    let Some(first) = xs.first() else {
        return Err(invalid("AddN", "inputs must be a non-empty list of tensors".into(), &loc));
    };
    let tys = xs.iter().map(|x| data_ty("AddN", x, &loc)).collect::<Result<Vec<_>>>()?;
    if tys.iter().any(|t| t.dtype != tys[0].dtype) {
        let names: Vec<&str> = tys.iter().map(|t| t.dtype.tf_name()).collect();
        let message = format!(
            "Tensors in list passed to 'inputs' of 'AddN' Op have types [{}] that don't all match.",
            names.join(", ")
        );
        return Err(Error::Type { op: "AddN".into(), message, loc });
    }
    let g = first.graph();
    for t in &tys[1..] {
        let same = t.shape.rank() == tys[0].shape.rank()
            && t.shape.0.iter().zip(&tys[0].shape.0).all(|(a, b)| a.is_sym() || b.is_sym() || g.same_dim(a, b));
        if !same {
            let message = format!("Shapes must be equal: {} and {}", tys[0].shape.tf_string(), t.shape.tf_string());
            return Err(invalid("AddN", message, &loc));
        }
    }
    let mut out = (*first).clone();
    for x in &xs[1..] {
        out = binary_at(BinaryOp::Add, &out, x, &loc)?;
    }
    if xs.len() == 1 {
        return crate::identity(&out);
    }
    Ok(out)
}

/// TF `reduce_logsumexp`: `log(sum(exp(x)))` over `axis`, shifted by the (finite) max
/// as TF does, so large inputs stay finite.
#[track_caller]
pub fn reduce_logsumexp(x: &Tensor, axis: impl Into<Axes>, keepdims: bool) -> Result<Tensor> {
    let loc = Loc::caller();
    let t = data_ty("ReduceLogSumExp", x, &loc)?;
    if !t.dtype.is_float() {
        return Err(Error::DTypeNotAllowed {
            op: "reduce_logsumexp".into(),
            param: "x",
            dtype: t.dtype,
            allowed: "float32, float64",
            loc,
        });
    }
    let axis = axis.into();
    let rank = t.shape.rank();
    let axes: Vec<usize> = match &axis {
        Axes::All => (0..rank).collect(),
        Axes::List(l) => l.iter().map(|&a| norm_axis("ReduceLogSumExp", x, rank, a, &loc)).collect::<Result<_>>()?,
    };
    let raw_max = reduce_at(ReduceOp::Max, x, axis.clone(), true, &loc)?;
    // a max of +-inf or NaN shifts by 0 instead, as TF's `is_finite` select does
    let inf = x.graph().constant_at(f64::INFINITY, Some(t.dtype), "ReduceLogSumExp/inf", &loc)?;
    let finite = crate::less(&unary_at(UnaryOp::Abs, &raw_max, &loc)?, &inf)?;
    let zeros = crate::zeros_like(&raw_max, None)?;
    let shift = crate::stop_gradient(&crate::where_(&finite, &raw_max, &zeros)?)?;
    let e = unary_at(UnaryOp::Exp, &binary_at(BinaryOp::Sub, x, &shift, &loc)?, &loc)?;
    let s = reduce_at(ReduceOp::Sum, &e, axis, true, &loc)?;
    let out = binary_at(BinaryOp::Add, &unary_at(UnaryOp::Log, &s, &loc)?, &shift, &loc)?;
    if keepdims {
        return Ok(out);
    }
    let want = t.shape.0.iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, d)| d.clone()).collect();
    reshape_dims(&out, want, "ReduceLogSumExp", &loc)
}

#[track_caller]
fn bool_reduce(op: &str, r: ReduceOp, x: &Tensor, axis: Axes, keepdims: bool, loc: &Loc) -> Result<Tensor> {
    let t = data_ty(op, x, loc)?;
    if t.dtype != DType::Bool {
        return Err(Error::DTypeNotAllowed {
            op: op.into(),
            param: "input",
            dtype: t.dtype,
            allowed: "bool",
            loc: loc.clone(),
        });
    }
    let n = crate::cast(x, DType::I32)?;
    let m = reduce_at(r, &n, axis, keepdims, loc)?;
    crate::cast(&m, DType::Bool)
}

/// TF `reduce_any`: logical or over `axis`.
#[track_caller]
pub fn reduce_any(x: &Tensor, axis: impl Into<Axes>, keepdims: bool) -> Result<Tensor> {
    bool_reduce("Any", ReduceOp::Max, x, axis.into(), keepdims, &Loc::caller())
}

/// TF `reduce_all`: logical and over `axis`.
#[track_caller]
pub fn reduce_all(x: &Tensor, axis: impl Into<Axes>, keepdims: bool) -> Result<Tensor> {
    bool_reduce("All", ReduceOp::Min, x, axis.into(), keepdims, &Loc::caller())
}

/// TF `argmax(input, axis, output_type)`: int64 or int32 indices; first on ties.
#[track_caller]
pub fn argmax_typed(x: &Tensor, axis: i64, output_type: DType) -> Result<Tensor> {
    let loc = Loc::caller();
    let i = crate::argmax(x, axis)?;
    out_type("ArgMax", i, output_type, &loc)
}

#[track_caller]
fn out_type(op: &str, i: Tensor, output_type: DType, loc: &Loc) -> Result<Tensor> {
    match output_type {
        DType::I64 => Ok(i),
        DType::I32 => crate::cast(&i, DType::I32),
        d => Err(Error::DTypeNotAllowed {
            op: op.into(),
            param: "output_type",
            dtype: d,
            allowed: "int32, int64",
            loc: loc.clone(),
        }),
    }
}

/// TF `argmin(input, axis, output_type)`: the index of the smallest element; first on
/// ties. The argmax of an order-reversed copy (`-x`, or `-1 - x` for integers, which
/// cannot overflow).
#[track_caller]
pub fn argmin(x: &Tensor, axis: i64, output_type: DType) -> Result<Tensor> {
    let loc = Loc::caller();
    let t = data_ty("ArgMin", x, &loc)?;
    norm_axis("ArgMin", x, t.shape.rank(), axis, &loc)?;
    let flipped = if t.dtype.is_float() {
        unary_at(UnaryOp::Neg, x, &loc)?
    } else if t.dtype.is_int() {
        let minus_one = x.graph.constant_at(-1.0, Some(t.dtype), "ArgMin/minus_one", &loc)?;
        binary_at(BinaryOp::Sub, &minus_one, x, &loc)?
    } else {
        return Err(Error::DTypeNotAllowed {
            op: "ArgMin".into(),
            param: "input",
            dtype: t.dtype,
            allowed: "float32, float64, int32, int64",
            loc,
        });
    };
    let i = crate::argmax(&flipped, axis)?;
    out_type("ArgMin", i, output_type, &loc)
}

/// Clamps every element to `[lo, hi]` (TF `clip_by_value`); numbers are taken in
/// `t`'s dtype, tensors broadcast.
#[track_caller]
pub fn clip_by_value(t: &Tensor, lo: impl Into<TensorLike>, hi: impl Into<TensorLike>) -> Result<Tensor> {
    let loc = Loc::caller();
    let dtype = data_ty("clip_by_value", t, &loc)?.dtype;
    let l = lo.into().in_dtype(t.graph(), dtype, "clip_by_value", "clip_by_value/min", &loc)?;
    let h = hi.into().in_dtype(t.graph(), dtype, "clip_by_value", "clip_by_value/max", &loc)?;
    let a = binary_at(BinaryOp::Minimum, t, &h, &loc)?;
    binary_at(BinaryOp::Maximum, &a, &l, &loc)
}

/// TF `clip_by_norm(t, clip_norm, axes)`: `t` scaled so its L2 norm over `axes` is at
/// most `clip_norm`, in TF's form (`t * clip / max(norm, clip)`, finite at norm 0).
#[track_caller]
pub fn clip_by_norm(t: &Tensor, clip_norm: impl Into<TensorLike>, axes: impl Into<Axes>) -> Result<Tensor> {
    let loc = Loc::caller();
    let dtype = data_ty("clip_by_norm", t, &loc)?.dtype;
    let clip = clip_norm.into().in_dtype(t.graph(), dtype, "clip_by_norm", "clip_by_norm/clip_norm", &loc)?;
    let sq = binary_at(BinaryOp::Mul, t, t, &loc)?;
    let l2sum = reduce_at(ReduceOp::Sum, &sq, axes.into(), true, &loc)?;
    let zeros = crate::zeros_like(&l2sum, None)?;
    let pred = crate::greater(&l2sum, &zeros)?;
    let safe = crate::where_(&pred, &l2sum, &crate::ones_like(&l2sum, None)?)?;
    let l2norm = crate::where_(&pred, &unary_at(UnaryOp::Sqrt, &safe, &loc)?, &l2sum)?;
    let scaled = binary_at(BinaryOp::Mul, t, &clip, &loc)?;
    let denom = binary_at(BinaryOp::Maximum, &l2norm, &clip, &loc)?;
    binary_at(BinaryOp::Div, &scaled, &denom, &loc)
}

//! TF1's array functions that are compositions of IR ops: `tile`, `split`, `unstack`,
//! `gather` along an axis, `gather_nd`, `one_hot` with its options, v1 `where`,
//! `zeros_like`/`ones_like`, `range` and basic indexing (`x[1:, None, ..., 0]`).
//! Each has TF1's defaults, shape rules and wording, so Python binds them unchanged.

use crate::ops::{data_ty, norm_axis, values};
use crate::{Axes, DType, Error, Graph, Result, Tensor};
use kiln_ir::{CmpOp, Dim, Loc, OpKind, ReduceOp, Shape, Type};

/// An operand TF converts for you: a number, taken in the dtype the function needs
/// (as TF converts a Python scalar), or a tensor, which must have that dtype.
#[derive(Clone, Debug)]
pub enum TensorLike {
    /// A number, converted to the dtype the function needs.
    Number(f64),
    /// A tensor, used as is.
    Tensor(Tensor),
}

impl From<f64> for TensorLike {
    fn from(x: f64) -> Self {
        TensorLike::Number(x)
    }
}
impl From<f32> for TensorLike {
    fn from(x: f32) -> Self {
        TensorLike::Number(f64::from(x))
    }
}
impl From<i32> for TensorLike {
    fn from(x: i32) -> Self {
        TensorLike::Number(f64::from(x))
    }
}
impl From<Tensor> for TensorLike {
    fn from(t: Tensor) -> Self {
        TensorLike::Tensor(t)
    }
}
impl From<&Tensor> for TensorLike {
    fn from(t: &Tensor) -> Self {
        TensorLike::Tensor(t.clone())
    }
}

impl TensorLike {
    /// The tensor's dtype (`None` for a number, which takes the one it is given).
    pub fn dtype(&self) -> Option<DType> {
        match self {
            TensorLike::Number(_) => None,
            TensorLike::Tensor(t) => t.dtype(),
        }
    }

    /// As a tensor of `dtype` in `g`: a number becomes a constant named `name`; a
    /// tensor of another dtype is TF's `TypeError`.
    pub(crate) fn in_dtype(&self, g: &Graph, dtype: DType, op: &str, name: &str, loc: &Loc) -> Result<Tensor> {
        match self {
            TensorLike::Number(x) => g.constant_at(*x, Some(dtype), name, loc),
            TensorLike::Tensor(t) => {
                let have = data_ty(op, t, loc)?.dtype;
                if have != dtype {
                    return Err(Error::DType { op: op.into(), lhs: have, rhs: dtype, loc: loc.clone() });
                }
                Ok(t.clone())
            }
        }
    }
}

fn invalid(op: &str, message: String, loc: &Loc) -> Error {
    Error::Invalid { op: op.into(), message, loc: loc.clone() }
}

/// `x` viewed with `dims` (symbolic ones included), as one reshape.
pub(crate) fn reshape_dims(x: &Tensor, dims: Vec<Dim>, name: &str, loc: &Loc) -> Result<Tensor> {
    let g = x.graph.clone();
    let vs = values(name, &g, &[x], loc)?;
    let t = data_ty(name, x, loc)?;
    if t.shape.0 == dims {
        return Ok(x.clone());
    }
    let v = g.add_op(OpKind::Reshape, &vs, Some(Type::new(t.dtype, Shape(dims))), name, loc)?;
    Ok(g.tensor(v))
}

/// TF `tile(input, multiples)`: `input` repeated `multiples[i]` times along axis `i`.
/// One broadcast to `[m0, d0, m1, d1, ...]` and one reshape, so the gradient sums the
/// copies. A multiple other than 1 along a dim of unknown size is refused.
#[track_caller]
pub fn tile(x: &Tensor, multiples: &[usize]) -> Result<Tensor> {
    let loc = Loc::caller();
    let g = x.graph.clone();
    let op = g.prospective_name("Tile");
    let vs = values(&op, &g, &[x], &loc)?;
    let t = data_ty(&op, x, &loc)?;
    if multiples.len() != t.shape.rank() {
        let message = format!(
            "Expected multiples argument to be a vector of length {} but got length {}",
            t.shape.rank(),
            multiples.len()
        );
        return Err(invalid(&op, message, &loc));
    }
    let (mut big, mut map, mut out) = (Vec::new(), Vec::new(), Vec::new());
    for (a, (d, &m)) in t.shape.0.iter().zip(multiples).enumerate() {
        if m != 1 {
            if d.is_sym() {
                let message = format!(
                    "a multiple of {m} along axis {a}, whose size is unknown (shape {}): kiln tiles dims of known size",
                    t.shape.tf_string()
                );
                return Err(invalid(&op, message, &loc));
            }
            big.push(Dim::Fixed(m as u64));
        }
        map.push(big.len());
        big.push(d.clone());
        out.push(match d.fixed() {
            Some(n) => Dim::Fixed(
                n.checked_mul(m as u64)
                    .ok_or_else(|| invalid(&op, format!("{n} x {m} elements along axis {a} overflow"), &loc))?,
            ),
            None => d.clone(),
        });
    }
    let ty = Type::new(t.dtype, Shape(big));
    let b = g.add_op(OpKind::Broadcast { dims: map }, &vs, Some(ty), "Tile/copies", &loc)?;
    reshape_dims(&g.tensor(b), out, "Tile", &loc)
}

/// How [`split`] divides its axis: into `Num` equal parts, or parts of the given sizes
/// (one may be -1: the rest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Split {
    /// This many parts of equal size.
    Num(usize),
    /// Parts of these sizes; one -1 takes what the others leave.
    Sizes(Vec<i64>),
}

/// TF `split(value, num_or_size_splits, axis)`: consecutive slices along `axis`.
#[track_caller]
pub fn split(x: &Tensor, splits: Split, axis: i64) -> Result<Vec<Tensor>> {
    let loc = Loc::caller();
    let op = x.graph.prospective_name("split");
    let t = data_ty(&op, x, &loc)?;
    let r = t.shape.rank();
    let a = norm_axis(&op, x, r, axis, &loc)?;
    let dim = t.shape.0[a].fixed();
    let sizes: Vec<i64> = match splits {
        Split::Num(0) => return Err(invalid(&op, "num_split must be at least 1".into(), &loc)),
        Split::Num(n) => {
            let Some(d) = dim else {
                let message =
                    format!("splitting axis {a} of unknown size (shape {}) needs the sizes", t.shape.tf_string());
                return Err(invalid(&op, message, &loc));
            };
            if d % n as u64 != 0 {
                let message = format!(
                    "Dimension size must be evenly divisible by {n} but is {d} for 'split' with input shapes: {}",
                    t.shape.tf_string()
                );
                return Err(invalid(&op, message, &loc));
            }
            vec![(d / n as u64) as i64; n]
        }
        Split::Sizes(mut s) => {
            let unknown: Vec<usize> = (0..s.len()).filter(|&i| s[i] == -1).collect();
            let known: i64 = s.iter().filter(|&&v| v >= 0).sum();
            let bad = s.iter().any(|&v| v < -1)
                || unknown.len() > 1
                || dim.is_some_and(|d| if unknown.is_empty() { known as u64 != d } else { known as u64 > d });
            if bad || s.is_empty() {
                let message = format!(
                    "Determined shape must either match input shape along split_dim exactly if fully specified, or be less than the size of the input along split_dim if not fully specified. Got: {s:?} for shape {}",
                    t.shape.tf_string()
                );
                return Err(invalid(&op, message, &loc));
            }
            if let (Some(&i), Some(d)) = (unknown.first(), dim) {
                s[i] = d as i64 - known;
            }
            s
        }
    };
    let mut begin = 0usize;
    let mut out = Vec::with_capacity(sizes.len());
    for s in sizes {
        let mut b = vec![0; r];
        b[a] = begin;
        let mut size = vec![-1; r];
        size[a] = s;
        out.push(crate::slice(x, &b, &size)?);
        begin += s.max(0) as usize;
    }
    Ok(out)
}

/// TF `unstack(value, num, axis)`: the slices along `axis` (its size known, or `num`),
/// each without that axis.
#[track_caller]
pub fn unstack(x: &Tensor, num: Option<usize>, axis: i64) -> Result<Vec<Tensor>> {
    let loc = Loc::caller();
    let t = data_ty("unstack", x, &loc)?;
    let a = norm_axis("unstack", x, t.shape.rank(), axis, &loc)?;
    let Some(n) = num.or(t.shape.0[a].fixed().map(|n| n as usize)) else {
        return Err(invalid("unstack", format!("Cannot infer num from shape {}", t.shape.tf_string()), &loc));
    };
    let mut dims = t.shape.0.clone();
    dims.remove(a);
    let parts = split(x, Split::Sizes(vec![1; n]), a as i64)?;
    parts.iter().map(|p| reshape_dims(p, dims.clone(), "unstack", &loc)).collect()
}

/// TF `gather(params, indices, axis, batch_dims)`: slices of `params` along `axis`
/// (default `batch_dims`) picked by `indices`. `batch_dims = 1` is the DQN pattern
/// `params[b, indices[b]]` for `params [b, n]` and `indices [b]`.
#[track_caller]
pub fn gather_v2(params: &Tensor, indices: &Tensor, axis: Option<i64>, batch_dims: i64) -> Result<Tensor> {
    let loc = Loc::caller();
    let g = params.graph.clone();
    let tp = data_ty("GatherV2", params, &loc)?;
    let ti = data_ty("GatherV2", indices, &loc)?;
    let r = tp.shape.rank();
    let axis = norm_axis("GatherV2", params, r, axis.unwrap_or(batch_dims), &loc)?;
    if batch_dims != 0 {
        let n = tp.shape.0.last().and_then(Dim::fixed);
        let (Some(n), 1, 1, 2, 1) = (n, batch_dims, axis, r, ti.shape.rank()) else {
            let message = format!(
                "batch_dims={batch_dims} with axis {axis}: kiln gathers with batch dims from params [b, n] (n known) by indices [b] along axis 1; got {} and {}",
                tp.shape.tf_string(),
                ti.shape.tf_string()
            );
            return Err(invalid("GatherV2", message, &loc));
        };
        // one element per row: a select of the picked element, summed over the row
        // (exact: the others are dropped, not multiplied by zero)
        let pick = crate::nn_ops::one_hot_at(indices, n as usize, DType::Bool, &loc)?;
        let zeros = zeros_like(params, None)?;
        let kept = crate::where_(&pick, params, &zeros)?;
        return crate::ops::reduce_at(ReduceOp::Sum, &kept, Axes::List(vec![1]), false, &loc);
    }
    if axis == 0 {
        let vs = values("GatherV2", &g, &[params, indices], &loc)?;
        let v = g.add_op(OpKind::Gather, &vs, None, "GatherV2", &loc)?;
        return Ok(g.tensor(v));
    }
    let perm: Vec<usize> = std::iter::once(axis).chain((0..r).filter(|&d| d != axis)).collect();
    let front = crate::transpose(params, Some(&perm))?;
    let picked = gather_v2(&front, indices, Some(0), 0)?;
    let ri = ti.shape.rank();
    let back: Vec<usize> = (ri..ri + axis).chain(0..ri).chain(ri + axis..ri + r - 1).collect();
    crate::transpose(&picked, Some(&back))
}

/// TF `gather_nd(params, indices, batch_dims)`: for each index vector along
/// `indices`' last axis, the slice `params[b.., i0, i1, ...]` after `batch_dims`
/// leading axes shared by both. A flat gather of row-major offsets into `params`'
/// leading axes, whose sizes past the first must be known.
#[track_caller]
pub fn gather_nd(params: &Tensor, indices: &Tensor, batch_dims: usize) -> Result<Tensor> {
    let loc = Loc::caller();
    let tp = data_ty("GatherNd", params, &loc)?;
    let ti = data_ty("GatherNd", indices, &loc)?;
    let dims = &tp.shape.0;
    let depth = ti.shape.0.last().and_then(Dim::fixed).map(|d| d as usize);
    let fits = depth.is_some_and(|d| batch_dims + d <= dims.len()) && dims.iter().skip(1).all(|d| !d.is_sym());
    let (Some(depth), true) = (depth, fits) else {
        let message = format!(
            "index vectors of depth {} after {batch_dims} batch dims do not fit params of shape {} (kiln needs the depth and params' dims past the first known)",
            depth.map_or("?".into(), |d| d.to_string()),
            tp.shape.tf_string()
        );
        return Err(invalid("GatherNd", message, &loc));
    };
    // the closure cannot track its caller: its ops are placed at `loc` explicitly
    let component = |k: usize| -> Result<Tensor> {
        Loc::with_user(loc.clone(), || getitem(indices, &[Index::Ellipsis, Index::At(k as i64)]))
    };
    // each batch axis contributes its own position: a running count along it
    let mut coords = Vec::new();
    if batch_dims > 0 {
        let ones = ones_like(&component(0)?, None)?;
        for j in 0..batch_dims {
            coords.push(crate::cumsum(&ones, j as i64, true, false)?);
        }
    }
    for k in 0..depth {
        coords.push(component(k)?);
    }
    let lead: Vec<u64> = dims[..batch_dims + depth].iter().map(|d| d.fixed().unwrap_or(0)).collect();
    let mut offset: Option<Tensor> = None;
    for (k, c) in coords.iter().enumerate() {
        let stride: u64 = lead[k + 1..].iter().product();
        let part = if stride == 1 {
            c.clone()
        } else {
            let s = c.graph.constant_at(stride as f64, Some(ti.dtype), "GatherNd/stride", &loc)?;
            crate::multiply(c, &s)?
        };
        offset = Some(match offset {
            Some(o) => crate::add(&o, &part)?,
            None => part,
        });
    }
    let offset = offset.ok_or_else(|| invalid("GatherNd", "index vectors of depth 0".into(), &loc))?;
    let rows = lead.iter().try_fold(1u64, |a, &b| a.checked_mul(b));
    let first = if dims[0].is_sym() { dims[0].clone() } else { Dim::Fixed(rows.unwrap_or(0)) };
    if dims[0].is_sym() && batch_dims + depth > 1 {
        let message = format!(
            "index vectors of depth {depth} into params {} of unknown first dim: kiln flattens known leading dims only",
            tp.shape.tf_string()
        );
        return Err(invalid("GatherNd", message, &loc));
    }
    let flat: Vec<Dim> = std::iter::once(first).chain(dims[batch_dims + depth..].iter().cloned()).collect();
    let flat = reshape_dims(params, flat, "GatherNd/flat", &loc)?;
    gather_v2(&flat, &offset, Some(0), 0)
}

/// The options of [`one_hot_with`] (TF `one_hot`'s keywords).
#[derive(Clone, Debug, Default)]
pub struct OneHot {
    /// The value where the index matches (default 1).
    pub on_value: Option<TensorLike>,
    /// The value elsewhere (default 0).
    pub off_value: Option<TensorLike>,
    /// Where the new axis goes (default -1, last).
    pub axis: Option<i64>,
    /// The result's dtype (default: `on_value`'s or `off_value`'s, else float32).
    pub dtype: Option<DType>,
}

/// TF `one_hot(indices, depth, on_value, off_value, axis, dtype)`, computed in the
/// result's dtype. Out-of-range indices give `off_value` everywhere, as in TF.
#[track_caller]
pub fn one_hot_with(indices: &Tensor, depth: usize, opts: OneHot) -> Result<Tensor> {
    let loc = Loc::caller();
    let g = indices.graph.clone();
    let (on_dt, off_dt) =
        (opts.on_value.as_ref().and_then(TensorLike::dtype), opts.off_value.as_ref().and_then(TensorLike::dtype));
    let mismatch = |what: String| Err(Error::Invalid { op: "one_hot".into(), message: what, loc: loc.clone() });
    if let (Some(a), Some(b)) = (on_dt, off_dt) {
        if a != b {
            return mismatch(format!(
                "dtype {} of on_value does not match dtype {} of off_value",
                a.tf_name(),
                b.tf_name()
            ));
        }
    }
    let dtype = match (opts.dtype, on_dt.or(off_dt)) {
        (Some(d), Some(v)) if d != v => {
            let which = if on_dt.is_some() { "on_value" } else { "off_value" };
            return mismatch(format!(
                "dtype {} of {which} does not match dtype parameter {}",
                v.tf_name(),
                d.tf_name()
            ));
        }
        (Some(d), _) | (None, Some(d)) => d,
        (None, None) => DType::F32,
    };
    let ti = data_ty("one_hot", indices, &loc)?;
    let r = ti.shape.rank();
    let axis = match opts.axis.unwrap_or(-1) {
        -1 => r,
        a if a >= 0 && a as usize <= r => a as usize,
        a => return mismatch(format!("Expected axis to be -1 or between [0, {r}).  But received: {a}")),
    };
    let hot = crate::nn_ops::one_hot_axis_at(indices, depth, axis, DType::Bool, &loc)?;
    if dtype == DType::Bool && opts.on_value.is_none() && opts.off_value.is_none() {
        return Ok(hot);
    }
    let on =
        opts.on_value.unwrap_or(TensorLike::Number(1.0)).in_dtype(&g, dtype, "one_hot", "one_hot/on_value", &loc)?;
    let off =
        opts.off_value.unwrap_or(TensorLike::Number(0.0)).in_dtype(&g, dtype, "one_hot", "one_hot/off_value", &loc)?;
    for (v, which) in [(&on, "on_value"), (&off, "off_value")] {
        let rank = data_ty("one_hot", v, &loc)?.shape.rank();
        if rank != 0 {
            return mismatch(format!("Shape must be rank 0 but is rank {rank} for '{which}'"));
        }
    }
    crate::where_(&hot, &on, &off)
}

/// TF1's `where(condition, x, y)` (`tf.compat.v1.where`): `x` and `y` of one shape; a
/// rank-1 condition picks whole rows (its length is the first dim), any other has
/// `x`'s shape. No other broadcasting, as in TF1 (`where_v2` broadcasts).
#[track_caller]
pub fn where_v1(cond: &Tensor, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let loc = Loc::caller();
    let g = cond.graph.clone();
    let (tc, tx, ty) = (data_ty("Select", cond, &loc)?, data_ty("Select", x, &loc)?, data_ty("Select", y, &loc)?);
    let compatible = |a: &Shape, b: &Shape| {
        a.rank() == b.rank() && a.0.iter().zip(&b.0).all(|(p, q)| p.is_sym() || q.is_sym() || g.same_dim(p, q))
    };
    if tx.shape.rank() != ty.shape.rank() {
        let message = format!("Shapes must be equal rank, but are {} and {}", tx.shape.rank(), ty.shape.rank());
        return Err(invalid("Select", message, &loc));
    }
    if !compatible(&tx.shape, &ty.shape) {
        let message =
            format!("Dimensions of x and y must be equal: {} vs {}", tx.shape.tf_string(), ty.shape.tf_string());
        return Err(invalid("Select", message, &loc));
    }
    let c = if tc.shape.rank() == 1 && tx.shape.rank() > 1 {
        let dims: Vec<Dim> = std::iter::once(tc.shape.0[0].clone())
            .chain(std::iter::repeat_n(Dim::Fixed(1), tx.shape.rank() - 1))
            .collect();
        reshape_dims(cond, dims, "Select/condition", &loc)?
    } else if !compatible(&tc.shape, &tx.shape) {
        let message = format!("Shapes {} and {} are incompatible", tc.shape.tf_string(), tx.shape.tf_string());
        return Err(invalid("Select", message, &loc));
    } else {
        cond.clone()
    };
    crate::where_(&c, x, y)
}

fn filled_like(x: &Tensor, value: f64, dtype: Option<DType>, name: &str, loc: &Loc) -> Result<Tensor> {
    let g = x.graph.clone();
    values(name, &g, &[x], loc)?;
    let t = data_ty(name, x, loc)?;
    let dtype = dtype.unwrap_or(t.dtype);
    let s = g.constant_at(value, Some(dtype), &format!("{name}/value"), loc)?;
    let v = g.add_op(OpKind::Broadcast { dims: vec![] }, &[s.value()?], Some(Type::new(dtype, t.shape)), name, loc)?;
    Ok(g.tensor(v))
}

/// TF `zeros_like(tensor, dtype)`: zeros of `x`'s shape (a batch of any size
/// included), in `dtype` or `x`'s.
#[track_caller]
pub fn zeros_like(x: &Tensor, dtype: Option<DType>) -> Result<Tensor> {
    filled_like(x, 0.0, dtype, "zeros_like", &Loc::caller())
}

/// TF `ones_like(tensor, dtype)`: ones of `x`'s shape, in `dtype` or `x`'s.
#[track_caller]
pub fn ones_like(x: &Tensor, dtype: Option<DType>) -> Result<Tensor> {
    filled_like(x, 1.0, dtype, "ones_like", &Loc::caller())
}

/// TF `range(start, limit, delta, dtype)`: `start, start + delta, ...` short of
/// `limit`, as a constant.
#[track_caller]
pub fn range(g: &Graph, start: f64, limit: f64, delta: f64, dtype: DType) -> Result<Tensor> {
    let loc = Loc::caller();
    if delta == 0.0 || !delta.is_finite() || !start.is_finite() || !limit.is_finite() {
        return Err(invalid(
            "Range",
            format!("Requires delta != 0 and finite bounds: {start}, {limit}, {delta}"),
            &loc,
        ));
    }
    let n = ((limit - start) / delta).ceil().max(0.0);
    if n > 1e9 {
        return Err(invalid("Range", format!("{n} elements is too many for a constant"), &loc));
    }
    let vals: Vec<f64> = (0..n as usize).map(|i| start + i as f64 * delta).collect();
    g.constant_at(vals, Some(dtype), "range", &loc)
}

/// One entry of a basic index (`x[...]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Index {
    /// One position (negative counts from the end); the axis goes.
    At(i64),
    /// `start:stop:step` (Python's defaults when `None`); kiln takes step 1 only.
    Range {
        /// first position (default 0)
        start: Option<i64>,
        /// one past the last (default: the end)
        stop: Option<i64>,
        /// the stride (default 1)
        step: Option<i64>,
    },
    /// `None` / `tf.newaxis`: a new axis of size 1.
    NewAxis,
    /// `...`: as many full axes as the others leave.
    Ellipsis,
}

/// TF `Tensor.__getitem__` for basic indices: positions, unit-step ranges, `...` and
/// new axes (one slice, then a reshape when axes come or go).
#[track_caller]
pub fn getitem(x: &Tensor, index: &[Index]) -> Result<Tensor> {
    let loc = Loc::caller();
    const OP: &str = "strided_slice";
    let t = data_ty(OP, x, &loc)?;
    let dims = &t.shape.0;
    let mut idx: Vec<Index> = index.to_vec();
    if let Some(k) = idx.iter().position(|i| *i == Index::Ellipsis) {
        let named = idx.iter().filter(|i| !matches!(i, Index::NewAxis | Index::Ellipsis)).count();
        let fill = dims.len().saturating_sub(named);
        let full = Index::Range { start: None, stop: None, step: None };
        idx.splice(k..=k, std::iter::repeat_n(full, fill));
    }
    let (mut begin, mut size, mut out) = (Vec::new(), Vec::new(), Vec::new());
    let mut d = 0;
    for i in &idx {
        if *i == Index::NewAxis {
            out.push(Dim::Fixed(1));
            continue;
        }
        let Some(n) = dims.get(d) else {
            return Err(invalid(OP, format!("Index out of range using input dim {d}"), &loc));
        };
        let known = n.fixed().map(|n| n as i64);
        let need_known =
            |what: &str| invalid(OP, format!("{what} needs dim {d} known (shape {})", t.shape.tf_string()), &loc);
        match *i {
            Index::Range { start, stop, step } => {
                if step.unwrap_or(1) != 1 {
                    return Err(invalid(OP, format!("kiln slices with step 1 only, got {}", step.unwrap_or(1)), &loc));
                }
                let resolve = |v: i64| -> Result<i64> {
                    match known {
                        Some(k) => Ok((if v < 0 { v + k } else { v }).clamp(0, k)),
                        None if v < 0 => Err(need_known("a negative slice bound")),
                        None => Ok(v),
                    }
                };
                let s = resolve(start.unwrap_or(0))?;
                match (stop, known) {
                    (None, None) => {
                        size.push(-1);
                        out.push(n.clone());
                    }
                    (stop, _) => {
                        let e = match stop {
                            Some(e) => resolve(e)?,
                            None => known.unwrap_or(0),
                        };
                        let len = (e - s).max(0);
                        size.push(len);
                        out.push(Dim::Fixed(len as u64));
                    }
                }
                begin.push(s as usize);
            }
            Index::At(p) => {
                let p = match known {
                    Some(k) if (-k..k).contains(&p) => (p + k) % k,
                    None if p >= 0 => p,
                    None => return Err(need_known("a negative index")),
                    Some(_) => {
                        return Err(invalid(OP, format!("slice index {p} of dimension {d} out of bounds."), &loc))
                    }
                };
                begin.push(p as usize);
                size.push(1);
            }
            Index::NewAxis | Index::Ellipsis => unreachable!("handled above"),
        }
        d += 1;
    }
    for n in &dims[d.min(dims.len())..] {
        begin.push(0);
        size.push(-1);
        out.push(n.clone());
    }
    let y = crate::slice(x, &begin, &size)?;
    reshape_dims(&y, out, "strided_slice", &loc)
}

/// `depth`-wide one-hot planes of `indices` compared at `axis` (an `Eq` of broadcast
/// indices and an iota), as bool.
pub(crate) fn eq_iota(g: &Graph, indices: &Tensor, depth: usize, axis: usize, loc: &Loc) -> Result<kiln_ir::ValueId> {
    let vs = values("one_hot", g, &[indices], loc)?;
    let ti = data_ty("one_hot", indices, loc)?;
    if !ti.dtype.is_int() {
        return Err(Error::DTypeNotAllowed {
            op: "OneHot".into(),
            param: "indices",
            dtype: ti.dtype,
            allowed: "uint8, int32, int64",
            loc: loc.clone(),
        });
    }
    let r = ti.shape.rank();
    let mut dims = ti.shape.0.clone();
    dims.insert(axis, Dim::Fixed(depth as u64));
    let shape = Shape(dims);
    let map: Vec<usize> = (0..r).map(|i| if i < axis { i } else { i + 1 }).collect();
    let b = g.add_op(
        OpKind::Broadcast { dims: map },
        &vs,
        Some(Type::new(ti.dtype, shape.clone())),
        "one_hot/indices",
        loc,
    )?;
    let io = g.add_op(OpKind::Iota { axis }, &[], Some(Type::new(ti.dtype, shape)), "one_hot/iota", loc)?;
    g.add_op(OpKind::Compare(CmpOp::Eq), &[b, io], None, "one_hot/Equal", loc)
}

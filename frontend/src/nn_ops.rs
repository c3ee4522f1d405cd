//! Ops for policy-gradient and Q-learning code, built from IR primitives so their
//! gradients come from the primitives' rules: softmax and cross-entropies, one-hot,
//! gather, argmax and gradient clipping.

use crate::gradients::stop_gradient_at;
use crate::ops::{binary_at, data_ty, norm_axis, reduce_at, unary_at, values};
use crate::{Axes, Error, Result, Tensor};
use kiln_ir::{BinaryOp, DType, Dim, Loc, OpKind, ReduceOp, Shape, Type, UnaryOp};

fn scalar(t: &Tensor, x: f64, loc: &Loc) -> Result<Tensor> {
    let dtype = t.dtype().unwrap_or(DType::F32);
    t.graph.constant_at(x, Some(dtype), "Const", loc)
}

const FLOATS: &str = "float32, float64";

/// `t`'s type, which must be a float (parameter `param` of TF op `op`).
fn float_ty(op: &str, param: &'static str, t: &Tensor, loc: &Loc) -> Result<Type> {
    let ty = data_ty(op, t, loc)?;
    if !ty.dtype.is_float() {
        return Err(Error::DTypeNotAllowed {
            op: op.into(),
            param,
            dtype: ty.dtype,
            allowed: FLOATS,
            loc: loc.clone(),
        });
    }
    Ok(ty)
}

/// Fails unless the shapes can be equal: same rank, and dims equal where both are known.
fn same_shape(op: &str, what: [&str; 2], a: &Shape, b: &Shape, loc: &Loc) -> Result<()> {
    let clash = a.rank() != b.rank()
        || a.0.iter().zip(&b.0).any(|(x, y)| matches!((x.fixed(), y.fixed()), (Some(m), Some(n)) if m != n));
    if clash {
        let message =
            format!("{} {} and {} {} must have the same shape", what[0], a.tf_string(), what[1], b.tf_string());
        return Err(Error::Invalid { op: op.into(), message, loc: loc.clone() });
    }
    Ok(())
}

/// `x - max(x)` along `axis` (the max held constant for the gradient) and its `exp`:
/// the stable core of softmax and log-softmax.
fn shifted_exp(x: &Tensor, axis: i64, loc: &Loc) -> Result<(Tensor, Tensor)> {
    let m = reduce_at(ReduceOp::Max, x, Axes::List(vec![axis]), true, loc)?;
    let m = stop_gradient_at(&m, loc)?;
    let z = binary_at(BinaryOp::Sub, x, &m, loc)?;
    let e = unary_at(UnaryOp::Exp, &z, loc)?;
    Ok((z, e))
}

pub(crate) fn log_softmax_at(x: &Tensor, axis: i64, loc: &Loc) -> Result<Tensor> {
    float_ty("LogSoftmax", "logits", x, loc)?;
    let (z, e) = shifted_exp(x, axis, loc)?;
    let s = reduce_at(ReduceOp::Sum, &e, Axes::List(vec![axis]), true, loc)?;
    let ls = unary_at(UnaryOp::Log, &s, loc)?;
    binary_at(BinaryOp::Sub, &z, &ls, loc)
}

pub(crate) fn softmax_at(x: &Tensor, axis: i64, loc: &Loc) -> Result<Tensor> {
    float_ty("Softmax", "logits", x, loc)?;
    let (_, e) = shifted_exp(x, axis, loc)?;
    let s = reduce_at(ReduceOp::Sum, &e, Axes::List(vec![axis]), true, loc)?;
    binary_at(BinaryOp::Div, &e, &s, loc)
}

fn xent_at(labels: &Tensor, logits: &Tensor, loc: &Loc) -> Result<Tensor> {
    const OP: &str = "SoftmaxCrossEntropyWithLogits";
    let (tl, tz) = (float_ty(OP, "labels", labels, loc)?, float_ty(OP, "logits", logits, loc)?);
    if tz.shape.rank() == 0 {
        let message = "logits must have rank >= 1, got a scalar".to_string();
        return Err(Error::Invalid { op: OP.into(), message, loc: loc.clone() });
    }
    // TF's words name the logits first
    if same_shape(OP, ["logits", "labels"], &tz.shape, &tl.shape, loc).is_err() {
        let clash = tz.shape.0.iter().zip(&tl.shape.0).find_map(|(a, b)| match (a.fixed(), b.fixed()) {
            (Some(x), Some(y)) if x != y => Some((x, y)),
            _ => None,
        });
        let message = match clash {
            Some((x, y)) => format!(
                "Dimensions must be equal, but are {x} and {y} for '{OP}' with input shapes: {}, {}.",
                tz.shape.tf_list(),
                tl.shape.tf_list()
            ),
            None => format!(
                "Shapes must be equal rank, but are {} and {} for '{OP}' with input shapes: {}, {}.",
                tz.shape.rank(),
                tl.shape.rank(),
                tz.shape.tf_list(),
                tl.shape.tf_list()
            ),
        };
        return Err(Error::Invalid { op: OP.into(), message, loc: loc.clone() });
    }
    if tl.dtype != tz.dtype {
        return Err(Error::DType { op: OP.into(), lhs: tl.dtype, rhs: tz.dtype, loc: loc.clone() });
    }
    // TF1's op backpropagates into the logits only
    let labels = stop_gradient_at(labels, loc)?;
    let ls = log_softmax_at(logits, -1, loc)?;
    let p = binary_at(BinaryOp::Mul, &labels, &ls, loc)?;
    let s = reduce_at(ReduceOp::Sum, &p, Axes::List(vec![-1]), false, loc)?;
    unary_at(UnaryOp::Neg, &s, loc)
}

pub(crate) fn one_hot_at(indices: &Tensor, depth: usize, dtype: DType, loc: &Loc) -> Result<Tensor> {
    let r = data_ty("one_hot", indices, loc)?.shape.rank();
    one_hot_axis_at(indices, depth, r, dtype, loc)
}

/// One-hot planes of `indices` with the new axis at `axis`, as `dtype` (1 and 0).
pub(crate) fn one_hot_axis_at(indices: &Tensor, depth: usize, axis: usize, dtype: DType, loc: &Loc) -> Result<Tensor> {
    let g = indices.graph.clone();
    let eq = crate::array_ops::eq_iota(&g, indices, depth, axis, loc)?;
    if dtype == DType::Bool {
        return Ok(g.tensor(eq));
    }
    let shape = g.ty_of(eq).map(|t| t.shape).unwrap_or_default();
    let v = g.add_op(OpKind::Convert, &[eq], Some(Type::new(dtype, shape)), "one_hot", loc)?;
    Ok(g.tensor(v))
}

/// Rows of `params` picked by integer `indices` (TF `gather` on axis 0). An index out
/// of range fails the run with an error.
#[track_caller]
pub fn gather(params: &Tensor, indices: &Tensor) -> Result<Tensor> {
    let loc = Loc::caller();
    let g = params.graph.clone();
    let vs = values("GatherV2", &g, &[params, indices], &loc)?;
    let v = g.add_op(OpKind::Gather, &vs, None, "GatherV2", &loc)?;
    Ok(g.tensor(v))
}

/// One-hot float32 rows of width `depth` (TF `one_hot`). Out-of-range indices give
/// zero rows, as in TF.
#[track_caller]
pub fn one_hot(indices: &Tensor, depth: usize) -> Result<Tensor> {
    one_hot_at(indices, depth, DType::F32, &Loc::caller())
}

/// Index of the largest element along `axis`, as int64 (TF `argmax`); first on ties.
#[track_caller]
pub fn argmax(x: &Tensor, axis: i64) -> Result<Tensor> {
    let loc = Loc::caller();
    let g = x.graph.clone();
    let vs = values("ArgMax", &g, &[x], &loc)?;
    let t = data_ty("ArgMax", x, &loc)?;
    let axis = norm_axis("ArgMax", x, t.shape.rank(), axis, &loc)?;
    let v = g.add_op(OpKind::ArgMax { axis }, &vs, Some(Type::scalar(DType::I64)), "ArgMax", &loc)?;
    Ok(g.tensor(v))
}

/// The run-time shape of `x` as a vector of `dtype` (TF `shape`, int32 or int64): known
/// dims are constants, a symbolic one the size it is bound to in the run.
#[track_caller]
pub fn shape(x: &Tensor, dtype: DType) -> Result<Tensor> {
    let loc = Loc::caller();
    let g = x.graph.clone();
    let vs = values("Shape", &g, &[x], &loc)?;
    let t = data_ty("Shape", x, &loc)?;
    if !dtype.is_int() {
        return Err(Error::DTypeNotAllowed {
            op: "Shape".into(),
            param: "out_type",
            dtype,
            allowed: "int32, int64",
            loc,
        });
    }
    let mut parts = Vec::new();
    for (a, d) in t.shape.0.iter().enumerate() {
        let v = match d.fixed() {
            Some(n) => g.constant_at(n as f64, Some(dtype), "Shape/dim", &loc)?,
            None => {
                let v =
                    g.add_op(OpKind::DimSize { axes: vec![a] }, &vs, Some(Type::scalar(dtype)), "Shape/dim", &loc)?;
                g.tensor(v)
            }
        };
        parts.push(v);
    }
    if parts.is_empty() {
        return g.constant_at(Vec::<i32>::new(), Some(dtype), "Shape", &loc);
    }
    let refs: Vec<&Tensor> = parts.iter().collect();
    crate::stack(&refs, 0)
}

/// Running sums along `axis` (TF `cumsum`): with `exclusive` each sum leaves out its
/// own element, with `reverse` it runs from the end (`reverse` gives reward-to-go).
#[track_caller]
pub fn cumsum(x: &Tensor, axis: i64, exclusive: bool, reverse: bool) -> Result<Tensor> {
    let loc = Loc::caller();
    let g = x.graph.clone();
    let vs = values("Cumsum", &g, &[x], &loc)?;
    let t = data_ty("Cumsum", x, &loc)?;
    let axis = norm_axis("Cumsum", x, t.shape.rank(), axis, &loc)?;
    let v = g.add_op(OpKind::Cumsum { axis, exclusive, reverse }, &vs, None, "Cumsum", &loc)?;
    Ok(g.tensor(v))
}

/// `sqrt(sum of squares of every element of every tensor)` (TF `global_norm`).
#[track_caller]
pub fn global_norm(ts: &[&Tensor]) -> Result<Tensor> {
    global_norm_at(ts, &Loc::caller())
}

fn global_norm_at(ts: &[&Tensor], loc: &Loc) -> Result<Tensor> {
    let mut total: Option<Tensor> = None;
    for t in ts {
        let sq = unary_at(UnaryOp::Square, t, loc)?;
        let s = reduce_at(ReduceOp::Sum, &sq, Axes::All, false, loc)?;
        total = Some(match total {
            Some(acc) => binary_at(BinaryOp::Add, &acc, &s, loc)?,
            None => s,
        });
    }
    let Some(total) = total else {
        return Err(Error::Invalid {
            op: "global_norm".into(),
            message: "needs at least one tensor".into(),
            loc: loc.clone(),
        });
    };
    unary_at(UnaryOp::Sqrt, &total, loc)
}

/// Scales the tensors so their global norm is at most `clip_norm`; returns them and the
/// norm before clipping (TF `clip_by_global_norm`).
#[track_caller]
pub fn clip_by_global_norm(ts: &[&Tensor], clip_norm: f64) -> Result<(Vec<Tensor>, Tensor)> {
    let loc = Loc::caller();
    let norm = global_norm_at(ts, &loc)?;
    // TF's formula: clip_norm * min(1 / norm, 1 / clip_norm), finite when norm is 0
    let one = scalar(&norm, 1.0, &loc)?;
    let inv = binary_at(BinaryOp::Div, &one, &norm, &loc)?;
    let cap = scalar(&norm, 1.0 / clip_norm, &loc)?;
    let m = binary_at(BinaryOp::Minimum, &inv, &cap, &loc)?;
    let c = scalar(&norm, clip_norm, &loc)?;
    let scale = binary_at(BinaryOp::Mul, &c, &m, &loc)?;
    let clipped = ts.iter().map(|t| binary_at(BinaryOp::Mul, t, &scale, &loc)).collect::<Result<Vec<_>>>()?;
    Ok((clipped, norm))
}

/// Neural-network ops (TF `tf.nn`).
pub mod nn {
    use super::*;

    /// `max(x, 0)` (TF `nn.relu`).
    #[track_caller]
    pub fn relu(x: &Tensor) -> Result<Tensor> {
        unary_at(UnaryOp::Relu, x, &Loc::caller())
    }

    /// Logistic sigmoid (TF `nn.sigmoid`).
    #[track_caller]
    pub fn sigmoid(x: &Tensor) -> Result<Tensor> {
        unary_at(UnaryOp::Sigmoid, x, &Loc::caller())
    }

    /// Hyperbolic tangent (TF `nn.tanh`).
    #[track_caller]
    pub fn tanh(x: &Tensor) -> Result<Tensor> {
        unary_at(UnaryOp::Tanh, x, &Loc::caller())
    }

    /// Softmax over the last axis (TF `nn.softmax`), computed stably.
    #[track_caller]
    pub fn softmax(logits: &Tensor) -> Result<Tensor> {
        softmax_at(logits, -1, &Loc::caller())
    }

    /// Log-softmax over the last axis (TF `nn.log_softmax`), computed stably.
    #[track_caller]
    pub fn log_softmax(logits: &Tensor) -> Result<Tensor> {
        log_softmax_at(logits, -1, &Loc::caller())
    }

    /// Softmax over `axis` (TF `nn.softmax(logits, axis)`).
    #[track_caller]
    pub fn softmax_along(logits: &Tensor, axis: i64) -> Result<Tensor> {
        softmax_at(logits, axis, &Loc::caller())
    }

    /// Log-softmax over `axis` (TF `nn.log_softmax(logits, axis)`).
    #[track_caller]
    pub fn log_softmax_along(logits: &Tensor, axis: i64) -> Result<Tensor> {
        log_softmax_at(logits, axis, &Loc::caller())
    }

    /// `x` where positive, `alpha * x` elsewhere (TF `nn.leaky_relu`; the gradient at
    /// 0 is `alpha`, as TF's `LeakyRelu` gives). `alpha` is rounded to float32, as
    /// TF keeps it (a float attribute), so float64 results match TF's too.
    #[track_caller]
    pub fn leaky_relu(x: &Tensor, alpha: f64) -> Result<Tensor> {
        let loc = Loc::caller();
        let zero = scalar(x, 0.0, &loc)?;
        let pos = crate::greater(x, &zero)?;
        let a = scalar(x, f64::from(alpha as f32), &loc)?;
        let ax = binary_at(BinaryOp::Mul, x, &a, &loc)?;
        crate::where_(&pos, x, &ax)
    }

    /// `value + bias` along the last axis, with TF's check that `bias` is a vector of
    /// that axis' size (TF `nn.bias_add`).
    #[track_caller]
    pub fn bias_add(value: &Tensor, bias: &Tensor) -> Result<Tensor> {
        let loc = Loc::caller();
        let (tv, tb) = (data_ty("BiasAdd", value, &loc)?, data_ty("BiasAdd", bias, &loc)?);
        let last = tv.shape.0.last();
        let fits =
            tb.shape.rank() == 1 && last.is_some_and(|d| d.is_sym() || tb.shape.0[0].is_sym() || *d == tb.shape.0[0]);
        if !fits {
            let show = |d: Option<&Dim>| d.map_or("?".to_string(), |d| d.fixed().map_or("?".into(), |n| n.to_string()));
            let message = format!(
                "Dimensions must be equal, but are {} and {} for 'BiasAdd' with input shapes: {}, {}.",
                show(last),
                show(tb.shape.0.first()),
                tv.shape.tf_string(),
                tb.shape.tf_string()
            );
            return Err(Error::Invalid { op: "BiasAdd".into(), message, loc });
        }
        binary_at(BinaryOp::Add, value, bias, &loc)
    }

    /// `sum(t^2) / 2` (TF `nn.l2_loss`).
    #[track_caller]
    pub fn l2_loss(t: &Tensor) -> Result<Tensor> {
        let loc = Loc::caller();
        let sq = unary_at(UnaryOp::Square, t, &loc)?;
        let s = reduce_at(ReduceOp::Sum, &sq, Axes::All, false, &loc)?;
        let half = scalar(&s, 0.5, &loc)?;
        binary_at(BinaryOp::Mul, &s, &half, &loc)
    }

    /// Elementwise `-z log(sigmoid(x)) - (1 - z) log(1 - sigmoid(x))` in TF's stable
    /// form `max(x, 0) - x z + log(1 + exp(-|x|))`, with TF's selects so the gradient
    /// at 0 is TF's too (TF `nn.sigmoid_cross_entropy_with_logits`).
    #[track_caller]
    pub fn sigmoid_cross_entropy_with_logits(labels: &Tensor, logits: &Tensor) -> Result<Tensor> {
        let loc = Loc::caller();
        let (tz, tx) = (
            data_ty("sigmoid_cross_entropy_with_logits", labels, &loc)?,
            data_ty("sigmoid_cross_entropy_with_logits", logits, &loc)?,
        );
        let compatible = tz.shape.rank() == tx.shape.rank()
            && tz.shape.0.iter().zip(&tx.shape.0).all(|(a, b)| a.is_sym() || b.is_sym() || a == b);
        if !compatible {
            let message = format!(
                "logits and labels must have the same shape ({} vs {})",
                tx.shape.tf_string(),
                tz.shape.tf_string()
            );
            return Err(Error::Invalid { op: "sigmoid_cross_entropy_with_logits".into(), message, loc });
        }
        if tz.dtype != tx.dtype {
            return Err(Error::DType {
                op: "sigmoid_cross_entropy_with_logits".into(),
                lhs: tx.dtype,
                rhs: tz.dtype,
                loc,
            });
        }
        let zeros = crate::zeros_like(logits, None)?;
        let pos = crate::greater_equal(logits, &zeros)?;
        let relu = crate::where_(&pos, logits, &zeros)?;
        let neg = unary_at(UnaryOp::Neg, logits, &loc)?;
        let neg_abs = crate::where_(&pos, &neg, logits)?;
        let xz = binary_at(BinaryOp::Mul, logits, labels, &loc)?;
        let l = unary_at(UnaryOp::Log1p, &unary_at(UnaryOp::Exp, &neg_abs, &loc)?, &loc)?;
        binary_at(BinaryOp::Add, &binary_at(BinaryOp::Sub, &relu, &xz, &loc)?, &l, &loc)
    }

    /// TF `nn.dropout(x, rate=rate)` (TF1's `keep_prob` is `1 - rate`): each element
    /// kept with probability `1 - rate` and scaled by `1 / (1 - rate)`, else zero, drawn
    /// afresh at every run.
    #[track_caller]
    pub fn dropout(x: &Tensor, rate: f64, seed: Option<u64>) -> Result<Tensor> {
        let loc = Loc::caller();
        let t = float_ty("dropout", "x", x, &loc)?;
        if !(0.0..1.0).contains(&rate) {
            let message = format!("rate must be a scalar tensor or a float in the range [0, 1), got {rate}");
            return Err(Error::Invalid { op: "dropout".into(), message, loc });
        }
        let dist = kiln_ir::RandomDist::Uniform { min: 0.0, max: 1.0 };
        let u = x.graph.random_at(dist, t.shape, t.dtype, seed, "dropout/random_uniform", &loc)?;
        let keep = crate::greater_equal(&u, &scalar(x, rate, &loc)?)?;
        let scaled = binary_at(BinaryOp::Mul, x, &scalar(x, 1.0 / (1.0 - rate), &loc)?, &loc)?;
        let mask = crate::cast(&keep, t.dtype)?;
        binary_at(BinaryOp::Mul, &scaled, &mask, &loc)
    }

    /// `-sum(labels * log_softmax(logits), -1)` per row, for dense label
    /// distributions (TF1 `nn.softmax_cross_entropy_with_logits`; no gradient into
    /// the labels).
    #[track_caller]
    pub fn softmax_cross_entropy_with_logits(labels: &Tensor, logits: &Tensor) -> Result<Tensor> {
        xent_at(labels, logits, &Loc::caller())
    }

    /// Cross-entropy with integer class labels (TF
    /// `nn.sparse_softmax_cross_entropy_with_logits`). A label outside
    /// `0..classes` fails the run, as in TF.
    #[track_caller]
    pub fn sparse_softmax_cross_entropy_with_logits(labels: &Tensor, logits: &Tensor) -> Result<Tensor> {
        const OP: &str = "SparseSoftmaxCrossEntropyWithLogits";
        let loc = Loc::caller();
        let tz = float_ty(OP, "logits", logits, &loc)?;
        let tl = data_ty(OP, labels, &loc)?;
        if tz.shape.rank() == 0 || tl.shape.rank() + 1 != tz.shape.rank() {
            let message = format!(
                "Rank mismatch: Rank of labels (received {}) should equal rank of logits minus 1 (received {})",
                tl.shape.rank(),
                tz.shape.rank()
            );
            return Err(Error::Invalid { op: OP.into(), message, loc });
        }
        let rows = Shape(tz.shape.0[..tl.shape.rank()].to_vec());
        same_shape(OP, ["labels", "logits without their last dim"], &tl.shape, &rows, &loc)?;
        // TF1 checks the shapes (in Python) before the op checks its dtypes
        if !tl.dtype.is_int() {
            let (dtype, allowed) = (tl.dtype, "int32, int64");
            return Err(Error::DTypeNotAllowed { op: OP.into(), param: "labels", dtype, allowed, loc });
        }
        let classes = tz.shape.0.last().and_then(Dim::fixed).ok_or_else(|| Error::Invalid {
            op: OP.into(),
            message: format!("logits {} need a known number of classes (the last dim)", tz.shape.tf_string()),
            loc: loc.clone(),
        })?;
        let g = labels.graph.clone();
        let vs = values("SparseSoftmaxCrossEntropyWithLogits", &g, &[labels], &loc)?;
        let checked = g.add_op(OpKind::CheckIndex { bound: classes }, &vs, None, "labels/check", &loc)?;
        let onehot = one_hot_at(&g.tensor(checked), classes as usize, tz.dtype, &loc)?;
        xent_at(&onehot, logits, &loc)
    }
}

//! `tf.losses`: TF1's losses (the ones the course uses), with the default reduction
//! (`SUM_BY_NONZERO_WEIGHTS` for a scalar weight: the weighted mean). As in TF1,
//! labels and predictions are cast to float32 first, whatever their dtype.

use crate::ops::{binary_at, data_ty, reduce_at, unary_at};
use crate::{Axes, DType, Error, Result, Tensor};
use kiln_ir::{BinaryOp, Loc, ReduceOp, UnaryOp};

#[track_caller]
fn f32_pair(labels: &Tensor, predictions: &Tensor, loc: &Loc) -> Result<(Tensor, Tensor)> {
    let (tl, tp) = (data_ty("losses", labels, loc)?, data_ty("losses", predictions, loc)?);
    // TF1 checks this before building anything, so the error names no internal op
    let compatible = tl.shape.rank() == tp.shape.rank()
        && tl.shape.0.iter().zip(&tp.shape.0).all(|(a, b)| a.is_sym() || b.is_sym() || a == b);
    if !compatible {
        let message = format!("Shapes {} and {} are incompatible", tp.shape.tf_string(), tl.shape.tf_string());
        return Err(Error::Invalid { op: "losses".into(), message, loc: loc.clone() });
    }
    Ok((crate::cast(labels, DType::F32)?, crate::cast(predictions, DType::F32)?))
}

fn weighted_mean(losses: &Tensor, weights: f64, loc: &Loc) -> Result<Tensor> {
    let l = if weights == 1.0 {
        losses.clone()
    } else {
        let w = losses.graph().constant_at(weights, Some(DType::F32), "weights", loc)?;
        binary_at(BinaryOp::Mul, losses, &w, loc)?
    };
    reduce_at(ReduceOp::Mean, &l, Axes::All, false, loc)
}

/// TF `losses.mean_squared_error(labels, predictions, weights)`.
#[track_caller]
pub fn mean_squared_error(labels: &Tensor, predictions: &Tensor, weights: f64) -> Result<Tensor> {
    let loc = Loc::caller();
    let (l, p) = f32_pair(labels, predictions, &loc)?;
    let e = binary_at(BinaryOp::Sub, &p, &l, &loc)?;
    weighted_mean(&unary_at(UnaryOp::Square, &e, &loc)?, weights, &loc)
}

/// TF `losses.absolute_difference(labels, predictions, weights)`.
#[track_caller]
pub fn absolute_difference(labels: &Tensor, predictions: &Tensor, weights: f64) -> Result<Tensor> {
    let loc = Loc::caller();
    let (l, p) = f32_pair(labels, predictions, &loc)?;
    let e = binary_at(BinaryOp::Sub, &p, &l, &loc)?;
    weighted_mean(&unary_at(UnaryOp::Abs, &e, &loc)?, weights, &loc)
}

/// TF1's `losses.huber_loss(labels, predictions, weights, delta)`: `0.5 e^2` within
/// `delta`, `delta (|e| - 0.5 delta)` beyond, in TF1's form (`0.5 q^2 + delta l`
/// with `q = min(|e|, delta)`, `l = |e| - q`).
#[track_caller]
pub fn huber_loss(labels: &Tensor, predictions: &Tensor, weights: f64, delta: f64) -> Result<Tensor> {
    let loc = Loc::caller();
    let (l, p) = f32_pair(labels, predictions, &loc)?;
    let g = labels.graph();
    let e = binary_at(BinaryOp::Sub, &p, &l, &loc)?;
    let abs = unary_at(UnaryOp::Abs, &e, &loc)?;
    let d = g.constant_at(delta, Some(DType::F32), "delta", &loc)?;
    let q = binary_at(BinaryOp::Minimum, &abs, &d, &loc)?;
    let lin = binary_at(BinaryOp::Sub, &abs, &q, &loc)?;
    let half = g.constant_at(0.5, Some(DType::F32), "half", &loc)?;
    let qq = binary_at(BinaryOp::Mul, &binary_at(BinaryOp::Mul, &half, &q, &loc)?, &q, &loc)?;
    let dl = binary_at(BinaryOp::Mul, &d, &lin, &loc)?;
    weighted_mean(&binary_at(BinaryOp::Add, &qq, &dl, &loc)?, weights, &loc)
}

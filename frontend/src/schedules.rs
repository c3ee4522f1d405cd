//! TF1's global step and learning-rate schedules (`tf.train.exponential_decay`,
//! `polynomial_decay`, `piecewise_constant`), plus the small TF1 helpers over
//! variables and constants (`assign_add`, `assign_sub`, `zeros`, `ones`, `to_float`).

use crate::ops::data_ty;
use crate::{DType, Error, Graph, Initializer, Result, Tensor};
use kiln_ir::Loc;

impl Graph {
    /// TF `train.get_global_step()`: the variable named `global_step`, if any.
    pub fn get_global_step(&self) -> Option<Tensor> {
        self.global_variables().into_iter().find(|v| v.var_name().as_deref() == Some("global_step"))
    }

    /// TF `train.get_or_create_global_step()`: the global step, made (an int64 zero,
    /// not trainable) the first time.
    #[track_caller]
    pub fn get_or_create_global_step(&self) -> Result<Tensor> {
        if let Some(v) = self.get_global_step() {
            return Ok(v);
        }
        self.get_variable_trainable("global_step", &[], DType::I64, Initializer::Zeros, false)
    }
}

#[track_caller]
fn step_f32(step: &Tensor) -> Result<Tensor> {
    crate::cast(step, DType::F32)
}

fn scalar(g: &Graph, x: f64, loc: &Loc) -> Result<Tensor> {
    g.constant_at(x, Some(DType::F32), "Const", loc)
}

/// TF `train.exponential_decay`: `lr * rate ^ (step / decay_steps)`, the exponent
/// floored with `staircase`; float32, as TF1 computes it.
#[track_caller]
pub fn exponential_decay(
    lr: f64,
    global_step: &Tensor,
    decay_steps: f64,
    rate: f64,
    staircase: bool,
) -> Result<Tensor> {
    let loc = Loc::caller();
    let g = global_step.graph();
    let mut p = crate::divide(&step_f32(global_step)?, &scalar(g, decay_steps, &loc)?)?;
    if staircase {
        // floor by truncation: the step is never negative
        p = crate::cast(&crate::cast(&p, DType::I64)?, DType::F32)?;
    }
    let decayed = crate::pow(&scalar(g, rate, &loc)?, &p)?;
    crate::multiply(&scalar(g, lr, &loc)?, &decayed)
}

/// TF `train.polynomial_decay` (without `cycle`): `(lr - end) * (1 - min(step,
/// decay_steps) / decay_steps) ^ power + end`.
#[track_caller]
pub fn polynomial_decay(lr: f64, global_step: &Tensor, decay_steps: f64, end: f64, power: f64) -> Result<Tensor> {
    let loc = Loc::caller();
    let g = global_step.graph();
    let steps = scalar(g, decay_steps, &loc)?;
    let step = crate::minimum(&step_f32(global_step)?, &steps)?;
    let frac = crate::subtract(&scalar(g, 1.0, &loc)?, &crate::divide(&step, &steps)?)?;
    let p = crate::pow(&frac, &scalar(g, power, &loc)?)?;
    crate::add(&crate::multiply(&p, &scalar(g, lr - end, &loc)?)?, &scalar(g, end, &loc)?)
}

/// TF `train.piecewise_constant(x, boundaries, values)`: `values[0]` while `x <=
/// boundaries[0]`, `values[1]` while `x <= boundaries[1]`, ..., `values[-1]` after.
#[track_caller]
pub fn piecewise_constant(x: &Tensor, boundaries: &[f64], values: &[f64]) -> Result<Tensor> {
    let loc = Loc::caller();
    if values.len() != boundaries.len() + 1 {
        let message = "The length of boundaries should be 1 less than the length of values".to_string();
        return Err(Error::Invalid { op: "piecewise_constant".into(), message, loc });
    }
    let g = x.graph();
    let xf = step_f32(x)?;
    let mut out = scalar(g, values[boundaries.len()], &loc)?;
    for (b, v) in boundaries.iter().zip(values).rev() {
        let below = crate::less_equal(&xf, &scalar(g, *b, &loc)?)?;
        out = crate::where_(&below, &scalar(g, *v, &loc)?, &out)?;
    }
    Ok(out)
}

/// TF `assign_add(ref, delta)`: `ref = ref + delta` when run. Returns the new value
/// (`ref + delta` from the value before the run) and the assignment op.
#[track_caller]
pub fn assign_add(var: &Tensor, delta: &Tensor) -> Result<(Tensor, Tensor)> {
    let sum = crate::add(var, delta)?;
    Ok((sum.clone(), crate::assign(var, &sum)?))
}

/// TF `assign_sub(ref, delta)`: `ref = ref - delta` when run; the new value and the
/// assignment op.
#[track_caller]
pub fn assign_sub(var: &Tensor, delta: &Tensor) -> Result<(Tensor, Tensor)> {
    let diff = crate::subtract(var, delta)?;
    Ok((diff.clone(), crate::assign(var, &diff)?))
}

/// TF `zeros(shape, dtype)`.
#[track_caller]
pub fn zeros(g: &Graph, shape: &[usize], dtype: DType) -> Result<Tensor> {
    filled(g, shape, dtype, 0.0, "zeros", &Loc::caller())
}

/// TF `ones(shape, dtype)`.
#[track_caller]
pub fn ones(g: &Graph, shape: &[usize], dtype: DType) -> Result<Tensor> {
    filled(g, shape, dtype, 1.0, "ones", &Loc::caller())
}

#[track_caller]
fn filled(g: &Graph, shape: &[usize], dtype: DType, v: f64, name: &str, loc: &Loc) -> Result<Tensor> {
    let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or_else(|| Error::Invalid {
        op: name.into(),
        message: format!("shape {shape:?} has too many elements"),
        loc: loc.clone(),
    })?;
    let flat = g.constant_at(vec![v; n.min(1)], Some(dtype), name, loc)?;
    if n <= 1 {
        let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
        return crate::reshape(&flat, &dims);
    }
    let one = crate::reshape(&flat, &[])?;
    crate::broadcast_to(&one, shape)
}

/// TF `to_float(x)`: a cast to float32.
#[track_caller]
pub fn to_float(x: &Tensor) -> Result<Tensor> {
    data_ty("ToFloat", x, &Loc::caller())?;
    crate::cast(x, DType::F32)
}

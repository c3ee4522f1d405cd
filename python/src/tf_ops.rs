//! Bindings of the frontend's TF1 functions with options (`matmul`'s transposes,
//! `one_hot`'s values, `gather`'s axis, ...), the losses and `tf.nn`'s compositions.
//! Each is one call into the Rust frontend; `kiln.compat.v1` only parses keywords.

use crate::convert::dtype;
use crate::errors::build;
use crate::graph::{PyGraph, PyTensor};
use kiln::frontend::{self as f, Index, TensorLike};
use kiln::{nn, Axes, Tensor};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PySlice, PyTuple};

fn wrap(ts: Vec<Tensor>) -> Vec<PyTensor> {
    ts.into_iter().map(|t| PyTensor { t }).collect()
}

fn axes(a: Option<Vec<i64>>) -> Axes {
    a.map_or(Axes::All, Axes::List)
}

fn dt(d: Option<&str>) -> PyResult<Option<kiln::DType>> {
    d.map(dtype).transpose()
}

/// A tensor as is, or a Python number (taken in the dtype the function needs).
fn tensor_like(x: &Bound<'_, PyAny>) -> PyResult<TensorLike> {
    if let Ok(t) = x.cast::<PyTensor>() {
        return Ok(TensorLike::Tensor(t.get().t.clone()));
    }
    x.extract::<f64>().map(TensorLike::Number).map_err(|_| {
        let ty = x.get_type().name().map(|n| n.to_string()).unwrap_or_default();
        PyTypeError::new_err(format!("expected a Tensor or a number, got {ty}"))
    })
}

fn opt_like(x: Option<&Bound<'_, PyAny>>) -> PyResult<Option<TensorLike>> {
    x.filter(|x| !x.is_none()).map(tensor_like).transpose()
}

/// TF `matmul(a, b, transpose_a, transpose_b)`.
#[pyfunction]
pub fn matmul_with(
    py: Python<'_>,
    a: &PyTensor,
    b: &PyTensor,
    transpose_a: bool,
    transpose_b: bool,
) -> PyResult<PyTensor> {
    let opts = f::MatMul { transpose_a, transpose_b };
    build(py, || f::matmul_with(&a.t, &b.t, opts)).map(|t| PyTensor { t })
}

/// TF `add_n`.
#[pyfunction]
pub fn add_n(py: Python<'_>, xs: Vec<PyTensor>) -> PyResult<PyTensor> {
    let refs: Vec<&Tensor> = xs.iter().map(|x| &x.t).collect();
    build(py, || f::add_n(&refs)).map(|t| PyTensor { t })
}

/// `reduce_logsumexp`, `reduce_any`, `reduce_all` by name.
#[pyfunction]
pub fn reduce_special(
    py: Python<'_>,
    op: &str,
    x: &PyTensor,
    axes_: Option<Vec<i64>>,
    keepdims: bool,
) -> PyResult<PyTensor> {
    let a = axes(axes_);
    build(py, || match op {
        "reduce_logsumexp" => f::reduce_logsumexp(&x.t, a, keepdims),
        "reduce_any" => f::reduce_any(&x.t, a, keepdims),
        _ => f::reduce_all(&x.t, a, keepdims),
    })
    .map(|t| PyTensor { t })
}

/// TF `argmax` / `argmin` with `output_type`.
#[pyfunction]
pub fn arg_extreme(py: Python<'_>, min: bool, x: &PyTensor, axis: i64, output_type: &str) -> PyResult<PyTensor> {
    let d = dtype(output_type)?;
    build(py, || if min { f::argmin(&x.t, axis, d) } else { f::argmax_typed(&x.t, axis, d) }).map(|t| PyTensor { t })
}

/// TF `clip_by_value` (numbers or tensors as bounds).
#[pyfunction]
pub fn clip_by_value(py: Python<'_>, x: &PyTensor, lo: &Bound<'_, PyAny>, hi: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
    let (lo, hi) = (tensor_like(lo)?, tensor_like(hi)?);
    build(py, || f::clip_by_value(&x.t, lo, hi)).map(|t| PyTensor { t })
}

/// TF `clip_by_norm`.
#[pyfunction]
pub fn clip_by_norm(
    py: Python<'_>,
    x: &PyTensor,
    clip: &Bound<'_, PyAny>,
    axes_: Option<Vec<i64>>,
) -> PyResult<PyTensor> {
    let clip = tensor_like(clip)?;
    build(py, || f::clip_by_norm(&x.t, clip, axes(axes_))).map(|t| PyTensor { t })
}

/// TF `tile` with known multiples.
#[pyfunction]
pub fn tile(py: Python<'_>, x: &PyTensor, multiples: Vec<usize>) -> PyResult<PyTensor> {
    build(py, || f::tile(&x.t, &multiples)).map(|t| PyTensor { t })
}

/// TF `split`: `num` equal parts, or `sizes`.
#[pyfunction]
#[pyo3(signature = (x, axis, num=None, sizes=None))]
pub fn split(
    py: Python<'_>,
    x: &PyTensor,
    axis: i64,
    num: Option<usize>,
    sizes: Option<Vec<i64>>,
) -> PyResult<Vec<PyTensor>> {
    let s = match (num, sizes) {
        (Some(n), _) => f::Split::Num(n),
        (None, s) => f::Split::Sizes(s.unwrap_or_default()),
    };
    build(py, || f::split(&x.t, s, axis)).map(wrap)
}

/// TF `unstack`.
#[pyfunction]
#[pyo3(signature = (x, axis, num=None))]
pub fn unstack(py: Python<'_>, x: &PyTensor, axis: i64, num: Option<usize>) -> PyResult<Vec<PyTensor>> {
    build(py, || f::unstack(&x.t, num, axis)).map(wrap)
}

/// TF `gather(params, indices, axis, batch_dims)`.
#[pyfunction]
#[pyo3(signature = (params, indices, axis=None, batch_dims=0))]
pub fn gather_v2(
    py: Python<'_>,
    params: &PyTensor,
    indices: &PyTensor,
    axis: Option<i64>,
    batch_dims: i64,
) -> PyResult<PyTensor> {
    build(py, || f::gather_v2(&params.t, &indices.t, axis, batch_dims)).map(|t| PyTensor { t })
}

/// TF `gather_nd`.
#[pyfunction]
pub fn gather_nd(py: Python<'_>, params: &PyTensor, indices: &PyTensor, batch_dims: usize) -> PyResult<PyTensor> {
    build(py, || f::gather_nd(&params.t, &indices.t, batch_dims)).map(|t| PyTensor { t })
}

/// TF `one_hot` with its options.
#[pyfunction]
#[pyo3(signature = (indices, depth, on_value=None, off_value=None, axis=None, dtype_=None))]
pub fn one_hot_with(
    py: Python<'_>,
    indices: &PyTensor,
    depth: usize,
    on_value: Option<&Bound<'_, PyAny>>,
    off_value: Option<&Bound<'_, PyAny>>,
    axis: Option<i64>,
    dtype_: Option<&str>,
) -> PyResult<PyTensor> {
    let opts = f::OneHot { on_value: opt_like(on_value)?, off_value: opt_like(off_value)?, axis, dtype: dt(dtype_)? };
    build(py, || f::one_hot_with(&indices.t, depth, opts)).map(|t| PyTensor { t })
}

/// TF1 `where(condition, x, y)`.
#[pyfunction]
pub fn where_v1(py: Python<'_>, c: &PyTensor, x: &PyTensor, y: &PyTensor) -> PyResult<PyTensor> {
    build(py, || f::where_v1(&c.t, &x.t, &y.t)).map(|t| PyTensor { t })
}

/// TF `zeros_like` / `ones_like`.
#[pyfunction]
#[pyo3(signature = (x, one, dtype_=None))]
pub fn filled_like(py: Python<'_>, x: &PyTensor, one: bool, dtype_: Option<&str>) -> PyResult<PyTensor> {
    let d = dt(dtype_)?;
    build(py, || if one { f::ones_like(&x.t, d) } else { f::zeros_like(&x.t, d) }).map(|t| PyTensor { t })
}

/// TF `range` in `dtype`.
#[pyfunction]
pub fn range(py: Python<'_>, g: &PyGraph, start: f64, limit: f64, delta: f64, dtype_: &str) -> PyResult<PyTensor> {
    let d = dtype(dtype_)?;
    build(py, || f::range(&g.g, start, limit, delta, d)).map(|t| PyTensor { t })
}

/// `x[idx]`: ints, unit-step slices, `...` and `None`.
#[pyfunction]
pub fn getitem(py: Python<'_>, x: &PyTensor, idx: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
    let items: Vec<Bound<'_, PyAny>> = match idx.cast::<PyTuple>() {
        Ok(t) => t.iter().collect(),
        Err(_) => vec![idx.clone()],
    };
    let ellipsis = py.Ellipsis();
    let mut index = Vec::with_capacity(items.len());
    for i in items {
        index.push(if i.is_none() {
            Index::NewAxis
        } else if i.is(&ellipsis) {
            Index::Ellipsis
        } else if let Ok(s) = i.cast::<PySlice>() {
            let part = |n: &str| -> PyResult<Option<i64>> { s.getattr(n)?.extract() };
            Index::Range { start: part("start")?, stop: part("stop")?, step: part("step")? }
        } else if let Ok(p) = i.extract::<i64>() {
            Index::At(p)
        } else {
            let ty = i.get_type().name().map(|n| n.to_string()).unwrap_or_default();
            return Err(PyTypeError::new_err(format!(
                "Only integers, slices (`:`), ellipsis (`...`), tf.newaxis (`None`) and scalar tf.int32/tf.int64 tensors are valid indices, got {ty}"
            )));
        });
    }
    build(py, || f::getitem(&x.t, &index)).map(|t| PyTensor { t })
}

/// `tf.nn`'s compositions by name: `leaky_relu` (a = alpha), `l2_loss`, `softmax` and
/// `log_softmax` along an axis (a = axis).
#[pyfunction]
pub fn nn_unary(py: Python<'_>, op: &str, x: &PyTensor, a: f64) -> PyResult<PyTensor> {
    build(py, || match op {
        "leaky_relu" => nn::leaky_relu(&x.t, a),
        "l2_loss" => nn::l2_loss(&x.t),
        "softmax" => nn::softmax_along(&x.t, a as i64),
        _ => nn::log_softmax_along(&x.t, a as i64),
    })
    .map(|t| PyTensor { t })
}

/// `tf.nn.bias_add` and `sigmoid_cross_entropy_with_logits` by name.
#[pyfunction]
pub fn nn_binary(py: Python<'_>, op: &str, x: &PyTensor, y: &PyTensor) -> PyResult<PyTensor> {
    build(py, || match op {
        "bias_add" => nn::bias_add(&x.t, &y.t),
        _ => nn::sigmoid_cross_entropy_with_logits(&x.t, &y.t),
    })
    .map(|t| PyTensor { t })
}

/// TF `nn.dropout` with `rate`.
#[pyfunction]
#[pyo3(signature = (x, rate, seed=None))]
pub fn dropout(py: Python<'_>, x: &PyTensor, rate: f64, seed: Option<u64>) -> PyResult<PyTensor> {
    build(py, || nn::dropout(&x.t, rate, seed)).map(|t| PyTensor { t })
}

/// `tf.losses`: `mean_squared_error`, `absolute_difference`, `huber_loss` by name.
#[pyfunction]
pub fn loss(
    py: Python<'_>,
    op: &str,
    labels: &PyTensor,
    predictions: &PyTensor,
    weights: f64,
    delta: f64,
) -> PyResult<PyTensor> {
    use kiln::frontend::losses;
    build(py, || match op {
        "mean_squared_error" => losses::mean_squared_error(&labels.t, &predictions.t, weights),
        "absolute_difference" => losses::absolute_difference(&labels.t, &predictions.t, weights),
        _ => losses::huber_loss(&labels.t, &predictions.t, weights, delta),
    })
    .map(|t| PyTensor { t })
}

/// TF `train.get_global_step` (`create`: `get_or_create_global_step`).
#[pyfunction]
pub fn global_step(py: Python<'_>, g: &PyGraph, create: bool) -> PyResult<Option<PyTensor>> {
    if !create {
        return Ok(g.g.get_global_step().map(|t| PyTensor { t }));
    }
    build(py, || g.g.get_or_create_global_step()).map(|t| Some(PyTensor { t }))
}

/// TF `train.exponential_decay` (`polynomial`: `polynomial_decay`, with `b` the end
/// rate and `c` the power; else `b` is the decay rate and `c` nonzero for staircase).
#[pyfunction]
pub fn decay(
    py: Python<'_>,
    polynomial: bool,
    lr: f64,
    step: &PyTensor,
    decay_steps: f64,
    b: f64,
    c: f64,
) -> PyResult<PyTensor> {
    build(py, || {
        if polynomial {
            f::polynomial_decay(lr, &step.t, decay_steps, b, c)
        } else {
            f::exponential_decay(lr, &step.t, decay_steps, b, c != 0.0)
        }
    })
    .map(|t| PyTensor { t })
}

/// TF `train.piecewise_constant`.
#[pyfunction]
pub fn piecewise_constant(py: Python<'_>, x: &PyTensor, boundaries: Vec<f64>, values: Vec<f64>) -> PyResult<PyTensor> {
    build(py, || f::piecewise_constant(&x.t, &boundaries, &values)).map(|t| PyTensor { t })
}

/// TF `assign_add` (`sub`: `assign_sub`): the new value and the assignment op.
#[pyfunction]
pub fn assign_delta(py: Python<'_>, var: &PyTensor, delta: &PyTensor, sub: bool) -> PyResult<(PyTensor, PyTensor)> {
    let (v, op) = build(py, || if sub { f::assign_sub(&var.t, &delta.t) } else { f::assign_add(&var.t, &delta.t) })?;
    Ok((PyTensor { t: v }, PyTensor { t: op }))
}

/// TF `zeros` / `ones` of a known shape.
#[pyfunction]
pub fn filled(py: Python<'_>, g: &PyGraph, shape: Vec<usize>, dtype_: &str, one: bool) -> PyResult<PyTensor> {
    let d = dtype(dtype_)?;
    build(py, || if one { f::ones(&g.g, &shape, d) } else { f::zeros(&g.g, &shape, d) }).map(|t| PyTensor { t })
}

//! The ops, one function each (or one per family, by TF name); `kiln.compat.v1` gives
//! them TF's signatures.

use crate::errors::{build, user_loc};
use crate::graph::{ok, PyTensor};
use kiln::ir::{BINARY_OPS, CMP_OPS, UNARY_OPS};
use kiln::{nn, Axes, Tensor};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

fn refs(ts: &[PyTensor]) -> Vec<&Tensor> {
    ts.iter().map(|t| &t.t).collect()
}

fn axes(a: Option<Vec<i64>>) -> Axes {
    a.map_or(Axes::All, Axes::List)
}

/// `x op y` for `add`, `sub`, `mul`, `div` (NumPy broadcasting); `y` may be a Python
/// number, taken in `x`'s dtype as TF does. `reverse` computes `y op x`.
#[pyfunction]
pub fn arith(py: Python<'_>, op: &str, x: &PyTensor, y: &Bound<'_, PyAny>, reverse: bool) -> PyResult<PyTensor> {
    let x = &x.t;
    let t = kiln::ir::Loc::with_user(user_loc(py), || -> PyResult<_> {
        // a Python number becomes a constant of x's dtype straight from its f64 (a
        // float64 graph keeps 0.1 exact, as TF does)
        let y = match y.cast::<PyTensor>() {
            Ok(t) => t.get().t.clone(),
            Err(_) => x
                .graph()
                .constant_named(y.extract::<f64>()?, x.dtype(), "y")
                .map_err(|e| crate::errors::build_error(&e))?,
        };
        let (a, b) = if reverse { (&y, x) } else { (x, &y) };
        Ok(match op {
            "add" => a + b,
            "sub" => a - b,
            "mul" => a * b,
            "div" => a / b,
            _ => return Err(PyValueError::new_err(format!("no arithmetic op {op}"))),
        })
    })?;
    ok(t)
}

/// A binary op or comparison of the op tables, by its TF function name (`maximum`,
/// `less`, ...).
#[pyfunction]
pub fn binary(py: Python<'_>, op: &str, x: &PyTensor, y: &PyTensor) -> PyResult<PyTensor> {
    if let Some(&b) = BINARY_OPS.iter().find(|b| b.tf_function() == op) {
        return build(py, || kiln::binary_op(b, &x.t, &y.t)).map(|t| PyTensor { t });
    }
    if let Some(&c) = CMP_OPS.iter().find(|c| c.tf_function() == op) {
        return build(py, || kiln::compare_op(c, &x.t, &y.t)).map(|t| PyTensor { t });
    }
    Err(PyValueError::new_err(format!("no binary op {op}")))
}

/// A unary op of the op table by its TF function name (`tanh`, `softplus`, ...), or
/// one of `softmax`, `log_softmax`, `stop_gradient`.
#[pyfunction]
pub fn unary(py: Python<'_>, op: &str, x: &PyTensor) -> PyResult<PyTensor> {
    if let Some(&u) = UNARY_OPS.iter().find(|u| u.tf_function() == op) {
        return build(py, || kiln::unary_op(u, &x.t)).map(|t| PyTensor { t });
    }
    let f = match op {
        "softmax" => nn::softmax,
        "log_softmax" => nn::log_softmax,
        "stop_gradient" => kiln::stop_gradient,
        _ => return Err(PyValueError::new_err(format!("no unary op {op}"))),
    };
    build(py, || f(&x.t)).map(|t| PyTensor { t })
}

/// A reduction of the op table (`op` is `sum` for `reduce_sum`) over `axes` (`None`: all).
#[pyfunction]
pub fn reduce(py: Python<'_>, op: &str, x: &PyTensor, axes_: Option<Vec<i64>>, keepdims: bool) -> PyResult<PyTensor> {
    let Some(&r) = kiln::ir::REDUCE_OPS.iter().find(|r| r.tf_function().strip_prefix("reduce_") == Some(op)) else {
        return Err(PyValueError::new_err(format!("no reduction {op}")));
    };
    build(py, || kiln::reduce_op(r, &x.t, axes(axes_), keepdims)).map(|t| PyTensor { t })
}

/// TF `matmul`.
#[pyfunction]
pub fn matmul(py: Python<'_>, a: &PyTensor, b: &PyTensor) -> PyResult<PyTensor> {
    build(py, || kiln::matmul(&a.t, &b.t)).map(|t| PyTensor { t })
}

/// TF `reshape` (one `-1` allowed).
#[pyfunction]
pub fn reshape(py: Python<'_>, x: &PyTensor, shape: Vec<i64>) -> PyResult<PyTensor> {
    build(py, || kiln::reshape(&x.t, &shape)).map(|t| PyTensor { t })
}

/// TF `transpose` (`perm=None` reverses the dims).
#[pyfunction]
pub fn transpose(py: Python<'_>, x: &PyTensor, perm: Option<Vec<usize>>) -> PyResult<PyTensor> {
    build(py, || kiln::transpose(&x.t, perm.as_deref())).map(|t| PyTensor { t })
}

/// TF `slice` (`size` -1: to the end).
#[pyfunction]
pub fn slice(py: Python<'_>, x: &PyTensor, begin: Vec<usize>, size: Vec<i64>) -> PyResult<PyTensor> {
    build(py, || kiln::slice(&x.t, &begin, &size)).map(|t| PyTensor { t })
}

/// TF `concat`.
#[pyfunction]
pub fn concat(py: Python<'_>, xs: Vec<PyTensor>, axis: i64) -> PyResult<PyTensor> {
    build(py, || kiln::concat(&refs(&xs), axis)).map(|t| PyTensor { t })
}

/// TF `cast`.
#[pyfunction]
pub fn cast(py: Python<'_>, x: &PyTensor, dt: &str) -> PyResult<PyTensor> {
    let d = crate::convert::dtype(dt)?;
    build(py, || kiln::cast(&x.t, d)).map(|t| PyTensor { t })
}

/// TF `broadcast_to`.
#[pyfunction]
pub fn broadcast_to(py: Python<'_>, x: &PyTensor, shape: Vec<usize>) -> PyResult<PyTensor> {
    build(py, || kiln::broadcast_to(&x.t, &shape)).map(|t| PyTensor { t })
}

/// kiln's `where_`: elementwise select with NumPy broadcasting.
#[pyfunction]
pub fn where_(py: Python<'_>, c: &PyTensor, x: &PyTensor, y: &PyTensor) -> PyResult<PyTensor> {
    build(py, || kiln::where_(&c.t, &x.t, &y.t)).map(|t| PyTensor { t })
}

/// TF `assign`.
#[pyfunction]
pub fn assign(py: Python<'_>, var: &PyTensor, value: &PyTensor) -> PyResult<PyTensor> {
    build(py, || kiln::assign(&var.t, &value.t)).map(|t| PyTensor { t })
}

/// TF `group`.
#[pyfunction]
pub fn group(py: Python<'_>, ops: Vec<PyTensor>) -> PyResult<PyTensor> {
    build(py, || kiln::group(&refs(&ops))).map(|t| PyTensor { t })
}

/// TF `identity`: a new op, so a `control_dependencies` block's deps attach to it.
#[pyfunction]
pub fn identity(py: Python<'_>, x: PyTensor) -> PyResult<PyTensor> {
    build(py, || kiln::identity(&x.t)).map(|t| PyTensor { t })
}

/// TF `gradients(ys, xs, grad_ys)`: `None` where a y does not depend on an x.
#[pyfunction]
#[pyo3(signature = (ys, xs, grad_ys=None))]
pub fn gradients(
    py: Python<'_>,
    ys: Vec<PyTensor>,
    xs: Vec<PyTensor>,
    grad_ys: Option<Vec<PyTensor>>,
) -> PyResult<Vec<Option<PyTensor>>> {
    let g = build(py, || match &grad_ys {
        Some(gy) => kiln::gradients_with(&refs(&ys), &refs(&xs), &refs(gy)),
        None => kiln::gradients(&refs(&ys), &refs(&xs)),
    })?;
    Ok(g.into_iter().map(|t| t.map(|t| PyTensor { t })).collect())
}

/// TF `gather` (axis 0).
#[pyfunction]
pub fn gather(py: Python<'_>, params: &PyTensor, indices: &PyTensor) -> PyResult<PyTensor> {
    build(py, || kiln::gather(&params.t, &indices.t)).map(|t| PyTensor { t })
}

/// TF `one_hot` (float32, 1 and 0, last axis).
#[pyfunction]
pub fn one_hot(py: Python<'_>, indices: &PyTensor, depth: usize) -> PyResult<PyTensor> {
    build(py, || kiln::one_hot(&indices.t, depth)).map(|t| PyTensor { t })
}

/// TF `argmax` (int64).
#[pyfunction]
pub fn argmax(py: Python<'_>, x: &PyTensor, axis: i64) -> PyResult<PyTensor> {
    build(py, || kiln::argmax(&x.t, axis)).map(|t| PyTensor { t })
}

/// TF `shape` (`dt`: int32 or int64).
#[pyfunction]
pub fn shape(py: Python<'_>, x: &PyTensor, dt: &str) -> PyResult<PyTensor> {
    let d = crate::convert::dtype(dt)?;
    build(py, || kiln::shape(&x.t, d)).map(|t| PyTensor { t })
}

/// TF `cumsum`.
#[pyfunction]
pub fn cumsum(py: Python<'_>, x: &PyTensor, axis: i64, exclusive: bool, reverse: bool) -> PyResult<PyTensor> {
    build(py, || kiln::cumsum(&x.t, axis, exclusive, reverse)).map(|t| PyTensor { t })
}

/// TF `global_norm`.
#[pyfunction]
pub fn global_norm(py: Python<'_>, ts: Vec<PyTensor>) -> PyResult<PyTensor> {
    build(py, || kiln::global_norm(&refs(&ts))).map(|t| PyTensor { t })
}

/// TF `clip_by_global_norm`: (clipped, the norm).
#[pyfunction]
pub fn clip_by_global_norm(py: Python<'_>, ts: Vec<PyTensor>, clip_norm: f64) -> PyResult<(Vec<PyTensor>, PyTensor)> {
    let (c, n) = build(py, || kiln::clip_by_global_norm(&refs(&ts), clip_norm))?;
    Ok((c.into_iter().map(|t| PyTensor { t }).collect(), PyTensor { t: n }))
}

/// TF `nn.softmax_cross_entropy_with_logits(_v2)`, and the sparse form (`sparse`).
#[pyfunction]
pub fn softmax_cross_entropy(py: Python<'_>, labels: &PyTensor, logits: &PyTensor, sparse: bool) -> PyResult<PyTensor> {
    build(py, || {
        if sparse {
            nn::sparse_softmax_cross_entropy_with_logits(&labels.t, &logits.t)
        } else {
            nn::softmax_cross_entropy_with_logits(&labels.t, &logits.t)
        }
    })
    .map(|t| PyTensor { t })
}

/// TF `expand_dims`.
#[pyfunction]
pub fn expand_dims(py: Python<'_>, x: &PyTensor, axis: i64) -> PyResult<PyTensor> {
    build(py, || kiln::expand_dims(&x.t, axis)).map(|t| PyTensor { t })
}

/// TF `squeeze` (`axes` empty: every size-1 dim).
#[pyfunction]
pub fn squeeze(py: Python<'_>, x: &PyTensor, axes: Vec<i64>) -> PyResult<PyTensor> {
    build(py, || kiln::squeeze(&x.t, &axes)).map(|t| PyTensor { t })
}

/// TF `stack`.
#[pyfunction]
pub fn stack(py: Python<'_>, xs: Vec<PyTensor>, axis: i64) -> PyResult<PyTensor> {
    build(py, || kiln::stack(&refs(&xs), axis)).map(|t| PyTensor { t })
}

/// TF `random.categorical(logits, num_samples, seed, dtype)` (`multinomial`'s
/// `output_dtype`).
#[pyfunction]
#[pyo3(signature = (logits, num_samples, seed=None, dt="int64"))]
pub fn categorical(
    py: Python<'_>,
    logits: &PyTensor,
    num_samples: usize,
    seed: Option<u64>,
    dt: &str,
) -> PyResult<PyTensor> {
    let d = crate::convert::dtype(dt)?;
    build(py, || kiln::frontend::categorical_as(&logits.t, num_samples, seed, d)).map(|t| PyTensor { t })
}

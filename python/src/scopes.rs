//! Bindings of variable scopes with their options, `get_variable` with its options,
//! collections, regularizers and the layers (`dense`, `fully_connected`, `flatten`).
//! `kiln.compat.v1` keeps only the context managers and the keyword parsing.

use crate::convert::dtype;
use crate::errors::build;
use crate::graph::{initializer, PyGraph, PyScope, PyTensor};
use kiln::frontend::{self as f, layers, Regularizer, Reuse, VarOptions, VarScope};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

fn reuse(r: &str) -> PyResult<Reuse> {
    Ok(match r {
        "inherit" => Reuse::Inherit,
        "yes" => Reuse::Yes,
        "auto" => Reuse::Auto,
        _ => return Err(PyValueError::new_err(format!("no reuse mode {r}"))),
    })
}

/// A regularizer by (kind, scale): `l2` or `l1`.
fn regularizer(r: Option<(String, f64)>) -> PyResult<Option<Regularizer>> {
    Ok(match r {
        None => None,
        Some((k, s)) if k == "l2" => Some(Regularizer::L2(s)),
        Some((k, s)) if k == "l1" => Some(Regularizer::L1(s)),
        Some((k, _)) => return Err(PyValueError::new_err(format!("no regularizer {k}"))),
    })
}

/// An initializer by (kind, numbers, data), as `get_variable` takes it.
type InitSpec<'py> = Option<(String, Vec<f64>, Option<Bound<'py, PyAny>>)>;

fn init(spec: InitSpec<'_>) -> PyResult<Option<f::Initializer>> {
    match spec {
        None => Ok(None),
        Some((k, args, data)) => initializer(&k, &args, data.as_ref()),
    }
}

/// Opens a variable scope (`reuse`: `inherit`, `yes` or `auto`).
#[pyfunction]
#[pyo3(signature = (g, name, reuse_, init_=None, reg=None))]
pub fn variable_scope_with(
    g: &PyGraph,
    name: &str,
    reuse_: &str,
    init_: InitSpec<'_>,
    reg: Option<(String, f64)>,
) -> PyResult<PyScope> {
    let opts = VarScope { reuse: reuse(reuse_)?, initializer: init(init_)?, regularizer: regularizer(reg)? };
    Ok(PyScope::new(g.g.variable_scope_with(name, opts)))
}

/// The open variable scopes as a prefix, and the innermost reuse mode.
#[pyfunction]
pub fn scope_state(g: &PyGraph) -> (String, &'static str) {
    let r = match g.g.current_reuse() {
        Reuse::Inherit => "inherit",
        Reuse::Yes => "yes",
        Reuse::Auto => "auto",
    };
    (g.g.variable_scope_prefix(), r)
}

/// TF `get_variable` with its options: (the variable, whether it was created).
#[pyfunction]
#[pyo3(signature = (g, name, shape, dt, init_, reg, trainable))]
#[allow(clippy::too_many_arguments)] // TF's keywords, one each
pub fn get_variable_with(
    py: Python<'_>,
    g: &PyGraph,
    name: &str,
    shape: Vec<usize>,
    dt: &str,
    init_: InitSpec<'_>,
    reg: Option<(String, f64)>,
    trainable: bool,
) -> PyResult<(PyTensor, bool)> {
    let d = dtype(dt)?;
    let opts = VarOptions { initializer: init(init_)?, regularizer: regularizer(reg)?, trainable };
    let (t, created) = build(py, || g.g.get_variable_with(name, &shape, d, opts))?;
    Ok((PyTensor { t }, created))
}

/// A regularizer's penalty for `w` (`None` at scale 0).
#[pyfunction]
pub fn regularize(py: Python<'_>, kind: String, scale: f64, w: &PyTensor) -> PyResult<Option<PyTensor>> {
    let r = regularizer(Some((kind, scale)))?.expect("a kind was given");
    build(py, || r.penalty(&w.t)).map(|p| p.map(|t| PyTensor { t }))
}

/// TF `add_to_collection` of a tensor.
#[pyfunction]
pub fn add_to_collection(py: Python<'_>, g: &PyGraph, key: &str, t: &PyTensor) -> PyResult<()> {
    build(py, || g.g.add_to_collection(key, &t.t))
}

/// TF `get_collection(key, scope)` (the tensors).
#[pyfunction]
#[pyo3(signature = (g, key, scope=None))]
pub fn get_collection(g: &PyGraph, key: &str, scope: Option<&str>) -> Vec<PyTensor> {
    g.g.get_collection(key, scope).into_iter().map(|t| PyTensor { t }).collect()
}

/// TF `losses.get_regularization_loss(scope)`.
#[pyfunction]
#[pyo3(signature = (g, scope=None))]
pub fn get_regularization_loss(py: Python<'_>, g: &PyGraph, scope: Option<&str>) -> PyResult<PyTensor> {
    build(py, || f::get_regularization_loss(&g.g, scope)).map(|t| PyTensor { t })
}

/// A layer's default name (`dense`, `dense_1`, ...) under the open scopes.
#[pyfunction]
pub fn unique_layer_name(g: &PyGraph, base: &str) -> String {
    g.g.unique_layer_name(base)
}

/// TF `layers.dense` (`fully_connected`: contrib's names and defaults), without the
/// activation, which Python applies (it may be any callable).
#[pyfunction]
#[pyo3(signature = (x, units, fully_connected, use_bias, kernel_init, bias_init, kernel_reg, bias_reg, trainable, name, reuse_))]
#[allow(clippy::too_many_arguments)] // TF's keywords, one each
pub fn dense(
    py: Python<'_>,
    x: &PyTensor,
    units: usize,
    fully_connected: bool,
    use_bias: bool,
    kernel_init: InitSpec<'_>,
    bias_init: InitSpec<'_>,
    kernel_reg: Option<(String, f64)>,
    bias_reg: Option<(String, f64)>,
    trainable: bool,
    name: Option<String>,
    reuse_: &str,
) -> PyResult<PyTensor> {
    let reuse = reuse(reuse_)?;
    let (ki, bi) = (init(kernel_init)?, init(bias_init)?);
    let (kr, br) = (regularizer(kernel_reg)?, regularizer(bias_reg)?);
    build(py, || {
        if fully_connected {
            let opts = layers::FullyConnected {
                activation: None,
                weights_initializer: ki,
                weights_regularizer: kr,
                biases_initializer: bi,
                biases: use_bias,
                biases_regularizer: br,
                trainable,
                scope: name,
                reuse,
            };
            layers::fully_connected(&x.t, units, opts)
        } else {
            let opts = layers::Dense {
                activation: None,
                use_bias,
                kernel_initializer: ki,
                bias_initializer: bi,
                kernel_regularizer: kr,
                bias_regularizer: br,
                trainable,
                name,
                reuse,
            };
            layers::dense(&x.t, units, opts)
        }
    })
    .map(|t| PyTensor { t })
}

/// TF `make_template`'s scope: a Rust [`f::Template`], opened once per call.
#[pyclass(name = "Template", module = "kiln._kiln", frozen)]
pub struct PyTemplate {
    t: f::Template,
    g: PyGraph,
}

#[pymethods]
impl PyTemplate {
    #[new]
    fn new(g: &PyGraph, name: &str) -> Self {
        PyTemplate { t: f::Template::new(&g.g, name), g: g.clone() }
    }

    /// Its variable scope's name.
    #[getter]
    fn name(&self) -> String {
        self.t.name().to_string()
    }

    /// Opens the scope for one call (reusing from the second on).
    fn scope(&self) -> PyScope {
        PyScope::new(self.t.scope(&self.g.g))
    }
}

/// TF `layers.flatten`.
#[pyfunction]
pub fn flatten(py: Python<'_>, x: &PyTensor) -> PyResult<PyTensor> {
    build(py, || layers::flatten(&x.t)).map(|t| PyTensor { t })
}

//! Graphs, tensors, scopes and variables. `kiln.compat.v1` builds TF's API on these.

use crate::convert::{dtype, dtype_name, value};
use crate::errors::{build, build_error};
use kiln::{DimSpec, Graph, Initializer, ScopeGuard, Tensor, TensorValue};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::Mutex;

/// A graph (TF `Graph`).
#[pyclass(name = "Graph", module = "kiln._kiln", frozen, from_py_object)]
#[derive(Clone)]
pub struct PyGraph {
    pub g: Graph,
}

/// A tensor or op of a graph.
#[pyclass(name = "Tensor", module = "kiln._kiln", frozen, from_py_object)]
#[derive(Clone)]
pub struct PyTensor {
    pub t: Tensor,
}

/// An open variable or name scope; `close` ends it.
#[pyclass(name = "Scope", module = "kiln._kiln", frozen)]
pub struct PyScope {
    guard: Mutex<Option<ScopeGuard>>,
}

impl PyScope {
    /// Wraps an open scope.
    pub fn new(guard: ScopeGuard) -> Self {
        PyScope { guard: Mutex::new(Some(guard)) }
    }
}

#[pymethods]
impl PyScope {
    /// Ends the scope.
    fn close(&self) {
        self.guard.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

/// `t`, or the build error it carries.
pub fn ok(t: Tensor) -> PyResult<PyTensor> {
    match t.error() {
        Some(e) => Err(build_error(e)),
        None => Ok(PyTensor { t }),
    }
}

/// A distribution by its Python name (`uniform`: a, b = min, max; `normal` and
/// `truncated_normal`: a, b = mean, stddev).
fn random_dist(name: &str, a: f64, b: f64) -> PyResult<kiln::ir::RandomDist> {
    use kiln::ir::RandomDist::*;
    Ok(match name {
        "uniform" => Uniform { min: a, max: b },
        "normal" => Normal { mean: a, stddev: b },
        "truncated_normal" => TruncatedNormal { mean: a, stddev: b },
        _ => return Err(PyValueError::new_err(format!("no distribution {name}"))),
    })
}

pub fn initializer(kind: &str, args: &[f64], data: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Initializer>> {
    let arg = |i: usize, d: f64| args.get(i).copied().unwrap_or(d);
    Ok(Some(match kind {
        "default" => return Ok(None),
        "tensor" => {
            let t = data.ok_or_else(|| PyValueError::new_err("a tensor initializer needs the tensor"))?;
            Initializer::Value(t.cast::<PyTensor>()?.get().t.clone())
        }
        "zeros" => Initializer::Zeros,
        "ones" => Initializer::Ones,
        "glorot_uniform" => Initializer::GlorotUniform,
        "glorot_normal" => Initializer::GlorotNormal,
        "orthogonal" => Initializer::Orthogonal { gain: arg(0, 1.0) },
        "random_normal" => Initializer::RandomNormal { mean: arg(0, 0.0), stddev: arg(1, 1.0) },
        "truncated_normal" => Initializer::TruncatedNormal { mean: arg(0, 0.0), stddev: arg(1, 1.0) },
        "random_uniform" => Initializer::RandomUniform { min: arg(0, 0.0), max: arg(1, 1.0) },
        "constant" => {
            let data = data.ok_or_else(|| PyValueError::new_err("constant_initializer needs a value"))?;
            match value(data, None)? {
                TensorValue::F32(a) => Initializer::constant(a),
                // kept in their precision: get_variable converts to the variable's dtype
                TensorValue::F64(a) => Initializer::constant(a),
                TensorValue::I32(a) => Initializer::constant(a),
                TensorValue::I64(a) => Initializer::constant(a),
                TensorValue::Bool(a) => Initializer::constant(a),
                TensorValue::U8(a) => Initializer::constant(a),
                TensorValue::I8(a) => Initializer::constant(a),
                TensorValue::U16(a) => Initializer::constant(a),
                TensorValue::I16(a) => Initializer::constant(a),
                TensorValue::Unit => return Err(PyValueError::new_err("constant_initializer needs a value")),
            }
        }
        k => return Err(PyValueError::new_err(format!("kiln has no initializer {k}"))),
    }))
}

#[pymethods]
impl PyGraph {
    #[new]
    fn new() -> Self {
        PyGraph { g: Graph::new() }
    }

    /// A process-unique id.
    #[getter]
    fn id(&self) -> u64 {
        self.g.id()
    }

    fn __eq__(&self, other: &PyGraph) -> bool {
        self.g == other.g
    }

    fn __hash__(&self) -> u64 {
        self.g.id()
    }

    /// TF `placeholder`: `shape` of ints and `None`s, or `None` for unknown rank
    /// (not supported: kiln's placeholders have a rank).
    fn placeholder(&self, py: Python<'_>, dt: &str, shape: Vec<Option<usize>>, name: &str) -> PyResult<PyTensor> {
        let d = dtype(dt)?;
        let spec: Vec<DimSpec> = shape.into_iter().map(DimSpec::from).collect();
        build(py, || self.g.placeholder(d, spec, name)).map(|t| PyTensor { t })
    }

    /// TF `constant(value, dtype, name)`.
    #[pyo3(signature = (value, dt=None, name=""))]
    fn constant(&self, py: Python<'_>, value: &Bound<'_, PyAny>, dt: Option<&str>, name: &str) -> PyResult<PyTensor> {
        let d = dt.map(dtype).transpose()?;
        let v = crate::convert::value(value, d)?;
        macro_rules! c {
            ($a:expr) => {
                build(py, || self.g.constant_named($a, d, name))
            };
        }
        let t = match v {
            TensorValue::F32(a) => c!(a),
            TensorValue::F64(a) => c!(a),
            TensorValue::I32(a) => c!(a),
            TensorValue::I64(a) => c!(a),
            TensorValue::Bool(a) => c!(a),
            TensorValue::U8(a) => c!(a),
            TensorValue::I8(a) => c!(a),
            TensorValue::U16(a) => c!(a),
            TensorValue::I16(a) => c!(a),
            TensorValue::Unit => return Err(PyValueError::new_err("a constant needs a value")),
        }?;
        Ok(PyTensor { t })
    }

    /// TF `get_variable`: the initializer is a kind (`zeros`, `glorot_uniform`,
    /// `constant`, ...) with its numbers or data.
    #[pyo3(signature = (name, shape, dt, init_kind, init_args, init_data=None, trainable=true))]
    #[allow(clippy::too_many_arguments)]
    fn get_variable(
        &self,
        py: Python<'_>,
        name: &str,
        shape: Vec<usize>,
        dt: &str,
        init_kind: &str,
        init_args: Vec<f64>,
        init_data: Option<&Bound<'_, PyAny>>,
        trainable: bool,
    ) -> PyResult<PyTensor> {
        let d = dtype(dt)?;
        let init = initializer(init_kind, &init_args, init_data)?;
        build(py, || self.g.get_variable_trainable(name, &shape, d, init, trainable)).map(|t| PyTensor { t })
    }

    /// Opens a variable scope (`reuse`: TF's `reuse=True`).
    fn variable_scope(&self, name: &str, reuse: bool) -> PyScope {
        PyScope { guard: Mutex::new(Some(self.g.variable_scope_reuse(name, reuse))) }
    }

    /// Opens a name scope.
    fn name_scope(&self, name: &str) -> PyScope {
        PyScope { guard: Mutex::new(Some(self.g.name_scope(name))) }
    }

    /// Opens a `control_dependencies(deps)` block (an empty list clears the deps).
    fn control_dependencies(&self, py: Python<'_>, deps: Vec<PyTensor>) -> PyResult<PyScope> {
        let refs: Vec<&Tensor> = deps.iter().map(|d| &d.t).collect();
        let guard = build(py, || self.g.control_dependencies(&refs))?;
        Ok(PyScope { guard: Mutex::new(Some(guard)) })
    }

    /// TF `no_op`: runs the open block's deps, if any.
    fn no_op(&self, py: Python<'_>) -> PyResult<PyTensor> {
        build(py, || self.g.no_op()).map(|t| PyTensor { t })
    }

    /// A random op shaped like `like` (`tf.random_normal(tf.shape(x))`).
    #[pyo3(signature = (dist, like, a, b, dt, seed=None))]
    #[allow(clippy::too_many_arguments)]
    fn random_like(
        &self,
        py: Python<'_>,
        dist: &str,
        like: &PyTensor,
        a: f64,
        b: f64,
        dt: &str,
        seed: Option<u64>,
    ) -> PyResult<PyTensor> {
        let (dist, d) = (random_dist(dist, a, b)?, dtype(dt)?);
        build(py, || self.g.random_shaped_like(dist, &like.t, d, seed)).map(|t| PyTensor { t })
    }

    /// A random op drawing at every run: `dist` is `uniform` (a, b = min, max),
    /// `normal` or `truncated_normal` (a, b = mean, stddev).
    #[pyo3(signature = (dist, shape, a, b, dt, seed=None))]
    #[allow(clippy::too_many_arguments)]
    fn random(
        &self,
        py: Python<'_>,
        dist: &str,
        shape: Vec<usize>,
        a: f64,
        b: f64,
        dt: &str,
        seed: Option<u64>,
    ) -> PyResult<PyTensor> {
        use kiln::ir::RandomDist::*;
        let d = dtype(dt)?;
        let t = match random_dist(dist, a, b)? {
            Uniform { min, max } => build(py, || self.g.random_uniform(&shape, min, max, d, seed)),
            Normal { mean, stddev } => build(py, || self.g.random_normal(&shape, mean, stddev, d, seed)),
            TruncatedNormal { mean, stddev } => build(py, || self.g.truncated_normal(&shape, mean, stddev, d, seed)),
        }?;
        Ok(PyTensor { t })
    }

    fn set_random_seed(&self, seed: u64) {
        self.g.set_random_seed(seed);
    }

    fn global_variables(&self) -> Vec<PyTensor> {
        self.g.global_variables().into_iter().map(|t| PyTensor { t }).collect()
    }

    fn trainable_variables(&self) -> Vec<PyTensor> {
        self.g.trainable_variables().into_iter().map(|t| PyTensor { t }).collect()
    }

    fn global_variables_initializer(&self, py: Python<'_>) -> PyResult<PyTensor> {
        build(py, || self.g.global_variables_initializer()).map(|t| PyTensor { t })
    }

    fn variables_initializer(&self, py: Python<'_>, vars: Vec<PyTensor>) -> PyResult<PyTensor> {
        let refs: Vec<&Tensor> = vars.iter().map(|v| &v.t).collect();
        build(py, || self.g.variables_initializer(&refs)).map(|t| PyTensor { t })
    }

    /// The tensor named `name` (`x:0`) or op (`x`).
    fn get_tensor_by_name(&self, py: Python<'_>, name: &str) -> PyResult<PyTensor> {
        build(py, || self.g.get_tensor_by_name(name)).map(|t| PyTensor { t })
    }

    /// The IR text.
    fn to_ir_text(&self) -> String {
        self.g.to_ir_text()
    }

    /// Rank-promotion warnings so far.
    fn warnings(&self) -> Vec<String> {
        self.g.warnings()
    }

    /// Sets the policy for outer broadcasts: `allow`, `warn` or `error`.
    fn set_rank_promotion(&self, policy: &str) -> PyResult<()> {
        let p = match policy {
            "allow" => kiln::RankPromotion::Allow,
            "warn" => kiln::RankPromotion::Warn,
            "error" => kiln::RankPromotion::Error,
            _ => return Err(PyValueError::new_err(format!("no rank-promotion policy {policy}"))),
        };
        self.g.set_rank_promotion(p);
        Ok(())
    }
}

#[pymethods]
impl PyTensor {
    /// `name:0` for a value, the op's name for an op without one.
    #[getter]
    fn name(&self) -> String {
        if self.t.ty().is_some() {
            self.t.name()
        } else {
            self.t.op_name()
        }
    }

    /// The op's name.
    #[getter]
    fn op_name(&self) -> String {
        self.t.op_name()
    }

    /// TF's dtype name, or `None` for an op without a value.
    #[getter]
    fn dtype(&self) -> Option<&'static str> {
        self.t.dtype().map(dtype_name)
    }

    /// Dims, `None` where unknown; `None` for an op without a value.
    #[getter]
    fn shape(&self) -> Option<Vec<Option<usize>>> {
        self.t.ty().map(|_| self.t.get_shape().as_list())
    }

    /// The variable's name, if this is a variable.
    /// The tensors this one's op reads (TF `op.inputs`).
    #[getter]
    fn inputs(&self) -> Vec<PyTensor> {
        self.t.op_inputs().into_iter().map(|t| PyTensor { t }).collect()
    }

    #[getter]
    fn var_name(&self) -> Option<String> {
        self.t.var_name()
    }

    #[getter]
    fn graph(&self) -> PyGraph {
        PyGraph { g: self.t.graph().clone() }
    }

    /// The position of the op in its graph (stable; for hashing).
    #[getter]
    fn key(&self) -> (u64, u32) {
        (self.t.graph().id(), self.t.value().map_or(u32::MAX, |v| v.0))
    }

    fn __repr__(&self) -> String {
        self.t.to_string()
    }
}

//! Sessions, callables, savers and optimizers. A run releases the GIL: the session is
//! behind a lock, so Python threads may share one as they share a TF session.

use crate::convert::{to_py, Borrowed};
use crate::errors::{build, run_error, run_marker};
use crate::graph::{PyGraph, PyTensor};
use kiln::ir::Loc;
use kiln::train::{
    AdamOptimizer, GradientDescentOptimizer, LearningRate, MomentumOptimizer, Optimizer, RMSPropOptimizer,
};
use kiln::{Callable, DType, Feed, Saver, Session, Tensor, TensorValue};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::sync::{Arc, Mutex, MutexGuard};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A session over a graph (TF `Session`).
#[pyclass(name = "Session", module = "kiln._kiln", frozen)]
pub struct PySession {
    sess: Arc<Mutex<Session>>,
    graph: PyGraph,
}

/// A compiled fetch list with a fixed feed list (TF `Session.make_callable`).
#[pyclass(name = "Callable", module = "kiln._kiln", frozen)]
pub struct PyCallable {
    sess: Arc<Mutex<Session>>,
    c: Mutex<Compiled>,
    feed_dtypes: Vec<DType>,
    has_value: Vec<bool>,
}

/// What a callable runs: compiled kernels, or, when the session's backend is the
/// interpreter (`KILN_BACKEND=interp`), the reference interpreter on its fetches.
enum Compiled {
    Jit(Box<Callable>),
    Interp { fetches: Vec<Tensor>, feeds: Vec<Tensor> },
}

#[pymethods]
impl PySession {
    #[new]
    fn new(graph: &PyGraph) -> Self {
        PySession { sess: Arc::new(Mutex::new(Session::new(&graph.g))), graph: graph.clone() }
    }

    #[getter]
    fn graph(&self) -> PyGraph {
        self.graph.clone()
    }

    /// Compiles `fetches` for feeds of `feed_list`, in that order.
    fn make_callable(&self, py: Python<'_>, fetches: Vec<PyTensor>, feed_list: Vec<PyTensor>) -> PyResult<PyCallable> {
        let f: Vec<&Tensor> = fetches.iter().map(|t| &t.t).collect();
        let fl: Vec<&Tensor> = feed_list.iter().map(|t| &t.t).collect();
        let sess = self.sess.clone();
        let interp = lock(&sess).options().backend == kiln::Backend::Interpreter;
        let c = if interp {
            Compiled::Interp { fetches: f.into_iter().cloned().collect(), feeds: fl.into_iter().cloned().collect() }
        } else {
            let c = py
                .detach(|| Loc::with_user(run_marker(), || lock(&sess).make_callable(&f, &fl)))
                .map_err(|e| run_error(py, &e))?;
            Compiled::Jit(Box::new(c))
        };
        Ok(PyCallable {
            sess: self.sess.clone(),
            c: Mutex::new(c),
            feed_dtypes: feed_list.iter().map(|t| t.t.dtype().unwrap_or(DType::F32)).collect(),
            has_value: fetches.iter().map(|t| t.t.ty().is_some()).collect(),
        })
    }

    /// A variable's current value, or `None` before it is initialized.
    fn variable(&self, py: Python<'_>, var: &PyTensor) -> PyResult<Option<Py<PyAny>>> {
        let v = lock(&self.sess).variable(&var.t).cloned();
        v.map(|v| to_py(py, v)).transpose()
    }
}

#[pymethods]
impl PyCallable {
    /// Runs with one array-like per feed; returns one result per fetch (`None` for
    /// an op without a value). Arrays of the placeholder's dtype are read in place.
    #[pyo3(signature = (*args))]
    fn __call__(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Vec<Py<PyAny>>> {
        if args.len() != self.feed_dtypes.len() {
            return Err(PyValueError::new_err(format!(
                "the callable takes {} feed(s), got {}",
                self.feed_dtypes.len(),
                args.len()
            )));
        }
        let borrowed: Vec<Borrowed<'_>> =
            args.iter().zip(&self.feed_dtypes).map(|(a, &d)| Borrowed::new(&a, d)).collect::<PyResult<_>>()?;
        let feeds: Vec<Feed<'_>> = borrowed.iter().map(Borrowed::feed).collect();
        let has_value = &self.has_value;
        let out: Result<Vec<Option<TensorValue>>, kiln::Error> = py.detach(|| {
            let mut s = lock(&self.sess);
            let mut c = lock(&self.c);
            Loc::with_user(run_marker(), || match &mut *c {
                Compiled::Jit(c) => {
                    c.run(&mut s, &feeds)?;
                    (0..has_value.len())
                        .map(|i| if has_value[i] { c.fetch_value(i, &s).map(Some) } else { Ok(None) })
                        .collect()
                }
                Compiled::Interp { fetches, feeds: tensors } => {
                    let fr: Vec<&Tensor> = fetches.iter().collect();
                    let fv: Vec<(&Tensor, TensorValue)> =
                        tensors.iter().zip(&feeds).map(|(t, f)| (t, f.to_value())).collect();
                    let vals = s.run(&fr, &fv)?;
                    Ok(vals.into_iter().zip(has_value).map(|(v, &h)| h.then_some(v)).collect())
                }
            })
        });
        let out = out.map_err(|e| run_error(py, &e))?;
        out.into_iter().map(|v| v.map_or_else(|| Ok(py.None()), |v| to_py(py, v))).collect()
    }
}

/// Saves and restores variables (TF `train.Saver`).
#[pyclass(name = "Saver", module = "kiln._kiln", frozen)]
pub struct PySaver {
    s: Mutex<Saver>,
}

#[pymethods]
impl PySaver {
    #[new]
    #[pyo3(signature = (graph, var_list=None, max_to_keep=5))]
    fn new(py: Python<'_>, graph: &PyGraph, var_list: Option<Vec<PyTensor>>, max_to_keep: usize) -> PyResult<Self> {
        let s = match var_list {
            Some(vs) => {
                let refs: Vec<&Tensor> = vs.iter().map(|t| &t.t).collect();
                Saver::with_vars(&refs).map_err(|e| run_error(py, &e))?
            }
            None => Saver::new(&graph.g),
        };
        Ok(PySaver { s: Mutex::new(s.max_to_keep(max_to_keep)) })
    }

    /// Writes a checkpoint at `prefix` (`prefix-step` with a step); returns its path.
    #[pyo3(signature = (sess, prefix, global_step=None))]
    fn save(&self, py: Python<'_>, sess: &PySession, prefix: &str, global_step: Option<u64>) -> PyResult<String> {
        let s = sess.sess.clone();
        let r = py.detach(|| Loc::with_user(run_marker(), || lock(&self.s).save(&lock(&s), prefix, global_step)));
        r.map(|p| p.to_string_lossy().into_owned()).map_err(|e| run_error(py, &e))
    }

    /// Loads every variable from the checkpoint at `path`.
    fn restore(&self, py: Python<'_>, sess: &PySession, path: &str) -> PyResult<()> {
        let s = sess.sess.clone();
        let r = py.detach(|| Loc::with_user(run_marker(), || lock(&self.s).restore(&mut lock(&s), path)));
        r.map_err(|e| run_error(py, &e))
    }
}

/// The newest checkpoint listed in `dir`'s `checkpoint` index.
#[pyfunction]
pub fn latest_checkpoint(dir: &str) -> Option<String> {
    kiln::latest_checkpoint(dir).map(|p| p.to_string_lossy().into_owned())
}

/// An optimizer (TF `train.*Optimizer`).
#[pyclass(name = "Optimizer", module = "kiln._kiln", frozen)]
pub struct PyOptimizer {
    o: Mutex<Box<dyn Optimizer + Send>>,
}

fn pairs(gv: kiln::train::GradsAndVars) -> Vec<(Option<PyTensor>, PyTensor)> {
    gv.into_iter().map(|(g, v)| (g.map(|t| PyTensor { t }), PyTensor { t: v })).collect()
}

#[pymethods]
impl PyOptimizer {
    /// `kind`: `sgd`, `momentum` (momentum, nesterov), `adam` (beta1, beta2, epsilon),
    /// `rmsprop` (decay, momentum, epsilon).
    #[new]
    fn new(kind: &str, lr: &Bound<'_, PyAny>, args: Vec<f64>) -> PyResult<Self> {
        let a = |i: usize| args.get(i).map(|&x| x as f32);
        // a number, or a scalar tensor (a placeholder, a variable, a schedule)
        let lr: LearningRate = match lr.cast::<PyTensor>() {
            Ok(t) => t.get().t.clone().into(),
            Err(_) => lr.extract::<f32>()?.into(),
        };
        let o: Box<dyn Optimizer + Send> = match kind {
            "sgd" => Box::new(GradientDescentOptimizer::new(lr)),
            "momentum" => {
                Box::new(MomentumOptimizer::new(lr, a(0).unwrap_or(0.9)).nesterov(a(1).is_some_and(|x| x != 0.0)))
            }
            "adam" => Box::new(
                AdamOptimizer::new(lr).betas(a(0).unwrap_or(0.9), a(1).unwrap_or(0.999)).epsilon(a(2).unwrap_or(1e-8)),
            ),
            "rmsprop" => Box::new(
                RMSPropOptimizer::new(lr)
                    .decay(a(0).unwrap_or(0.9))
                    .momentum(a(1).unwrap_or(0.0))
                    .epsilon(a(2).unwrap_or(1e-10)),
            ),
            _ => return Err(PyValueError::new_err(format!("kiln has no optimizer {kind}"))),
        };
        Ok(PyOptimizer { o: Mutex::new(o) })
    }

    /// `minimize(loss, var_list)`: the train op.
    #[pyo3(signature = (loss, var_list=None))]
    fn minimize(&self, py: Python<'_>, loss: &PyTensor, var_list: Option<Vec<PyTensor>>) -> PyResult<PyTensor> {
        let vl: Option<Vec<&Tensor>> = var_list.as_ref().map(|v| v.iter().map(|t| &t.t).collect());
        build(py, || lock(&self.o).minimize(&loss.t, vl.as_deref())).map(|t| PyTensor { t })
    }

    /// `compute_gradients(loss, var_list)`: (gradient or `None`, variable) pairs.
    #[pyo3(signature = (loss, var_list=None))]
    fn compute_gradients(
        &self,
        py: Python<'_>,
        loss: &PyTensor,
        var_list: Option<Vec<PyTensor>>,
    ) -> PyResult<Vec<(Option<PyTensor>, PyTensor)>> {
        let vl: Option<Vec<&Tensor>> = var_list.as_ref().map(|v| v.iter().map(|t| &t.t).collect());
        build(py, || lock(&self.o).compute_gradients(&loss.t, vl.as_deref())).map(pairs)
    }

    /// `apply_gradients(pairs)`: the train op.
    fn apply_gradients(&self, py: Python<'_>, grads_and_vars: Vec<(Option<PyTensor>, PyTensor)>) -> PyResult<PyTensor> {
        let gv: Vec<(Option<Tensor>, Tensor)> =
            grads_and_vars.into_iter().map(|(g, v)| (g.map(|t| t.t), v.t)).collect();
        build(py, || lock(&self.o).apply_gradients(&gv)).map(|t| PyTensor { t })
    }
}

//! `Session`: owns variable values and runs fetches with feeds (TF1's `Session.run`).

use crate::exec::Executable;
use crate::interp::{self, reachable, Bindings};
use crate::{Error, Result, TensorValue};
use kiln_frontend::{Graph, Tensor};
use kiln_ir::{Dim, Loc, Module, OpKind, ValueId};
use std::collections::HashMap;

/// Which engine executes runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Fused kernels compiled with Cranelift (the default). Graphs the JIT cannot
    /// compile yet run on the interpreter, with the reason logged under
    /// `KILN_LOG_COMPILES=1`.
    Jit,
    /// The reference interpreter (`KILN_BACKEND=interp`).
    Interpreter,
}

/// Session knobs (TF's `ConfigProto`, for a CPU compiler).
#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// Execution engine.
    pub backend: Backend,
    /// Print every compilation and its reason (`KILN_LOG_COMPILES=1`).
    pub log_compiles: bool,
    /// Run the interpreter beside the JIT and fail on the first diverging kernel
    /// (`KILN_CHECK=1`).
    pub check: bool,
    /// Threads a large kernel may split across (`KILN_THREADS`, default: the cores).
    /// Results are identical for a given thread count.
    pub threads: usize,
    /// Run kernels with denormals flushed to zero, as TF1 does on CPU (default; set
    /// `KILN_DENORMALS=keep` for IEEE denormals). The interpreter always keeps them.
    pub flush_denormals: bool,
    /// Test hook: compile the named kernel wrong (see check mode's test).
    #[doc(hidden)]
    pub sabotage_kernel: Option<String>,
}

impl Default for SessionOptions {
    /// The JIT, unless the environment says otherwise.
    fn default() -> Self {
        let env = |k: &str| std::env::var(k).ok();
        let backend = match env("KILN_BACKEND").as_deref() {
            Some("interp") | Some("interpreter") => Backend::Interpreter,
            _ => Backend::Jit,
        };
        let on = |k: &str| env(k).is_some_and(|v| !v.is_empty() && v != "0");
        let threads = env("KILN_THREADS")
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        SessionOptions {
            backend,
            log_compiles: on("KILN_LOG_COMPILES"),
            check: on("KILN_CHECK"),
            threads,
            flush_denormals: env("KILN_DENORMALS").as_deref() != Some("keep"),
            sabotage_kernel: None,
        }
    }
}

/// A fetch set compiled for the JIT, or the reason it runs on the interpreter.
enum Compiled {
    Jit(Box<Executable>),
    Interp(String),
}

/// Runs a [`Graph`]: variables live here, feeds go in, `ndarray` values come out.
///
/// The session sees the graph as it is at each run, so ops may be added after the
/// session is created (as the notebook does after `tf_reset()`).
pub struct Session {
    graph: Graph,
    pub(crate) vars: Vec<Option<TensorValue>>,
    verified_ops: usize,
    options: SessionOptions,
    cache: HashMap<(Vec<ValueId>, usize), Compiled>,
    runs: (usize, usize),
}

impl Session {
    /// A session over `graph` with default options.
    pub fn new(graph: &Graph) -> Session {
        Session::with_options(graph, SessionOptions::default())
    }

    /// A session with explicit options.
    pub fn with_options(graph: &Graph, options: SessionOptions) -> Session {
        Session {
            graph: graph.clone(),
            vars: Vec::new(),
            verified_ops: usize::MAX,
            options,
            cache: HashMap::new(),
            runs: (0, 0),
        }
    }

    /// The graph this session runs.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// How many runs went to the JIT and how many to the interpreter.
    pub fn run_counts(&self) -> (usize, usize) {
        self.runs
    }

    /// The schedule the JIT uses for `fetches`, if they were run on the JIT.
    pub fn schedule_of(&self, fetches: &[&Tensor]) -> Option<&kiln_passes::schedule::Schedule> {
        let ids: Vec<ValueId> = fetches.iter().map(|t| t.value().ok()).collect::<Option<_>>()?;
        let n = self.graph.module().ops.len();
        match self.cache.get(&(ids, n))? {
            Compiled::Jit(e) => Some(&e.schedule),
            Compiled::Interp(_) => None,
        }
    }

    /// The options in force.
    pub fn options(&self) -> &SessionOptions {
        &self.options
    }

    /// Runs one fetch; see [`Session::run`].
    #[track_caller]
    pub fn run1(&mut self, fetch: &Tensor, feeds: &[(&Tensor, TensorValue)]) -> Result<TensorValue> {
        let loc = Loc::caller();
        let mut out = self.run_at(&[fetch], feeds, loc)?;
        Ok(out.pop().unwrap_or(TensorValue::Unit))
    }

    /// Computes `fetches` given `feeds` (TF `sess.run(fetches, feed_dict)`).
    ///
    /// Every read of a variable sees its value from before the run, and assignments
    /// are applied when the run ends, so fetching `[train_op, loss]` returns the loss
    /// before the update, as TF does. On error nothing changes.
    #[track_caller]
    pub fn run(&mut self, fetches: &[&Tensor], feeds: &[(&Tensor, TensorValue)]) -> Result<Vec<TensorValue>> {
        let loc = Loc::caller();
        self.run_at(fetches, feeds, loc)
    }

    fn check_tensor(&self, t: &Tensor, loc: &Loc) -> Result<ValueId> {
        let v = t.value()?;
        if *t.graph() != self.graph {
            return Err(Error::ForeignTensor { tensor: t.name(), loc: loc.clone() });
        }
        Ok(v)
    }

    fn run_at(&mut self, fetches: &[&Tensor], feeds: &[(&Tensor, TensorValue)], loc: Loc) -> Result<Vec<TensorValue>> {
        let fetch_ids = fetches.iter().map(|t| self.check_tensor(t, &loc)).collect::<Result<Vec<_>>>()?;
        let graph = self.graph.clone();
        let m = graph.module();
        if self.verified_ops != m.ops.len() {
            kiln_ir::verify(&m)?;
            self.verified_ops = m.ops.len();
        }
        self.vars.resize(m.vars.len(), None);
        let (feed_map, bindings) = self.bind_feeds(&m, feeds, &loc)?;
        let need = reachable(&m, &fetch_ids);
        for v in m.values().filter(|v| need[v.index()]) {
            let op = m.op(v);
            let fetch = || first_fetch_needing(&m, &fetch_ids, v);
            match op.kind {
                OpKind::Parameter if !feed_map.contains_key(&v) => {
                    let shape = op.ty.as_ref().map(|t| t.shape.clone()).unwrap_or_default();
                    return Err(Error::MissingFeed { placeholder: op.name.clone(), shape, fetch: fetch(), loc });
                }
                OpKind::Read(var) if self.vars[var.index()].is_none() => {
                    return Err(Error::Uninitialized { var: m.var(var).name.clone(), fetch: fetch(), loc });
                }
                _ => {}
            }
        }
        if self.options.backend == Backend::Jit {
            if let Some(out) = self.run_jit(&m, &fetch_ids, &feed_map, &bindings, &loc)? {
                self.runs.0 += 1;
                return Ok(out);
            }
        }
        self.runs.1 += 1;
        let out = interp::run(&m, &fetch_ids, &feed_map, &self.vars, &bindings)
            .map_err(|source| Error::Eval { source, loc: loc.clone() })?;
        for (var, value) in out.assigns {
            self.vars[var.index()] = Some(value);
        }
        Ok(out.fetches)
    }

    /// Checks feeds against their placeholders and binds symbolic dims.
    pub(crate) fn bind_feeds<'f>(
        &self,
        m: &Module,
        feeds: &'f [(&Tensor, TensorValue)],
        loc: &Loc,
    ) -> Result<(HashMap<ValueId, &'f TensorValue>, Bindings)> {
        let mut map = HashMap::new();
        let mut bindings = Bindings::new(m);
        let mut bound_by: HashMap<Dim, String> = HashMap::new();
        let classes = m.dim_classes();
        for (t, val) in feeds {
            let v = self.check_tensor(t, loc)?;
            let op = m.op(v);
            let ty = match (&op.kind, &op.ty) {
                (OpKind::Parameter, Some(ty)) => ty,
                _ => return Err(Error::NotAPlaceholder { tensor: t.name(), loc: loc.clone() }),
            };
            let name = op.name.clone();
            if val.dtype() != Some(ty.dtype) {
                let got = val.dtype().map_or("()".to_string(), |d| d.to_string());
                return Err(Error::FeedDType { placeholder: name, expected: ty.dtype, got, loc: loc.clone() });
            }
            let got = val.shape().to_vec();
            let shape_err = || Error::FeedShape {
                placeholder: name.clone(),
                expected: ty.shape.clone(),
                got: got.clone(),
                loc: loc.clone(),
            };
            if got.len() != ty.shape.rank() {
                return Err(shape_err());
            }
            for (d, &n) in ty.shape.dims().iter().zip(&got) {
                if let Err(prev) = bindings.bind(d, n) {
                    let canon = classes.canon(d);
                    return Err(match (&canon, bound_by.get(&canon)) {
                        (Dim::Sym(s), Some(first)) => Error::DimMismatch {
                            sym: s.clone(),
                            first: first.clone(),
                            first_size: prev,
                            second: name.clone(),
                            second_size: n,
                            loc: loc.clone(),
                        },
                        (Dim::Fixed(k), _) if d.is_sym() => Error::FeedConstraint {
                            placeholder: name.clone(),
                            dim: d.to_string(),
                            must_be: *k as usize,
                            got: n,
                            loc: loc.clone(),
                        },
                        _ => shape_err(),
                    });
                }
                bound_by.entry(classes.canon(d)).or_insert_with(|| name.clone());
            }
            if map.insert(v, val).is_some() {
                return Err(Error::DuplicateFeed { placeholder: name, loc: loc.clone() });
            }
        }
        Ok((map, bindings))
    }

    /// The current value of a variable, if initialized.
    pub fn variable(&self, var: &Tensor) -> Option<&TensorValue> {
        let m = self.graph.module();
        let v = var.value().ok()?;
        match m.ops.get(v.index())?.kind {
            OpKind::Read(id) => self.vars.get(id.index())?.as_ref(),
            _ => None,
        }
    }

    /// The current value of the variable named `name`, if initialized.
    pub fn variable_by_name(&self, name: &str) -> Option<&TensorValue> {
        let id = self.graph.module().var_by_name(name)?;
        self.vars.get(id.index())?.as_ref()
    }

    /// Overwrites a variable (as a restore does); the value must match its type.
    #[track_caller]
    pub fn set_variable_by_name(&mut self, name: &str, value: TensorValue) -> Result<()> {
        let loc = Loc::caller();
        let m = self.graph.module();
        let Some(id) = m.var_by_name(name) else {
            return Err(Error::NotAPlaceholder { tensor: name.to_string(), loc });
        };
        let ty = &m.var(id).ty;
        let fits = value.dtype() == Some(ty.dtype) && ty.shape.as_fixed().as_deref() == Some(value.shape());
        if !fits {
            let got = format!("{}{:?}", value.dtype().map_or("()".into(), |d| d.to_string()), value.shape());
            return Err(Error::VariableValue { var: name.to_string(), expected: ty.to_string(), got, loc });
        }
        let n = m.vars.len();
        drop(m);
        self.vars.resize(n, None);
        self.vars[id.index()] = Some(value);
        Ok(())
    }
}

impl Session {
    /// Compiles (once per fetch set and graph version) and runs on the JIT. `None`
    /// means this fetch set runs on the interpreter.
    fn run_jit(
        &mut self,
        m: &Module,
        fetches: &[ValueId],
        feeds: &HashMap<ValueId, &TensorValue>,
        bindings: &Bindings,
        loc: &Loc,
    ) -> Result<Option<Vec<TensorValue>>> {
        let key = (fetches.to_vec(), m.ops.len());
        if !self.cache.contains_key(&key) {
            let t0 = std::time::Instant::now();
            let opts =
                kiln_codegen::CodegenOptions { sabotage: self.options.sabotage_kernel.clone(), ..Default::default() };
            let compiled = match Executable::build(m, fetches, &crate::build::BuildOptions::from_env(m, fetches, opts))
            {
                Err(why) => Compiled::Interp(why),
                Ok(mut exec) => {
                    exec.no_reuse = self.options.check;
                    exec.threads = self.options.threads.max(1);
                    exec.flush_denormals = self.options.flush_denormals;
                    Compiled::Jit(Box::new(exec))
                }
            };
            if self.options.log_compiles {
                let names: Vec<&str> = fetches.iter().map(|f| m.op(*f).name.as_str()).collect();
                match &compiled {
                    Compiled::Jit(e) => eprintln!(
                        "kiln: compiled {names:?} into {} kernel(s) and {} step(s) in {:.2?} (new fetch set)",
                        e.schedule.kernel_count(),
                        e.schedule.steps.len(),
                        t0.elapsed()
                    ),
                    Compiled::Interp(why) => eprintln!("kiln: {names:?} runs on the interpreter: {why}"),
                }
            }
            self.cache.insert(key.clone(), compiled);
        }
        let Some(Compiled::Jit(exec)) = self.cache.get_mut(&key) else { return Ok(None) };
        let jit_err = |message: String| Error::Jit { message, loc: loc.clone() };
        for v in self.vars.iter() {
            if let Some(TensorValue::F32(a)) = v {
                if !a.is_standard_layout() {
                    return Ok(None);
                }
            }
        }
        // a fetched variable is its value before this run's assignments
        // the schedule runs the optimized module: key the feeds by its values
        let feeds: HashMap<ValueId, &TensorValue> =
            feeds.iter().filter_map(|(k, v)| Some((exec.map(*k)?, *v))).collect();
        let reference = if self.options.check {
            let roots = exec.schedule.roots.clone();
            Some(
                interp::run_all(exec.module(), &roots, &feeds, &self.vars, bindings)
                    .map_err(|source| Error::Eval { source, loc: loc.clone() })?,
            )
        } else {
            None
        };
        exec.run(bindings, &feeds, &mut self.vars).map_err(|e| match e {
            crate::exec::RunError::Eval(source) => Error::Eval { source, loc: loc.clone() },
            crate::exec::RunError::Internal(message) => jit_err(message),
        })?;
        let mut out = Vec::with_capacity(fetches.len());
        for (i, &f) in fetches.iter().enumerate() {
            let Some(t) = m.ty(f) else {
                out.push(TensorValue::Unit);
                continue;
            };
            let shape = bindings.shape(&t.shape).ok_or_else(|| jit_err("unbound fetch shape".into()))?;
            if let Some(v) = exec.host_value(exec.schedule.roots[i]) {
                out.push(v.clone());
                continue;
            }
            let data = exec
                .value(exec.schedule.roots[i], &self.vars)
                .ok_or_else(|| jit_err(format!("no buffer for fetch %{}", m.op(f).name)))?;
            let a = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&shape), data.to_vec())
                .map_err(|e| jit_err(e.to_string()))?;
            out.push(TensorValue::F32(a));
        }
        if let Some((vals, _)) = reference {
            crate::check::compare(exec, &vals, &self.vars, loc)?;
        }
        Ok(Some(out))
    }
}

fn first_fetch_needing(m: &Module, fetches: &[ValueId], v: ValueId) -> String {
    fetches.iter().find(|&&f| reachable(m, &[f])[v.index()]).map_or_else(String::new, |f| m.op(*f).name.clone())
}

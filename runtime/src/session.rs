//! `Session`: owns variable values and runs fetches with feeds (TF1's `Session.run`).

use crate::cache::{Cache, CompileReason, CompileStats, Compiled, Needs};
use crate::exec::Executable;
use crate::interp::{self, reachable, Bindings};
use crate::{Error, Result, TensorValue};
use kiln_frontend::{Graph, Tensor};
use kiln_ir::{DType, Dim, Loc, Module, OpKind, ValueId};
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
    /// How many compiled executables (one per fetch set) the session keeps; past
    /// this the least recently used is dropped. Default
    /// [`crate::cache::DEFAULT_MAX_EXECUTABLES`].
    pub max_executables: usize,
    /// How many feed-shape bindings each executable keeps; past this the least
    /// recently used is dropped. Default [`crate::exec::DEFAULT_MAX_BINDINGS`].
    pub max_bindings: usize,
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
            max_executables: crate::cache::DEFAULT_MAX_EXECUTABLES,
            max_bindings: crate::exec::DEFAULT_MAX_BINDINGS,
            sabotage_kernel: None,
        }
    }
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
    cache: Cache,
    runs: (usize, usize),
    last_compile: Option<CompileReason>,
    /// How many runs each random op (by seed) has made: its next run draws fresh numbers.
    pub(crate) draws: std::sync::Arc<HashMap<u64, u64>>,
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
            verified_ops: 0,
            cache: Cache::new(options.max_executables),
            options,
            runs: (0, 0),
            last_compile: None,
            draws: Default::default(),
        }
    }

    /// Counts one more run of each random op in `seeds` (after a successful run).
    pub(crate) fn count_draws(&mut self, seeds: &[u64]) {
        if seeds.is_empty() {
            return;
        }
        let d = std::sync::Arc::make_mut(&mut self.draws);
        for &s in seeds {
            *d.entry(s).or_insert(0) += 1;
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
        match &self.cache.peek(&ids)?.compiled {
            Compiled::Jit(e) => Some(&e.schedule),
            Compiled::Interp(_) => None,
        }
    }

    /// How many executables the session compiled, reused and evicted, and how many
    /// feed-shape bindings they made (see [`CompileStats`]).
    pub fn compile_stats(&self) -> CompileStats {
        self.cache.stats
    }

    /// Why the most recent compile happened (new fetch set, changed dependency,
    /// evicted earlier), as `KILN_LOG_COMPILES=1` prints it.
    pub fn last_compile_reason(&self) -> Option<&CompileReason> {
        self.last_compile.as_ref()
    }

    /// How many compiled executables the session holds now (at most
    /// [`SessionOptions::max_executables`]).
    pub fn cached_executables(&self) -> usize {
        self.cache.len()
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
        let asked = fetches.iter().map(|t| self.check_tensor(t, &loc)).collect::<Result<Vec<_>>>()?;
        // what `control_dependencies` blocks attached to the fetches runs with them
        let fetch_ids = self.graph.with_control_inputs(&asked);
        let mut out = self.run_fetch_set(fetch_ids, feeds, loc)?;
        out.truncate(asked.len());
        Ok(out)
    }

    fn run_fetch_set(
        &mut self,
        fetch_ids: Vec<ValueId>,
        feeds: &[(&Tensor, TensorValue)],
        loc: Loc,
    ) -> Result<Vec<TensorValue>> {
        let graph = self.graph.clone();
        let m = graph.module();
        if self.verified_ops != m.ops.len() {
            // ops never change once built: only the new ones need checking
            kiln_ir::verify_from(&m, self.verified_ops.min(m.ops.len()))?;
            self.verified_ops = m.ops.len();
        }
        self.vars.resize(m.vars.len(), None);
        let (feed_map, bindings) = self.bind_feeds(&m, feeds, &loc)?;
        if self.options.backend == Backend::Jit {
            self.compile_if_needed(&m, &fetch_ids);
            let entry = self.cache.get_mut(&fetch_ids).ok_or_else(|| Error::Jit {
                message: "a compiled fetch set left the cache".into(),
                loc: loc.clone(),
            })?;
            check_inputs(&m, &fetch_ids, entry.needs.inputs.iter().copied(), &feed_map, &self.vars, &loc)?;
            if let Compiled::Jit(exec) = &mut entry.compiled {
                let before = exec.bind_count();
                if !exec.random_seeds.is_empty() {
                    exec.draws = self.draws.clone();
                }
                let out = run_jit(exec, &self.options, &m, &fetch_ids, &feed_map, &bindings, &mut self.vars, &loc);
                let binds = exec.bind_count() - before;
                let seeds = exec.random_seeds.clone();
                self.cache.stats.binds += binds;
                if let Some(out) = out? {
                    self.runs.0 += 1;
                    self.count_draws(&seeds);
                    return Ok(out);
                }
            }
        } else {
            let need = reachable(&m, &fetch_ids);
            let inputs = m.values().filter(|v| need[v.index()]);
            check_inputs(&m, &fetch_ids, inputs, &feed_map, &self.vars, &loc)?;
        }
        self.runs.1 += 1;
        let out = interp::run(&m, &fetch_ids, &feed_map, &self.vars, &bindings)
            .map_err(|source| Error::Eval { source, loc: loc.clone() })?;
        for (var, value) in out.assigns {
            self.vars[var.index()] = Some(value);
        }
        let seeds = interp::random_seeds(&m, &reachable(&m, &fetch_ids));
        self.count_draws(&seeds);
        Ok(out.fetches)
    }

    /// Compiles `fetches` unless a valid executable for them is cached, logging why
    /// under `KILN_LOG_COMPILES=1`. A fetch set the JIT refuses is cached with the reason.
    fn compile_if_needed(&mut self, m: &Module, fetches: &[ValueId]) {
        let Err(why) = self.cache.lookup(m, fetches) else { return };
        let t0 = std::time::Instant::now();
        let opts =
            kiln_codegen::CodegenOptions { sabotage: self.options.sabotage_kernel.clone(), ..Default::default() };
        let mut build = crate::build::BuildOptions::from_env(m, fetches, opts);
        // check mode compares every buffer after a run: none may share a slot
        build.plan.no_reuse = self.options.check;
        let compiled = match Executable::build(m, fetches, &build) {
            Err(why) => Compiled::Interp(why),
            Ok(mut exec) => {
                exec.threads = self.options.threads.max(1);
                exec.flush_denormals = self.options.flush_denormals;
                exec.max_bindings = self.options.max_bindings.max(1);
                Compiled::Jit(Box::new(exec))
            }
        };
        if self.options.log_compiles {
            log_compile(m, fetches, &compiled, &why, t0.elapsed());
        }
        self.cache.insert(fetches.to_vec(), compiled, Needs::of(m, fetches));
        self.last_compile = Some(why);
    }

    /// Checks feeds against their placeholders and binds symbolic dims.
    pub(crate) fn bind_feeds<'f>(
        &self,
        m: &Module,
        feeds: &'f [(&Tensor, TensorValue)],
        loc: &Loc,
    ) -> Result<(HashMap<ValueId, &'f TensorValue>, Bindings)> {
        let mut map = HashMap::new();
        for (t, val) in feeds {
            let v = self.check_tensor(t, loc)?;
            let op = m.op(v);
            let ty = match (&op.kind, &op.ty) {
                (OpKind::Parameter, Some(ty)) => ty,
                _ => return Err(Error::NotAPlaceholder { tensor: t.name(), loc: loc.clone() }),
            };
            if val.dtype() != Some(ty.dtype) {
                let got = val.dtype().map_or("()".to_string(), |d| d.to_string());
                let placeholder = op.name.clone();
                return Err(Error::FeedDType { placeholder, expected: ty.dtype, got, loc: loc.clone() });
            }
            if map.insert(v, val).is_some() {
                return Err(Error::DuplicateFeed { placeholder: op.name.clone(), loc: loc.clone() });
            }
        }
        let shaped: Vec<(&Tensor, DType, &[usize])> =
            feeds.iter().map(|(t, v)| (*t, v.dtype().unwrap_or(DType::F32), v.shape())).collect();
        Ok((map, self.bind_shapes(m, &shaped, loc)?))
    }

    /// Checks feed shapes against their placeholders and binds symbolic dims (the
    /// dtypes were checked by the caller).
    pub(crate) fn bind_shapes(&self, m: &Module, feeds: &[(&Tensor, DType, &[usize])], loc: &Loc) -> Result<Bindings> {
        let mut bindings = Bindings::new(m);
        bindings.draws = self.draws.clone();
        let mut bound_by: HashMap<Dim, String> = HashMap::new();
        let classes = m.dim_classes();
        for &(t, _, got) in feeds {
            let v = self.check_tensor(t, loc)?;
            let op = m.op(v);
            let Some(ty) = op.ty.as_ref().filter(|_| matches!(op.kind, OpKind::Parameter)) else {
                return Err(Error::NotAPlaceholder { tensor: t.name(), loc: loc.clone() });
            };
            let name = &op.name;
            let shape_err = || Error::FeedShape {
                placeholder: name.clone(),
                expected: ty.shape.clone(),
                got: got.to_vec(),
                loc: loc.clone(),
            };
            if got.len() != ty.shape.rank() {
                return Err(shape_err());
            }
            for (d, &n) in ty.shape.dims().iter().zip(got) {
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
        }
        if let Err((constraint, sum, other)) = bindings.check_sums(m) {
            let message = format!("dims {constraint} must be equal, but the feeds make them {sum} and {other}");
            let source = interp::EvalError { op: "concat".into(), message };
            return Err(Error::Eval { source, loc: loc.clone() });
        }
        Ok(bindings)
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

fn log_compile(m: &Module, fetches: &[ValueId], compiled: &Compiled, why: &CompileReason, took: std::time::Duration) {
    let names: Vec<&str> = fetches.iter().map(|f| m.op(*f).name.as_str()).collect();
    match compiled {
        Compiled::Jit(e) => eprintln!(
            "kiln: compiled {names:?} into {} kernel(s) and {} step(s) in {took:.2?} ({why})",
            e.schedule.kernel_count(),
            e.schedule.steps.len(),
        ),
        Compiled::Interp(refused) => eprintln!("kiln: {names:?} runs on the interpreter ({why}): {refused}"),
    }
}

/// Fails if a placeholder among `inputs` is not fed or a variable read is not
/// initialized; `inputs` lists the reachable ops in op order (others are skipped).
fn check_inputs(
    m: &Module,
    fetches: &[ValueId],
    inputs: impl Iterator<Item = ValueId>,
    feeds: &HashMap<ValueId, &TensorValue>,
    vars: &[Option<TensorValue>],
    loc: &Loc,
) -> Result<()> {
    for v in inputs {
        let op = m.op(v);
        let fetch = || first_fetch_needing(m, fetches, v);
        match op.kind {
            OpKind::Parameter if !feeds.contains_key(&v) => {
                let shape = op.ty.as_ref().map(|t| t.shape.clone()).unwrap_or_default();
                return Err(Error::MissingFeed {
                    placeholder: op.name.clone(),
                    shape,
                    fetch: fetch(),
                    loc: loc.clone(),
                });
            }
            OpKind::Read(var) if vars.get(var.index()).is_none_or(|x| x.is_none()) => {
                return Err(Error::Uninitialized { var: m.var(var).name.clone(), fetch: fetch(), loc: loc.clone() });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Runs a compiled fetch set. `None` means this run goes to the interpreter (a
/// variable holds a non-standard layout).
#[allow(clippy::too_many_arguments)]
fn run_jit(
    exec: &mut Executable,
    options: &SessionOptions,
    m: &Module,
    fetches: &[ValueId],
    feeds: &HashMap<ValueId, &TensorValue>,
    bindings: &Bindings,
    vars: &mut [Option<TensorValue>],
    loc: &Loc,
) -> Result<Option<Vec<TensorValue>>> {
    let jit_err = |message: String| Error::Jit { message, loc: loc.clone() };
    for v in vars.iter() {
        if let Some(TensorValue::F32(a)) = v {
            if !a.is_standard_layout() {
                return Ok(None);
            }
        }
    }
    // the schedule runs the optimized module: key the feeds by its values
    let feeds: HashMap<ValueId, &TensorValue> = feeds.iter().filter_map(|(k, v)| Some((exec.map(*k)?, *v))).collect();
    let reference = if options.check {
        let roots = exec.schedule.roots.clone();
        Some(
            interp::run_all(exec.module(), &roots, &feeds, vars, bindings)
                .map_err(|source| Error::Eval { source, loc: loc.clone() })?,
        )
    } else {
        None
    };
    exec.run(bindings, &feeds, vars).map_err(|e| match e {
        crate::exec::RunError::Eval(source) => Error::Eval { source, loc: loc.clone() },
        crate::exec::RunError::Internal(message) => jit_err(message),
    })?;
    // every fetch, of every dtype, read the same way: the root's value with its bound shape
    let mut out = Vec::with_capacity(fetches.len());
    for (&f, &root) in fetches.iter().zip(&exec.schedule.roots) {
        if m.ty(f).is_none() {
            out.push(TensorValue::Unit);
            continue;
        }
        out.push(exec.value_of(root, vars).ok_or_else(|| jit_err(format!("no value for fetch %{}", m.op(f).name)))?);
    }
    if let Some((vals, _)) = reference {
        crate::check::compare(exec, &vals, vars, loc)?;
    }
    Ok(Some(out))
}

fn first_fetch_needing(m: &Module, fetches: &[ValueId], v: ValueId) -> String {
    fetches.iter().find(|&&f| reachable(m, &[f])[v.index()]).map_or_else(String::new, |f| m.op(*f).name.clone())
}

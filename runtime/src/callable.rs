//! `make_callable` (TF1's `Session.make_callable`): a fetch set compiled ahead of the
//! training loop. Each call checks the feed shapes against the last call's, copies the
//! feeds in and runs the kernels: no compilation, no allocation, no graph walk.

use crate::exec::Executable;
use crate::{Error, Result, Session, TensorValue};
use kiln_frontend::Tensor;
use kiln_ir::{Loc, OpKind, ValueId, VarId};
use kiln_passes::schedule::BufKind;
use ndarray::ArrayViewD;

/// A compiled fetch set with a fixed feed list.
pub struct Callable {
    exec: Executable,
    feed_tensors: Vec<Tensor>,
    /// for each parameter of the module: its position in the feed list
    param_pos: Vec<Option<usize>>,
    fetches: Vec<ValueId>,
    vars_read: Vec<VarId>,
    raw: Vec<(*const f32, usize)>,
}

impl Session {
    /// Compiles `fetches` for feeds given in `feed_list` order (TF `make_callable`).
    /// Fails if the graph needs an op the JIT does not compile yet, or a placeholder
    /// missing from `feed_list`.
    #[track_caller]
    pub fn make_callable(&mut self, fetches: &[&Tensor], feed_list: &[&Tensor]) -> Result<Callable> {
        let loc = Loc::caller();
        let mut ids = Vec::new();
        for t in fetches.iter().chain(feed_list) {
            let v = t.value()?;
            if t.graph() != self.graph() {
                return Err(Error::ForeignTensor { tensor: t.name(), loc });
            }
            ids.push(v);
        }
        let (fetch_ids, feed_ids) = ids.split_at(fetches.len());
        let m = self.graph().module().clone();
        kiln_ir::verify(&m)?;
        for (t, &v) in feed_list.iter().zip(feed_ids) {
            if !matches!(m.op(v).kind, OpKind::Parameter) {
                return Err(Error::NotAPlaceholder { tensor: t.name(), loc });
            }
        }
        let opts = crate::build::BuildOptions::from_env(&m, fetch_ids, kiln_codegen::CodegenOptions::default());
        let mut exec =
            Executable::build(&m, fetch_ids, &opts).map_err(|message| Error::Jit { message, loc: loc.clone() })?;
        exec.threads = self.options().threads.max(1);
        exec.flush_denormals = self.options().flush_denormals;
        let new_feeds: Vec<Option<ValueId>> = feed_ids.iter().map(|&f| exec.map(f)).collect();
        if let Some(b) =
            exec.schedule.buffers.iter().find(|b| b.dtype != kiln_ir::DType::F32 && matches!(b.kind, BufKind::Feed))
        {
            let message = format!("callables take f32 feeds; '{}' is {}", exec.module().op(b.value).name, b.dtype);
            return Err(Error::Jit { message, loc });
        }
        for b in &exec.schedule.buffers {
            if matches!(b.kind, BufKind::Feed) && !new_feeds.contains(&Some(b.value)) {
                let op = exec.module().op(b.value);
                return Err(Error::MissingFeed {
                    placeholder: op.name.clone(),
                    shape: op.ty.as_ref().map(|t| t.shape.clone()).unwrap_or_default(),
                    fetch: fetches.first().map(|f| f.op_name()).unwrap_or_default(),
                    loc,
                });
            }
        }
        let vars_read = exec
            .schedule
            .buffers
            .iter()
            .filter_map(|b| if let BufKind::Var(v) = b.kind { Some(v) } else { None })
            .collect();
        let param_pos = exec.params().iter().map(|p| new_feeds.iter().position(|f| *f == Some(*p))).collect();
        let n = exec.params().len();
        let fetches = exec.schedule.roots.clone();
        Ok(Callable {
            exec,
            feed_tensors: feed_list.iter().map(|t| (*t).clone()).collect(),
            param_pos,
            fetches,
            vars_read,
            raw: vec![(std::ptr::null(), 0); n],
        })
    }
}

impl Callable {
    /// Runs one step with `feeds` in the feed-list order. Results stay inside the
    /// callable until the next call; read them with [`Callable::fetch`].
    #[track_caller]
    pub fn run(&mut self, sess: &mut Session, feeds: &[ArrayViewD<'_, f32>]) -> Result<()> {
        // a `Loc` allocates its file name: build it only on the error paths
        let caller = std::panic::Location::caller();
        let loc = || Loc::from(caller);
        if feeds.len() != self.feed_tensors.len() {
            let message = format!("{} feeds for a feed list of {}", feeds.len(), self.feed_tensors.len());
            return Err(Error::Jit { message, loc: loc() });
        }
        let shapes = self.param_pos.iter().map(|p| p.map_or(&[][..], |i| feeds[i].shape()));
        if !self.exec.bound_to(shapes) {
            self.rebind(sess, feeds, &loc())?;
        }
        for v in &self.vars_read {
            if sess.vars.get(v.index()).is_none_or(|x| x.is_none()) {
                let var = sess.graph().module().var(*v).name.clone();
                return Err(Error::Uninitialized { var, fetch: "callable".into(), loc: loc() });
            }
        }
        for (slot, p) in self.raw.iter_mut().zip(&self.param_pos) {
            *slot = match p {
                Some(i) => match feeds[*i].as_slice() {
                    Some(s) => (s.as_ptr(), s.len()),
                    None => return Err(Error::Jit { message: "feeds must be contiguous".into(), loc: loc() }),
                },
                None => (std::ptr::null(), 0),
            };
        }
        self.exec.run_raw(&self.raw, &mut sess.vars).map_err(|e| match e {
            crate::exec::RunError::Eval(source) => Error::Eval { source, loc: loc() },
            crate::exec::RunError::Internal(message) => Error::Jit { message, loc: loc() },
        })
    }

    /// Full checks when the feed shapes change: dtypes, shapes, shared dims.
    fn rebind(&mut self, sess: &mut Session, feeds: &[ArrayViewD<'_, f32>], loc: &Loc) -> Result<()> {
        let owned: Vec<(&Tensor, TensorValue)> =
            self.feed_tensors.iter().zip(feeds).map(|(t, f)| (t, TensorValue::F32(f.to_owned()))).collect();
        let m = sess.graph().module().clone();
        sess.vars.resize(m.vars.len(), None);
        let (_, bindings) = sess.bind_feeds(&m, &owned, loc)?;
        let signature = self.param_pos.iter().map(|p| p.map_or_else(Vec::new, |i| feeds[i].shape().to_vec())).collect();
        self.exec.prepare(&bindings, signature).map_err(|message| Error::Jit { message, loc: loc.clone() })
    }

    /// The `i`th fetch of the last run, row-major; `None` for an op without a value.
    /// A fetched variable shows its value after the run's assignments.
    pub fn fetch<'a>(&'a self, i: usize, sess: &'a Session) -> Option<&'a [f32]> {
        self.exec.value(*self.fetches.get(i)?, &sess.vars)
    }

    /// The schedule's kernels (names, provenance).
    pub fn executable(&self) -> &Executable {
        &self.exec
    }
}

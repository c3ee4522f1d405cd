//! `make_callable` (TF1's `Session.make_callable`): a fetch set compiled ahead of the
//! training loop. A call at feed shapes seen before (its executable keeps several
//! bindings) checks the feeds and runs the kernels: no compilation, no allocation, no
//! graph walk. A call at new shapes binds them first, which plans nothing.
//!
//! Feeds and fetches take every dtype: [`Feed`] borrows an array of any element type,
//! and typed accessors ([`Callable::fetch_f32`], [`Callable::fetch_i64`], ...) return
//! a fetch as its dtype or a typed error.

use crate::exec::Executable;
use crate::{Error, Result, Session, TensorValue};
use kiln_frontend::Tensor;
use kiln_ir::{DType, Loc, OpKind, ValueId, VarId};
use kiln_passes::schedule::BufKind;
use ndarray::{ArrayD, ArrayViewD, Dimension};

/// A borrowed feed of any dtype. Arrays and views convert into it with `.into()`
/// (`Feed::from(&actions)`, `x.view().into()`).
#[derive(Clone, Debug)]
pub enum Feed<'a> {
    /// f32 data
    F32(ArrayViewD<'a, f32>),
    /// f64 data
    F64(ArrayViewD<'a, f64>),
    /// i32 data
    I32(ArrayViewD<'a, i32>),
    /// i64 data
    I64(ArrayViewD<'a, i64>),
    /// bool data
    Bool(ArrayViewD<'a, bool>),
    /// u8 data (Atari frames)
    U8(ArrayViewD<'a, u8>),
    /// i8 data
    I8(ArrayViewD<'a, i8>),
    /// u16 data
    U16(ArrayViewD<'a, u16>),
    /// i16 data
    I16(ArrayViewD<'a, i16>),
}

/// Applies `$e` to the view inside any feed.
macro_rules! each_feed {
    ($v:expr, $a:ident => $e:expr) => {
        match $v {
            Feed::F32($a) => $e,
            Feed::F64($a) => $e,
            Feed::I32($a) => $e,
            Feed::I64($a) => $e,
            Feed::Bool($a) => $e,
            Feed::U8($a) => $e,
            Feed::I8($a) => $e,
            Feed::U16($a) => $e,
            Feed::I16($a) => $e,
        }
    };
}

macro_rules! feed_from {
    ($($t:ty => $var:ident),*) => {$(
        impl<'a, D: Dimension> From<ndarray::ArrayView<'a, $t, D>> for Feed<'a> {
            fn from(a: ndarray::ArrayView<'a, $t, D>) -> Self {
                Feed::$var(a.into_dyn())
            }
        }
        impl<'a, D: Dimension> From<&'a ndarray::Array<$t, D>> for Feed<'a> {
            fn from(a: &'a ndarray::Array<$t, D>) -> Self {
                Feed::$var(a.view().into_dyn())
            }
        }
    )*};
}
feed_from!(f32 => F32, f64 => F64, i32 => I32, i64 => I64, bool => Bool, u8 => U8, i8 => I8, u16 => U16, i16 => I16);

impl Feed<'_> {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Feed::F32(_) => DType::F32,
            Feed::F64(_) => DType::F64,
            Feed::I32(_) => DType::I32,
            Feed::I64(_) => DType::I64,
            Feed::Bool(_) => DType::Bool,
            Feed::U8(_) => DType::U8,
            Feed::I8(_) => DType::I8,
            Feed::U16(_) => DType::U16,
            Feed::I16(_) => DType::I16,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        each_feed!(self, a => a.shape())
    }

    /// An owned copy as a run-time value.
    pub fn to_value(&self) -> TensorValue {
        each_feed!(self, a => TensorValue::from(a.to_owned()))
    }
}

/// Anything a callable takes as a feed: an f32 view (as before dtypes were added), or a
/// [`Feed`] of any dtype.
pub trait AsFeed {
    /// The feed, borrowed.
    fn as_feed(&self) -> Feed<'_>;
    /// Its shape.
    fn feed_shape(&self) -> &[usize];
}

impl AsFeed for Feed<'_> {
    fn feed_shape(&self) -> &[usize] {
        self.shape()
    }
    fn as_feed(&self) -> Feed<'_> {
        each_feed!(self, a => Feed::from(a.view()))
    }
}

impl AsFeed for ArrayViewD<'_, f32> {
    fn feed_shape(&self) -> &[usize] {
        self.shape()
    }
    fn as_feed(&self) -> Feed<'_> {
        Feed::F32(self.view())
    }
}

/// A compiled fetch set with a fixed feed list.
pub struct Callable {
    exec: Executable,
    /// The graph it was made from: a call with another graph's session is refused.
    graph: kiln_frontend::Graph,
    feed_tensors: Vec<Tensor>,
    /// per feed: its placeholder's name and dtype
    feed_types: Vec<(String, DType)>,
    /// for each parameter of the module: its position in the feed list
    param_pos: Vec<Option<usize>>,
    /// per fetch: the schedule's root, the op's name and dtype (`None`: no value)
    fetches: Vec<(ValueId, String, Option<DType>)>,
    vars_read: Vec<VarId>,
    raw: Vec<(*const u8, usize)>,
    /// strided feeds of the current call, copied to row-major order
    owned: Vec<TensorValue>,
}

// SAFETY: `raw` holds the previous call's feed addresses only as scratch, rewritten at
// the start of every call before anything reads them.
unsafe impl Send for Callable {}

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
        let (asked, feed_ids) = ids.split_at(fetches.len());
        // what `control_dependencies` blocks attached to the fetches runs with them
        let fetch_ids = &self.graph().with_control_inputs(asked)[..];
        let m = self.graph().module().clone();
        kiln_ir::verify(&m)?;
        let mut feed_types = Vec::new();
        for (t, &v) in feed_list.iter().zip(feed_ids) {
            match (&m.op(v).kind, m.ty(v)) {
                (OpKind::Parameter, Some(ty)) => feed_types.push((m.op(v).name.clone(), ty.dtype)),
                _ => return Err(Error::NotAPlaceholder { tensor: t.name(), loc }),
            }
        }
        let opts = crate::build::BuildOptions::from_env(&m, fetch_ids, kiln_codegen::CodegenOptions::default());
        let mut exec =
            Executable::build(&m, fetch_ids, &opts).map_err(|message| Error::Jit { message, loc: loc.clone() })?;
        exec.threads = self.options().threads.max(1);
        exec.flush_denormals = self.options().flush_denormals;
        exec.max_bindings = self.options().max_bindings.max(1);
        let new_feeds: Vec<Option<ValueId>> = feed_ids.iter().map(|&f| exec.map(f)).collect();
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
        let fetches = asked
            .iter()
            .zip(&exec.schedule.roots)
            .map(|(&f, &r)| (r, m.op(f).name.clone(), m.ty(f).map(|t| t.dtype)))
            .collect();
        Ok(Callable {
            exec,
            graph: self.graph().clone(),
            feed_tensors: feed_list.iter().map(|t| (*t).clone()).collect(),
            feed_types,
            param_pos,
            fetches,
            vars_read,
            raw: vec![(std::ptr::null(), 0); n],
            owned: Vec::new(),
        })
    }
}

impl Callable {
    /// Runs one step with `feeds` in the feed-list order: f32 views, or [`Feed`]s of
    /// any dtype. Results stay inside the callable until the next call; read them with
    /// [`Callable::fetch_f32`] and its siblings.
    #[track_caller]
    pub fn run<F: AsFeed>(&mut self, sess: &mut Session, feeds: &[F]) -> Result<()> {
        // a `Loc` allocates its file name: build it only on the error paths
        let caller = std::panic::Location::caller();
        let loc = || Loc::at(caller);
        if sess.graph() != &self.graph {
            let tensor = self.fetches.first().map_or_else(|| "callable".to_string(), |f| f.1.clone());
            return Err(Error::ForeignTensor { tensor, loc: loc() });
        }
        if feeds.len() != self.feed_tensors.len() {
            let message = format!("{} feeds for a feed list of {}", feeds.len(), self.feed_tensors.len());
            return Err(Error::Jit { message, loc: loc() });
        }
        for (f, (name, dtype)) in feeds.iter().zip(&self.feed_types) {
            if f.as_feed().dtype() != *dtype {
                let got = f.as_feed().dtype().to_string();
                return Err(Error::FeedDType { placeholder: name.clone(), expected: *dtype, got, loc: loc() });
            }
        }
        if !self.select(feeds) {
            self.rebind(sess, feeds, &loc())?;
        }
        for v in &self.vars_read {
            if sess.vars.get(v.index()).is_none_or(|x| x.is_none()) {
                let var = sess.graph().module().var(*v).name.clone();
                let fetch = self.fetches.first().map_or_else(|| "callable".to_string(), |f| f.1.clone());
                return Err(Error::Uninitialized { var, fetch, loc: loc() });
            }
        }
        self.owned.clear();
        for (k, p) in self.param_pos.iter().enumerate() {
            let Some(i) = *p else {
                self.raw[k] = (std::ptr::null(), 0);
                continue;
            };
            fn raw<T>(a: &ArrayViewD<'_, T>) -> Option<(*const u8, usize)> {
                a.as_slice().map(|s| (s.as_ptr().cast::<u8>(), s.len()))
            }
            let feed = feeds[i].as_feed();
            let direct = match &feed {
                Feed::F32(a) => raw(a),
                Feed::I32(a) => raw(a),
                Feed::I64(a) => raw(a),
                Feed::Bool(a) => raw(a),
                Feed::U8(a) => raw(a),
                Feed::I8(a) => raw(a),
                Feed::U16(a) => raw(a),
                Feed::I16(a) => raw(a),
                Feed::F64(_) => {
                    // f64 feeds ops on the interpreter, as a value
                    self.exec.set_host_feed(k, feed.to_value());
                    Some((std::ptr::null(), 0))
                }
            };
            self.raw[k] = match direct {
                Some(r) => r,
                None => {
                    // a transposed or strided feed is copied to row-major order
                    let v = each_feed!(&feed, a => TensorValue::from(a.as_standard_layout().into_owned()));
                    let r = match &v {
                        TensorValue::F32(a) => (a.as_ptr().cast::<u8>(), a.len()),
                        TensorValue::I32(a) => (a.as_ptr().cast::<u8>(), a.len()),
                        TensorValue::I64(a) => (a.as_ptr().cast::<u8>(), a.len()),
                        TensorValue::Bool(a) => (a.as_ptr().cast::<u8>(), a.len()),
                        TensorValue::U8(a) => (a.as_ptr(), a.len()),
                        TensorValue::I8(a) => (a.as_ptr().cast::<u8>(), a.len()),
                        TensorValue::U16(a) => (a.as_ptr().cast::<u8>(), a.len()),
                        TensorValue::I16(a) => (a.as_ptr().cast::<u8>(), a.len()),
                        _ => (std::ptr::null(), 0),
                    };
                    self.owned.push(v);
                    r
                }
            };
        }
        if !self.exec.random_seeds.is_empty() {
            self.exec.draws = sess.draws.clone();
        }
        // SAFETY: every pointer in `raw` addresses its count of elements of its feed's
        // dtype (checked against the placeholders above), borrowed from `feeds` or
        // `self.owned` (row-major copies: `to_value` makes standard layouts), both alive
        // and unwritten until this call returns.
        unsafe { self.exec.run_raw(&self.raw, &mut sess.vars) }.map_err(|e| match e {
            crate::exec::RunError::Eval(source) => Error::Eval { source, loc: loc() },
            crate::exec::RunError::Internal(message) => Error::Jit { message, loc: loc() },
        })?;
        sess.count_draws(&self.exec.random_seeds);
        Ok(())
    }

    /// Makes the executable's binding for these feeds' shapes current, if it has one.
    fn select<F: AsFeed>(&mut self, feeds: &[F]) -> bool {
        let pos = &self.param_pos;
        let shapes = pos.iter().map(|p| p.map_or(&[][..], |i| feeds[i].feed_shape()));
        self.exec.select(shapes)
    }

    /// Full checks when the feed shapes are new: shapes and shared dims, then a binding.
    fn rebind<F: AsFeed>(&mut self, sess: &mut Session, feeds: &[F], loc: &Loc) -> Result<()> {
        let shapes: Vec<&[usize]> = feeds.iter().map(|f| f.feed_shape()).collect();
        self.bind_shapes(sess, &shapes, loc)
    }

    fn bind_shapes(&mut self, sess: &mut Session, shapes: &[&[usize]], loc: &Loc) -> Result<()> {
        if shapes.len() != self.feed_tensors.len() {
            let message = format!("{} shapes for a feed list of {}", shapes.len(), self.feed_tensors.len());
            return Err(Error::Jit { message, loc: loc.clone() });
        }
        // the graph handle, not the module: a bind must not copy the graph
        let g = sess.graph().clone();
        let m = g.module();
        sess.vars.resize(m.vars.len(), None);
        let shaped: Vec<(&Tensor, DType, &[usize])> =
            self.feed_tensors.iter().zip(shapes).zip(&self.feed_types).map(|((t, s), (_, d))| (t, *d, *s)).collect();
        let bindings = sess.bind_shapes(&m, &shaped, loc)?;
        let signature = self.param_pos.iter().map(|p| p.map_or_else(Vec::new, |i| shapes[i].to_vec())).collect();
        self.exec.prepare(&bindings, signature).map_err(|message| Error::Jit { message, loc: loc.clone() })
    }

    /// Binds the callable to feeds of these shapes (feed-list order) ahead of a run, as
    /// the first run at those shapes would: shapes checked, buffers sized, argument
    /// blocks filled; nothing is compiled. A later run at the same shapes finds the
    /// binding (while it is among the executable's most recent
    /// [`crate::SessionOptions::max_bindings`]).
    #[track_caller]
    pub fn bind(&mut self, sess: &mut Session, shapes: &[&[usize]]) -> Result<()> {
        let loc = Loc::caller();
        if sess.graph() != &self.graph {
            let tensor = self.fetches.first().map_or_else(|| "callable".to_string(), |f| f.1.clone());
            return Err(Error::ForeignTensor { tensor, loc });
        }
        let pos = &self.param_pos;
        if shapes.len() == self.feed_tensors.len()
            && self.exec.select(pos.iter().map(|p| p.map_or(&[][..], |i| shapes[i])))
        {
            return Ok(());
        }
        self.bind_shapes(sess, shapes, &loc)
    }

    /// The root of fetch `i` if it has a value of dtype `want` (any dtype for `None`).
    /// `caller` becomes a `Loc` only on the error paths: building one allocates.
    fn check_fetch(
        &self,
        i: usize,
        want: Option<DType>,
        sess: &Session,
        caller: &'static std::panic::Location<'static>,
    ) -> Result<ValueId> {
        if sess.graph() != &self.graph {
            let tensor = self.fetches.get(i).map_or_else(|| "callable".to_string(), |f| f.1.clone());
            return Err(Error::ForeignTensor { tensor, loc: Loc::at(caller) });
        }
        let Some((root, name, dtype)) = self.fetches.get(i) else {
            let loc = Loc::at(caller);
            return Err(Error::FetchIndex { index: i, count: self.fetches.len(), loc });
        };
        match (dtype, want) {
            (None, _) => Err(Error::NoValue { fetch: name.clone(), loc: Loc::at(caller) }),
            (Some(d), Some(w)) if *d != w => {
                Err(Error::FetchDType { fetch: name.clone(), expected: w, got: *d, loc: Loc::at(caller) })
            }
            _ => Ok(*root),
        }
    }

    /// The `i`th fetch of the last run as a value of its own dtype (`Unit` for an op
    /// without a value, as TF returns `None` for a train op).
    #[track_caller]
    pub fn fetch_value(&self, i: usize, sess: &Session) -> Result<TensorValue> {
        let caller = std::panic::Location::caller();
        match self.check_fetch(i, None, sess, caller) {
            Err(Error::NoValue { .. }) => Ok(TensorValue::Unit),
            Err(e) => Err(e),
            Ok(root) => self.exec.value_of(root, &sess.vars).ok_or_else(|| Error::Jit {
                message: format!("no value for fetch %{}", self.fetches[i].1),
                loc: Loc::at(caller),
            }),
        }
    }

    fn f32_view<'a>(
        &'a self,
        i: usize,
        root: ValueId,
        sess: &'a Session,
        caller: &'static std::panic::Location<'static>,
    ) -> Result<ArrayViewD<'a, f32>> {
        let err = |message: String| Error::Jit { message, loc: Loc::at(caller) };
        let shape = self.exec.root_shape(i).ok_or_else(|| err("fetch before any run".into()))?;
        let data = self
            .exec
            .value(root, &sess.vars)
            .ok_or_else(|| err(format!("no buffer for fetch %{}", self.fetches[i].1)))?;
        ArrayViewD::from_shape(shape, data).map_err(|e| err(e.to_string()))
    }

    /// The `i`th fetch of the last run, row-major, if it is f32. A fetched variable
    /// shows its value after the run's assignments.
    #[track_caller]
    pub fn fetch<'a>(&'a self, i: usize, sess: &'a Session) -> Result<&'a [f32]> {
        let caller = std::panic::Location::caller();
        let root = self.check_fetch(i, Some(DType::F32), sess, caller)?;
        let none = || Error::Jit { message: "fetch before any run".into(), loc: Loc::at(caller) };
        self.exec.value(root, &sess.vars).ok_or_else(none)
    }

    /// The `i`th fetch of the last run as an f32 array view; a typed error if it has
    /// another dtype or no value.
    #[track_caller]
    pub fn fetch_f32<'a>(&'a self, i: usize, sess: &'a Session) -> Result<ArrayViewD<'a, f32>> {
        let caller = std::panic::Location::caller();
        let root = self.check_fetch(i, Some(DType::F32), sess, caller)?;
        self.f32_view(i, root, sess, caller)
    }

    /// The schedule's kernels (names, provenance).
    pub fn executable(&self) -> &Executable {
        &self.exec
    }
}

macro_rules! typed_fetch {
    ($($name:ident, $into:ident, $t:ty, $d:ident);*) => {$(
        impl Callable {
            #[doc = concat!("The `i`th fetch of the last run as an owned ", stringify!($t), " array (indices, actions and flags are small; bools are stored as 32-bit words, so they are copied out); a typed error if it has another dtype or no value.")]
            #[track_caller]
            pub fn $name(&self, i: usize, sess: &Session) -> Result<ArrayD<$t>> {
                let caller = std::panic::Location::caller();
                let root = self.check_fetch(i, Some(DType::$d), sess, caller)?;
                let none = || Error::Jit { message: "fetch before any run".into(), loc: Loc::at(caller) };
                Ok(self.exec.value_of(root, &sess.vars).ok_or_else(none)?.$into()?)
            }
        }
    )*};
}
typed_fetch!(fetch_f64, into_f64, f64, F64; fetch_i32, into_i32, i32, I32; fetch_i64, into_i64, i64, I64; fetch_bool, into_bool, bool, Bool);

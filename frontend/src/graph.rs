//! The graph: an IR module under construction plus TF's naming, scopes and collections.

use crate::constant::IntoConstant;
use crate::{Error, Result, Tensor};
use kiln_ir::{infer_type, DType, Dim, DimClasses, Loc, Module, Op, OpKind, Shape, Type, ValueId, VarId};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// What to do with a broadcast that turns vectors into a matrix by expanding both
/// operands (`[n,1]` with `[n]`, or `[n,1]` with `[1,n]`): the notebook's classic
/// source of wrong results. JAX calls its version of this switch rank promotion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RankPromotion {
    /// Build it silently.
    Allow,
    /// Build it and print a warning naming the line (the default).
    #[default]
    Warn,
    /// Refuse it with [`Error::RankPromotion`].
    Error,
}

/// One dim of a placeholder shape: known, unknown (`None` in TF), or a named symbol
/// shared between placeholders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DimSpec {
    /// A fixed size.
    Known(usize),
    /// Unknown; gets a fresh symbol `?N`.
    Unknown,
    /// A named symbol: placeholders sharing it must be fed equal sizes.
    Named(String),
}

impl From<usize> for DimSpec {
    fn from(n: usize) -> Self {
        DimSpec::Known(n)
    }
}
impl From<Option<usize>> for DimSpec {
    fn from(n: Option<usize>) -> Self {
        n.map_or(DimSpec::Unknown, DimSpec::Known)
    }
}
impl From<&str> for DimSpec {
    fn from(s: &str) -> Self {
        DimSpec::Named(s.to_string())
    }
}

/// Anything usable as a placeholder shape: `[None, Some(1)]`, `[3, 4]`, `vec![DimSpec]`.
pub trait IntoShapeSpec {
    /// The dims.
    fn into_spec(self) -> Vec<DimSpec>;
}
impl<T: Into<DimSpec>, const N: usize> IntoShapeSpec for [T; N] {
    fn into_spec(self) -> Vec<DimSpec> {
        self.into_iter().map(Into::into).collect()
    }
}
impl<T: Into<DimSpec>> IntoShapeSpec for Vec<T> {
    fn into_spec(self) -> Vec<DimSpec> {
        self.into_iter().map(Into::into).collect()
    }
}
impl<T: Into<DimSpec> + Clone> IntoShapeSpec for &[T] {
    fn into_spec(self) -> Vec<DimSpec> {
        self.iter().cloned().map(Into::into).collect()
    }
}

/// Frontend facts about a variable beyond its IR declaration.
#[derive(Clone, Debug)]
pub(crate) struct VarInfo {
    pub(crate) var: VarId,
    pub(crate) read: ValueId,
    pub(crate) init: ValueId,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) id: u64,
    /// Shared with snapshots `Graph::module` handed out; building copies it only while
    /// one is alive.
    pub(crate) module: Arc<Module>,
    pub(crate) classes: DimClasses,
    pub(crate) used_names: HashSet<String>,
    name_counters: HashMap<String, usize>,
    pub(crate) name_scopes: Vec<String>,
    pub(crate) var_scopes: Vec<crate::scopes::ScopeEntry>,
    /// TF's collections of tensors, by key (variables are kept in `vars`).
    pub(crate) collections: BTreeMap<String, Vec<ValueId>>,
    /// Unnamed layers' counts, per variable-scope prefix.
    pub(crate) layer_counts: HashMap<String, HashMap<String, usize>>,
    pub(crate) vars: Vec<VarInfo>,
    pub(crate) seed: u64,
    pub(crate) random_ops: u64,
    pub(crate) policy: RankPromotion,
    pub(crate) warnings: Vec<String>,
    pub(crate) next_sym: usize,
    pub(crate) controls: crate::control::Controls,
}

/// A TF1-style graph. Cloning gives another handle to the same graph; tensors keep
/// their graph alive. Building never panics: invalid ops return [`Error`].
///
/// `Send` and `Sync`, as TF1's graphs are: threads (Python's, Ray's actors) may build
/// into one graph, each op under the graph's lock.
#[derive(Clone, Debug)]
pub struct Graph {
    pub(crate) inner: Arc<Mutex<Inner>>,
}

static NEXT_GRAPH: AtomicU64 = AtomicU64::new(1);

impl Default for Graph {
    fn default() -> Self {
        Graph::new()
    }
}

impl PartialEq for Graph {
    fn eq(&self, other: &Graph) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

/// Undoes a scope on drop; returned by [`Graph::variable_scope`],
/// [`Graph::name_scope`] and [`Graph::control_dependencies`].
#[must_use = "the scope ends when this guard is dropped"]
pub struct ScopeGuard {
    graph: Graph,
    names: usize,
    vars: usize,
    controls: usize,
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        let mut g = self.graph.lock();
        g.name_scopes.truncate(self.names);
        g.var_scopes.truncate(self.vars);
        g.controls.truncate(self.controls);
    }
}

impl Graph {
    /// An empty graph with seed 0 and the warn rank-promotion policy.
    pub fn new() -> Graph {
        Graph {
            inner: Arc::new(Mutex::new(Inner {
                id: NEXT_GRAPH.fetch_add(1, Ordering::Relaxed),
                module: Arc::new(Module::new()),
                classes: DimClasses::default(),
                used_names: HashSet::new(),
                name_counters: HashMap::new(),
                name_scopes: Vec::new(),
                var_scopes: Vec::new(),
                collections: BTreeMap::new(),
                layer_counts: HashMap::new(),
                vars: Vec::new(),
                seed: 0,
                random_ops: 0,
                policy: RankPromotion::Warn,
                warnings: Vec::new(),
                next_sym: 0,
                controls: Default::default(),
            })),
        }
    }

    /// The graph's state, locked. Held for one step of building at a time, never
    /// across a call that locks again. A panic while it was held (none is known)
    /// leaves the state as it was; building goes on.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A process-unique id for this graph.
    pub fn id(&self) -> u64 {
        self.lock().id
    }

    /// A snapshot of the IR built so far. It holds no borrow of the graph: ops built
    /// while it is alive go into the graph (which copies its module once for that),
    /// not into the snapshot.
    pub fn module(&self) -> Arc<Module> {
        self.lock().module.clone()
    }

    /// The IR as text (see [`kiln_ir::print`]).
    pub fn to_ir_text(&self) -> String {
        kiln_ir::print(&self.module())
    }

    /// Sets the graph-level seed (TF `set_random_seed`); every random initializer
    /// created afterwards derives its seed from it and its creation order.
    pub fn set_random_seed(&self, seed: u64) {
        self.lock().seed = seed;
    }

    /// Sets the policy for rank-promoting outer broadcasts.
    pub fn set_rank_promotion(&self, p: RankPromotion) {
        self.lock().policy = p;
    }

    /// Warnings printed while building (rank promotion), in order.
    pub fn warnings(&self) -> Vec<String> {
        self.lock().warnings.clone()
    }

    /// Opens a variable scope: variables get the prefix `name/`, ops the name scope
    /// `name/`. Reuse is inherited from the enclosing scope.
    pub fn variable_scope(&self, name: &str) -> ScopeGuard {
        self.variable_scope_with(name, crate::VarScope::default())
    }

    /// Opens a variable scope with `reuse` (TF `variable_scope(name, reuse=...)`):
    /// `false` inherits the enclosing scope's, as TF1's `reuse=False` does.
    pub fn variable_scope_reuse(&self, name: &str, reuse: bool) -> ScopeGuard {
        let reuse = if reuse { crate::Reuse::Yes } else { crate::Reuse::Inherit };
        self.variable_scope_with(name, crate::VarScope { reuse, ..Default::default() })
    }

    /// Opens a name scope: ops get the prefix `name/`, variables do not.
    pub fn name_scope(&self, name: &str) -> ScopeGuard {
        let guard = self.scope_guard();
        self.lock().push_name_scope(name);
        guard
    }

    pub(crate) fn scope_guard(&self) -> ScopeGuard {
        let g = self.lock();
        let (names, vars, controls) = (g.name_scopes.len(), g.var_scopes.len(), g.controls.depth());
        ScopeGuard { graph: self.clone(), names, vars, controls }
    }

    /// A placeholder (TF `placeholder`): a value fed at each run. `None` dims are
    /// unknown and become fresh symbols; named dims are shared symbols.
    #[track_caller]
    pub fn placeholder(&self, dtype: DType, shape: impl IntoShapeSpec, name: &str) -> Result<Tensor> {
        let loc = Loc::caller();
        let base = if name.is_empty() { "Placeholder" } else { name };
        check_name(base, &loc)?;
        let dims = {
            let mut g = self.lock();
            shape
                .into_spec()
                .into_iter()
                .map(|d| match d {
                    DimSpec::Known(n) => Dim::Fixed(n as u64),
                    DimSpec::Unknown => {
                        g.next_sym += 1;
                        Dim::Sym(format!("?{}", g.next_sym - 1))
                    }
                    DimSpec::Named(s) => Dim::Sym(s),
                })
                .collect::<Vec<_>>()
        };
        for d in &dims {
            if let Dim::Sym(s) = d {
                // a dim name must not read as a size or an unknown (`3`, `?0`)
                let ok = s.starts_with('?')
                    || (s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
                if !ok {
                    return Err(Error::InvalidName { name: s.clone(), loc });
                }
            }
        }
        let ty = Type::new(dtype, Shape(dims));
        self.add_op(OpKind::Parameter, &[], Some(ty), base, &loc).map(|v| self.tensor(v))
    }

    /// A constant (TF `constant`) from a scalar, nested arrays or `Vec`s, or an `ndarray`.
    #[track_caller]
    pub fn constant(&self, value: impl IntoConstant) -> Result<Tensor> {
        let loc = Loc::caller();
        self.constant_at(value, None, "Const", &loc)
    }

    /// A constant converted to `dtype`.
    #[track_caller]
    pub fn constant_with_dtype(&self, value: impl IntoConstant, dtype: DType) -> Result<Tensor> {
        let loc = Loc::caller();
        self.constant_at(value, Some(dtype), "Const", &loc)
    }

    /// A constant under a given name (TF `constant(value, dtype, name=...)`), of
    /// `dtype` if given.
    #[track_caller]
    pub fn constant_named(&self, value: impl IntoConstant, dtype: Option<DType>, name: &str) -> Result<Tensor> {
        let loc = Loc::caller();
        let name = if name.is_empty() { "Const" } else { name };
        check_name(name, &loc)?;
        self.constant_at(value, dtype, name, &loc)
    }

    pub(crate) fn constant_at(
        &self,
        value: impl IntoConstant,
        dtype: Option<DType>,
        name: &str,
        loc: &Loc,
    ) -> Result<Tensor> {
        let cerr = |message: String| Error::Constant { message, loc: loc.clone() };
        let (lit, shape) = value.into_literal_in(dtype).map_err(cerr)?;
        let ty = Type::new(lit.dtype(), Shape::fixed(&shape));
        self.add_op(OpKind::Constant(lit), &[], Some(ty), name, loc).map(|v| self.tensor(v))
    }

    pub(crate) fn tensor(&self, id: ValueId) -> Tensor {
        Tensor { graph: self.clone(), id, poison: None }
    }

    /// Checks and appends an op named uniquely after `base` in the current name scope.
    pub(crate) fn add_op(
        &self,
        kind: OpKind,
        operands: &[ValueId],
        declared: Option<Type>,
        base: &str,
        loc: &Loc,
    ) -> Result<ValueId> {
        let mut g = self.lock();
        let scoped = g.scoped(base);
        let operands = g.redirect_reads(operands);
        let ty = infer_type(&g.module, &g.classes, &kind, &operands, declared.as_ref())
            .map_err(|message| Error::Invalid { op: g.peek_name(&scoped), message, loc: loc.clone() })?;
        let name = g.unique_name(&scoped);
        let v = Arc::make_mut(&mut g.module).push(Op { kind, operands, ty, name, loc: Some(loc.clone()) });
        g.record_control(v);
        Ok(v)
    }

    /// Appends an op under an exact name the caller reserved (a name scope's own name).
    pub(crate) fn add_op_exact(&self, kind: OpKind, operands: &[ValueId], name: &str, loc: &Loc) -> Result<ValueId> {
        let mut g = self.lock();
        let operands = g.redirect_reads(operands);
        let ty = infer_type(&g.module, &g.classes, &kind, &operands, None).map_err(|message| Error::Invalid {
            op: name.to_string(),
            message,
            loc: loc.clone(),
        })?;
        let v = Arc::make_mut(&mut g.module).push(Op {
            kind,
            operands,
            ty,
            name: name.to_string(),
            loc: Some(loc.clone()),
        });
        g.record_control(v);
        Ok(v)
    }

    /// Opens a name scope and returns its full name, which no op has taken.
    pub(crate) fn name_scope_named(&self, name: &str) -> (ScopeGuard, String) {
        let guard = self.scope_guard();
        let unique = self.lock().push_name_scope(name);
        (guard, unique)
    }

    /// A variable name not yet declared: `base`, or `base_1`, `base_2`, ...
    pub(crate) fn free_var_name(&self, base: &str) -> String {
        let g = self.lock();
        let mut name = base.to_string();
        let mut i = 0;
        while g.module.var_by_name(&name).is_some() || g.module.value_by_name(&name).is_some() {
            i += 1;
            name = format!("{base}_{i}");
        }
        name
    }

    /// The name `base` would get now in the current scope (for error messages).
    pub(crate) fn prospective_name(&self, base: &str) -> String {
        let g = self.lock();
        g.peek_name(&g.scoped(base))
    }

    /// Records that two dims must be equal at run time.
    pub(crate) fn constrain(&self, a: &Dim, b: &Dim) -> std::result::Result<(), (u64, u64)> {
        let mut g = self.lock();
        if g.classes.same(a, b) {
            return Ok(());
        }
        if let Some(c) = g.classes.union(a, b) {
            return Err(c);
        }
        Arc::make_mut(&mut g.module).constraints.push((a.clone(), b.clone()));
        Ok(())
    }

    pub(crate) fn same_dim(&self, a: &Dim, b: &Dim) -> bool {
        self.lock().classes.same(a, b)
    }

    pub(crate) fn ty_of(&self, v: ValueId) -> Option<Type> {
        self.lock().module.ty(v).cloned()
    }

    pub(crate) fn op_name(&self, v: ValueId) -> String {
        self.lock().module.op(v).name.clone()
    }
}

impl Inner {
    pub(crate) fn scoped(&self, base: &str) -> String {
        if self.name_scopes.is_empty() {
            base.to_string()
        } else {
            format!("{}/{base}", self.name_scopes.join("/"))
        }
    }

    /// `operands` as an op built in the open `control_dependencies` block sees them.
    fn redirect_reads(&mut self, operands: &[ValueId]) -> Vec<ValueId> {
        let Inner { controls, module, .. } = self;
        controls.redirect(module, operands)
    }

    fn record_control(&mut self, v: ValueId) {
        let Inner { controls, module, .. } = self;
        controls.record(module, v);
    }

    /// Pushes a uniquely named scope (`Adam`, `Adam_1`) and returns its full name.
    pub(crate) fn push_name_scope(&mut self, name: &str) -> String {
        let scoped = self.scoped(name);
        let unique = self.unique_name(&scoped);
        let parent = scoped.len() - name.len();
        self.name_scopes.push(unique[parent..].to_string());
        unique
    }

    fn peek_name(&self, full: &str) -> String {
        if !self.used_names.contains(full) {
            return full.to_string();
        }
        let mut i = self.name_counters.get(full).copied().unwrap_or(0) + 1;
        while self.used_names.contains(&format!("{full}_{i}")) {
            i += 1;
        }
        format!("{full}_{i}")
    }

    /// TF's rule: `add`, then `add_1`, `add_2`, ...
    pub(crate) fn unique_name(&mut self, full: &str) -> String {
        let name = self.peek_name(full);
        if name != full {
            let i = name[full.len() + 1..].parse().unwrap_or(0);
            self.name_counters.insert(full.to_string(), i);
        }
        self.used_names.insert(name.clone());
        name
    }

    pub(crate) fn reserve_name(&mut self, name: &str) {
        self.used_names.insert(name.to_string());
    }

    pub(crate) fn var_prefix(&self) -> String {
        self.var_scopes.iter().map(|s| format!("{}/", s.name)).collect()
    }

    pub(crate) fn reuse(&self) -> crate::Reuse {
        self.var_scopes.last().map_or(crate::Reuse::Inherit, |s| s.reuse)
    }
}

pub(crate) fn check_name(name: &str, loc: &Loc) -> Result<()> {
    if kiln_ir::is_valid_name(name) {
        Ok(())
    } else {
        Err(Error::InvalidName { name: name.to_string(), loc: loc.clone() })
    }
}

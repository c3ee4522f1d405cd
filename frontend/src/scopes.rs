//! TF1's variable scopes with their options (`reuse`, including `AUTO_REUSE`, a default
//! `initializer` and `regularizer`), graph collections, regularizers, and the counts
//! that name unnamed layers (`dense`, `dense_1`, ...). The one place scopes live:
//! Python's `variable_scope` is a context manager over these.

use crate::{Graph, Initializer, Result, ScopeGuard, Tensor};
use kiln_ir::{Loc, ValueId};

/// TF1's collection names (`tf.GraphKeys`).
pub mod graph_keys {
    /// Every variable.
    pub const GLOBAL_VARIABLES: &str = "variables";
    /// The trainable variables.
    pub const TRAINABLE_VARIABLES: &str = "trainable_variables";
    /// The penalties of `get_variable`'s regularizers.
    pub const REGULARIZATION_LOSSES: &str = "regularization_losses";
    /// Losses added by `tf.losses`.
    pub const LOSSES: &str = "losses";
    /// Ops to run with a train step (batch-norm moving averages).
    pub const UPDATE_OPS: &str = "update_ops";
}

/// A variable scope's `reuse` (TF1: `None`/`False`, `True`, `tf.AUTO_REUSE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reuse {
    /// The enclosing scope's (TF1's `None`; `False` means this too: a scope inside a
    /// reusing one reuses).
    #[default]
    Inherit,
    /// Every `get_variable` must find an existing variable.
    Yes,
    /// Existing variables are reused, missing ones created (`tf.AUTO_REUSE`).
    Auto,
}

/// A weight penalty for `get_variable`'s `regularizer` (TF `contrib.layers`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Regularizer {
    /// `scale * sum(w^2) / 2` (TF `l2_regularizer(scale)`).
    L2(f64),
    /// `scale * sum(|w|)` (TF `l1_regularizer(scale)`).
    L1(f64),
}

impl Regularizer {
    /// The penalty for `w`, or `None` for a scale of 0 (TF returns no op then).
    #[track_caller]
    pub fn penalty(&self, w: &Tensor) -> Result<Option<Tensor>> {
        let loc = Loc::caller();
        let (scale, base) = match *self {
            Regularizer::L2(s) => (s, crate::nn::l2_loss(w)?),
            Regularizer::L1(s) => (s, crate::reduce_sum(&crate::abs(w)?, crate::Axes::All, false)?),
        };
        if scale < 0.0 || !scale.is_finite() {
            let message = format!("Setting a scale less than 0 on a regularizer: {scale}");
            return Err(crate::Error::Invalid { op: "regularizer".into(), message, loc });
        }
        if scale == 0.0 {
            return Ok(None);
        }
        let s = w.graph().constant_at(scale, w.dtype(), "scale", &loc)?;
        Ok(Some(crate::multiply(&s, &base)?))
    }
}

/// The options of [`Graph::variable_scope_with`] (TF `variable_scope`'s keywords).
#[derive(Clone, Debug, Default)]
pub struct VarScope {
    /// Reuse mode.
    pub reuse: Reuse,
    /// The initializer of variables created without one (default: the enclosing
    /// scope's, else Glorot uniform).
    pub initializer: Option<Initializer>,
    /// The regularizer of variables created without one (default: the enclosing
    /// scope's).
    pub regularizer: Option<Regularizer>,
}

/// One open variable scope, its options resolved against the enclosing ones.
#[derive(Clone, Debug)]
pub(crate) struct ScopeEntry {
    pub(crate) name: String,
    pub(crate) reuse: Reuse,
    pub(crate) initializer: Option<Initializer>,
    pub(crate) regularizer: Option<Regularizer>,
}

impl Graph {
    /// Opens a variable scope with TF1's options: reuse is inherited unless given,
    /// and so are the default initializer and regularizer. Entering a scope restarts
    /// the count of unnamed layers inside it, so the same calls under `reuse` name
    /// (and share) the same variables, as in TF1.
    pub fn variable_scope_with(&self, name: &str, opts: VarScope) -> ScopeGuard {
        let guard = self.scope_guard();
        let mut g = self.lock();
        let parent = g.var_scopes.last().cloned();
        let reuse = match (opts.reuse, &parent) {
            (Reuse::Inherit, Some(p)) => p.reuse,
            (r, _) => r,
        };
        let initializer = opts.initializer.or_else(|| parent.as_ref().and_then(|p| p.initializer.clone()));
        let regularizer = opts.regularizer.or_else(|| parent.as_ref().and_then(|p| p.regularizer));
        g.var_scopes.push(ScopeEntry { name: name.to_string(), reuse, initializer, regularizer });
        g.push_name_scope(name);
        let prefix = g.var_prefix();
        g.layer_counts.retain(|k, _| !k.starts_with(&prefix));
        guard
    }

    /// The open variable scopes as a prefix: `"outer/inner/"`.
    pub fn variable_scope_prefix(&self) -> String {
        self.lock().var_prefix()
    }

    /// The innermost variable scope's reuse mode.
    pub fn current_reuse(&self) -> Reuse {
        self.lock().var_scopes.last().map_or(Reuse::Inherit, |s| s.reuse)
    }

    /// A layer's default name under the open variable scopes: `base`, then `base_1`,
    /// `base_2`, ... (TF1's unnamed `dense` layers).
    pub fn unique_layer_name(&self, base: &str) -> String {
        let mut g = self.lock();
        let prefix = g.var_prefix();
        let counts = g.layer_counts.entry(prefix).or_default();
        let n = counts.entry(base.to_string()).or_insert(0);
        let name = if *n == 0 { base.to_string() } else { format!("{base}_{n}") };
        *n += 1;
        name
    }

    /// TF `add_to_collection(key, value)`.
    pub fn add_to_collection(&self, key: &str, t: &Tensor) -> Result<()> {
        let v = t.value()?;
        self.lock().collections.entry(key.to_string()).or_default().push(v);
        Ok(())
    }

    /// TF `add_to_collections(keys, value)`.
    pub fn add_to_collections(&self, keys: &[&str], t: &Tensor) -> Result<()> {
        keys.iter().try_for_each(|k| self.add_to_collection(k, t))
    }

    /// TF `get_collection(key, scope)`: the tensors added under `key` (the variables
    /// for [`graph_keys::GLOBAL_VARIABLES`] and [`graph_keys::TRAINABLE_VARIABLES`]), those
    /// whose names start with `scope` when given.
    pub fn get_collection(&self, key: &str, scope: Option<&str>) -> Vec<Tensor> {
        let items = match key {
            graph_keys::GLOBAL_VARIABLES => self.global_variables(),
            graph_keys::TRAINABLE_VARIABLES => self.trainable_variables(),
            _ => {
                let ids: Vec<ValueId> = self.lock().collections.get(key).cloned().unwrap_or_default();
                ids.into_iter().map(|v| self.tensor(v)).collect()
            }
        };
        match scope {
            Some(s) => items.into_iter().filter(|t| t.name().starts_with(s)).collect(),
            None => items,
        }
    }

    /// The default initializer and regularizer of the innermost scope.
    pub(crate) fn scope_defaults(&self) -> (Option<Initializer>, Option<Regularizer>) {
        let g = self.lock();
        g.var_scopes.last().map_or((None, None), |s| (s.initializer.clone(), s.regularizer))
    }
}

/// TF `make_template(name, func)`: a function's variables made in its first call and
/// shared by every later one. Each call runs inside [`Template::scope`], a variable
/// scope of the template's unique name, with reuse from the second call on.
#[derive(Debug)]
pub struct Template {
    name: String,
    called: std::sync::atomic::AtomicBool,
}

impl Template {
    /// A template named `name` (`name_1`, ... when the graph has one of that name).
    pub fn new(g: &Graph, name: &str) -> Template {
        Template { name: g.unique_layer_name(name), called: false.into() }
    }

    /// Its variable scope's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Opens its scope for one call: creating on the first call, reusing after.
    pub fn scope(&self, g: &Graph) -> ScopeGuard {
        let again = self.called.swap(true, std::sync::atomic::Ordering::Relaxed);
        let reuse = if again { Reuse::Yes } else { Reuse::Inherit };
        g.variable_scope_with(&self.name, VarScope { reuse, ..Default::default() })
    }
}

/// TF `losses.get_regularization_losses(scope)`.
pub fn get_regularization_losses(g: &Graph, scope: Option<&str>) -> Vec<Tensor> {
    g.get_collection(graph_keys::REGULARIZATION_LOSSES, scope)
}

/// TF `losses.get_regularization_loss(scope)`: their sum, or a float32 0 when there are
/// none.
#[track_caller]
pub fn get_regularization_loss(g: &Graph, scope: Option<&str>) -> Result<Tensor> {
    let loc = Loc::caller();
    let losses = get_regularization_losses(g, scope);
    if losses.is_empty() {
        return g.constant_at(0.0, Some(crate::DType::F32), "total_regularization_loss", &loc);
    }
    let refs: Vec<&Tensor> = losses.iter().collect();
    crate::add_n(&refs)
}

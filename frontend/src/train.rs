//! TF1's optimizers. Updates are IR `assign` ops grouped into one train op, so they
//! compile and fuse like the rest of the graph. Slot variables use TF's names
//! (`W0/Adam`, `W0/Adam_1`, `beta1_power`) and are saved by a `Saver` like any other.

use crate::gradients::gradients_at;
use crate::ops::{assign_at, binary_at, unary_at, values};
use crate::{Error, Graph, Initializer, Result, Tensor};
use kiln_ir::{BinaryOp, DType, Loc, OpKind, UnaryOp};

/// `(gradient, variable)` pairs; the gradient is `None` where the loss does not depend
/// on the variable.
pub type GradsAndVars = Vec<(Option<Tensor>, Tensor)>;

/// A learning rate: a number, or a scalar tensor (a placeholder fed each step, a
/// variable, a decay schedule over a global step), as TF1 takes either.
#[derive(Clone, Debug)]
pub enum LearningRate {
    /// A constant.
    Const(f32),
    /// A scalar tensor, converted to each variable's dtype.
    Tensor(Tensor),
}

impl From<f32> for LearningRate {
    fn from(x: f32) -> Self {
        LearningRate::Const(x)
    }
}

impl From<Tensor> for LearningRate {
    fn from(t: Tensor) -> Self {
        LearningRate::Tensor(t)
    }
}

impl From<&Tensor> for LearningRate {
    fn from(t: &Tensor) -> Self {
        LearningRate::Tensor(t.clone())
    }
}

/// Arithmetic helpers that stamp every op with the user's location.
pub(crate) struct At<'a>(pub &'a Loc);

impl At<'_> {
    fn bin(&self, b: BinaryOp, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        binary_at(b, x, y, self.0)
    }
    /// `x op c` with `c` a scalar of `x`'s dtype (rounded once, from f64).
    fn sc(&self, b: BinaryOp, x: &Tensor, c: impl Into<f64>) -> Result<Tensor> {
        let k = x.graph.constant_at(c.into(), x.dtype(), "Const", self.0)?;
        binary_at(b, x, &k, self.0)
    }
    /// `x * lr * c`: a constant rate folds into one scalar; a tensor rate (a scalar)
    /// is converted to `x`'s dtype and broadcast.
    fn lr(&self, x: &Tensor, lr: &LearningRate, c: f32) -> Result<Tensor> {
        match lr {
            // the product of two f32 is exact in f64: one rounding, to x's dtype
            LearningRate::Const(r) => self.sc(BinaryOp::Mul, x, f64::from(c) * f64::from(*r)),
            LearningRate::Tensor(t) => {
                let rank = t.ty().map_or(0, |ty| ty.shape.rank());
                if rank != 0 {
                    let message = format!("the learning rate must be a scalar, not {}", t.get_shape());
                    return Err(Error::Invalid { op: t.op_name(), message, loc: self.0.clone() });
                }
                let t = match (t.dtype(), x.dtype()) {
                    (Some(a), Some(b)) if a != b => crate::ops::cast(t, b)?,
                    _ => t.clone(),
                };
                let scaled = if c == 1.0 { t } else { self.sc(BinaryOp::Mul, &t, c)? };
                self.mul(x, &scaled)
            }
        }
    }
    fn add(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        self.bin(BinaryOp::Add, x, y)
    }
    fn sub(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        self.bin(BinaryOp::Sub, x, y)
    }
    fn mul(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        self.bin(BinaryOp::Mul, x, y)
    }
    fn div(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        self.bin(BinaryOp::Div, x, y)
    }
    fn assign(&self, var: &Tensor, v: &Tensor) -> Result<Tensor> {
        assign_at(var, v, self.0)
    }
}

fn slot(var: &Tensor, name: &str, init: Initializer, loc: &Loc) -> Result<Tensor> {
    let g = var.graph();
    let t = var.ty().ok_or_else(|| Error::Invalid {
        op: name.into(),
        message: format!("'{}' is not a variable", var.name()),
        loc: loc.clone(),
    })?;
    let shape = t.shape.as_fixed().unwrap_or_default();
    let full = g.free_var_name(&format!("{}/{name}", var.op_name()));
    g.create_variable(&full, &shape, t.dtype, init, false, loc.clone())
}

/// A TF1 optimizer: per-variable update rules plus the shared machinery of
/// `compute_gradients`, `apply_gradients` and `minimize`.
pub trait Optimizer {
    /// TF's name for the optimizer and its train op (`Adam`).
    fn name(&self) -> &'static str;

    /// Builds shared per-step values before any variable is updated (Adam's `lr_t`).
    fn prepare(&mut self, _graph: &Graph, _dtype: DType, _loc: &Loc) -> Result<()> {
        Ok(())
    }

    /// The assign ops that update `var` with gradient `grad`, creating slots on first use.
    fn apply_one(&mut self, grad: &Tensor, var: &Tensor, loc: &Loc) -> Result<Vec<Tensor>>;

    /// Assigns run once per step after the updates (Adam's beta powers).
    fn finish(&mut self, _graph: &Graph, _loc: &Loc) -> Result<Vec<Tensor>> {
        Ok(Vec::new())
    }

    /// Gradients of `loss` for `var_list` (default: the trainable variables).
    #[track_caller]
    fn compute_gradients(&self, loss: &Tensor, var_list: Option<&[&Tensor]>) -> Result<GradsAndVars> {
        let loc = Loc::caller();
        let vars: Vec<Tensor> = match var_list {
            Some(v) => v.iter().map(|t| (*t).clone()).collect(),
            None => loss.graph().trainable_variables(),
        };
        let refs: Vec<&Tensor> = vars.iter().collect();
        let grads = gradients_at(&[loss], &refs, None, loc)?;
        Ok(grads.into_iter().zip(vars).collect())
    }

    /// One op that applies every gradient (TF `apply_gradients`). Variables without a
    /// gradient are left alone; if none has one, that is an error.
    #[track_caller]
    fn apply_gradients(&mut self, grads_and_vars: &[(Option<Tensor>, Tensor)]) -> Result<Tensor> {
        apply_with_loc(self, grads_and_vars, Loc::caller())
    }

    /// `compute_gradients` then `apply_gradients` (TF `minimize`): the train op.
    #[track_caller]
    fn minimize(&mut self, loss: &Tensor, var_list: Option<&[&Tensor]>) -> Result<Tensor> {
        let loc = Loc::caller();
        let vars: Vec<Tensor> = match var_list {
            Some(v) => v.iter().map(|t| (*t).clone()).collect(),
            None => loss.graph().trainable_variables(),
        };
        let refs: Vec<&Tensor> = vars.iter().collect();
        let grads = gradients_at(&[loss], &refs, None, loc.clone())?;
        let gv: GradsAndVars = grads.into_iter().zip(vars).collect();
        apply_with_loc(self, &gv, loc)
    }
}

/// `apply_gradients` at the user's location.
fn apply_with_loc<O: Optimizer + ?Sized>(opt: &mut O, gv: &[(Option<Tensor>, Tensor)], loc: Loc) -> Result<Tensor> {
    let present: Vec<(&Tensor, &Tensor)> = gv.iter().filter_map(|(g, v)| g.as_ref().map(|g| (g, v))).collect();
    let Some((_, first)) = present.first() else {
        let names: Vec<String> = gv.iter().map(|(_, v)| v.name()).collect();
        return Err(Error::Invalid {
            op: opt.name().into(),
            message: format!("no gradients provided for any variable: {names:?}"),
            loc,
        });
    };
    let graph = first.graph().clone();
    for (g, v) in &present {
        values(opt.name(), &graph, &[g, v], &loc)?;
        if !v.is_variable() {
            return Err(Error::Invalid {
                op: opt.name().into(),
                message: format!("'{}' is not a variable", v.name()),
                loc,
            });
        }
    }
    let dtype = first.dtype().unwrap_or(DType::F32);
    let (scope, scope_name) = graph.name_scope_named(opt.name());
    opt.prepare(&graph, dtype, &loc)?;
    let mut updates = Vec::new();
    for (g, v) in &present {
        let _s = graph.name_scope(&format!("update_{}", v.op_name()));
        updates.extend(opt.apply_one(g, v, &loc)?);
    }
    updates.extend(opt.finish(&graph, &loc)?);
    drop(scope);
    let ids = updates.iter().map(|u| u.value()).collect::<Result<Vec<_>>>()?;
    let v = graph.add_op_exact(OpKind::Group, &ids, &scope_name, &loc)?;
    Ok(graph.tensor(v))
}

/// Plain gradient descent: `var -= lr * grad` (TF `GradientDescentOptimizer`).
#[derive(Clone, Debug)]
pub struct GradientDescentOptimizer {
    /// learning rate
    pub learning_rate: LearningRate,
}

impl GradientDescentOptimizer {
    /// With the given learning rate.
    pub fn new(learning_rate: impl Into<LearningRate>) -> Self {
        GradientDescentOptimizer { learning_rate: learning_rate.into() }
    }
}

impl Optimizer for GradientDescentOptimizer {
    fn name(&self) -> &'static str {
        "GradientDescent"
    }
    fn apply_one(&mut self, grad: &Tensor, var: &Tensor, loc: &Loc) -> Result<Vec<Tensor>> {
        let a = At(loc);
        let step = a.lr(grad, &self.learning_rate, 1.0)?;
        Ok(vec![a.assign(var, &a.sub(var, &step)?)?])
    }
}

/// Momentum (TF `MomentumOptimizer`): `accum = accum * momentum + grad`, then
/// `var -= lr * accum`, or with Nesterov `var -= lr * grad + lr * momentum * accum`.
#[derive(Clone, Debug)]
pub struct MomentumOptimizer {
    /// learning rate
    pub learning_rate: LearningRate,
    /// momentum
    pub momentum: f32,
    /// Nesterov's variant
    pub use_nesterov: bool,
}

impl MomentumOptimizer {
    /// With the given learning rate and momentum (TF has no defaults for either).
    pub fn new(learning_rate: impl Into<LearningRate>, momentum: f32) -> Self {
        MomentumOptimizer { learning_rate: learning_rate.into(), momentum, use_nesterov: false }
    }
    /// Switches Nesterov momentum on or off.
    pub fn nesterov(mut self, on: bool) -> Self {
        self.use_nesterov = on;
        self
    }
}

impl Optimizer for MomentumOptimizer {
    fn name(&self) -> &'static str {
        "Momentum"
    }
    fn apply_one(&mut self, grad: &Tensor, var: &Tensor, loc: &Loc) -> Result<Vec<Tensor>> {
        let a = At(loc);
        let accum = slot(var, "Momentum", Initializer::Zeros, loc)?;
        let accum_t = a.add(&a.sc(BinaryOp::Mul, &accum, self.momentum)?, grad)?;
        let step = if self.use_nesterov {
            // TF1's ApplyMomentum: `grad * lr + accum * momentum * lr`, in that order
            let g = a.lr(grad, &self.learning_rate, 1.0)?;
            let m = a.lr(&a.sc(BinaryOp::Mul, &accum_t, f64::from(self.momentum))?, &self.learning_rate, 1.0)?;
            a.add(&g, &m)?
        } else {
            a.lr(&accum_t, &self.learning_rate, 1.0)?
        };
        Ok(vec![a.assign(&accum, &accum_t)?, a.assign(var, &a.sub(var, &step)?)?])
    }
}

/// Adam with TF1's update (TF `AdamOptimizer`):
/// `lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)`,
/// `m = beta1 m + (1 - beta1) g`, `v = beta2 v + (1 - beta2) g^2`,
/// `var -= lr_t * m / (sqrt(v) + epsilon)` — epsilon outside the bias correction, as TF1.
#[derive(Clone, Debug)]
pub struct AdamOptimizer {
    /// learning rate (TF default 0.001)
    pub learning_rate: LearningRate,
    /// first-moment decay (0.9)
    pub beta1: f32,
    /// second-moment decay (0.999)
    pub beta2: f32,
    /// epsilon (1e-8)
    pub epsilon: f32,
    powers: Option<(Tensor, Tensor)>,
    lr_t: Option<Tensor>,
}

impl Default for AdamOptimizer {
    fn default() -> Self {
        AdamOptimizer::new(0.001)
    }
}

impl AdamOptimizer {
    /// With TF's defaults and the given learning rate.
    pub fn new(learning_rate: impl Into<LearningRate>) -> Self {
        AdamOptimizer {
            learning_rate: learning_rate.into(),
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            powers: None,
            lr_t: None,
        }
    }
    /// Sets beta1 and beta2.
    pub fn betas(mut self, beta1: f32, beta2: f32) -> Self {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }
    /// Sets epsilon.
    pub fn epsilon(mut self, epsilon: f32) -> Self {
        self.epsilon = epsilon;
        self
    }
}

impl Optimizer for AdamOptimizer {
    fn name(&self) -> &'static str {
        "Adam"
    }
    fn prepare(&mut self, graph: &Graph, dtype: DType, loc: &Loc) -> Result<()> {
        if self.powers.is_none() {
            // beta powers live outside any scope, named as TF names them
            // float32 whatever the variables' dtype, as TF1 makes them (from Python
            // floats) and multiplies them at every step
            let mk = |base: &str, v: f32| {
                let name = graph.free_var_name(base);
                graph.create_variable(&name, &[], DType::F32, Initializer::constant(v), false, loc.clone())
            };
            self.powers = Some((mk("beta1_power", self.beta1)?, mk("beta2_power", self.beta2)?));
        }
        let (b1p, b2p) = self.powers.clone().expect("created above");
        let (b1p, b2p) = if dtype == DType::F32 {
            (b1p, b2p)
        } else {
            (crate::ops::cast(&b1p, dtype)?, crate::ops::cast(&b2p, dtype)?)
        };
        let a = At(loc);
        let one = graph.constant_at(1.0f32, Some(dtype), "Const", loc)?;
        let num = unary_at(UnaryOp::Sqrt, &a.sub(&one, &b2p)?, loc)?;
        let lr = a.lr(&num, &self.learning_rate, 1.0)?;
        self.lr_t = Some(a.div(&lr, &a.sub(&one, &b1p)?)?);
        Ok(())
    }
    fn apply_one(&mut self, grad: &Tensor, var: &Tensor, loc: &Loc) -> Result<Vec<Tensor>> {
        let a = At(loc);
        let lr_t = self.lr_t.clone().expect("prepare runs before apply_one");
        let m = slot(var, "Adam", Initializer::Zeros, loc)?;
        let v = slot(var, "Adam_1", Initializer::Zeros, loc)?;
        // the constants are formed in f32, as TF forms them from f32 tensors
        let m_t = a.add(&a.sc(BinaryOp::Mul, &m, self.beta1)?, &a.sc(BinaryOp::Mul, grad, 1.0 - self.beta1)?)?;
        let g2 = a.mul(grad, grad)?;
        let v_t = a.add(&a.sc(BinaryOp::Mul, &v, self.beta2)?, &a.sc(BinaryOp::Mul, &g2, 1.0 - self.beta2)?)?;
        let denom = a.sc(BinaryOp::Add, &unary_at(UnaryOp::Sqrt, &v_t, loc)?, self.epsilon)?;
        let step = a.div(&a.mul(&m_t, &lr_t)?, &denom)?;
        Ok(vec![a.assign(&m, &m_t)?, a.assign(&v, &v_t)?, a.assign(var, &a.sub(var, &step)?)?])
    }
    fn finish(&mut self, _graph: &Graph, loc: &Loc) -> Result<Vec<Tensor>> {
        let a = At(loc);
        let (b1p, b2p) = self.powers.clone().expect("prepare created the powers");
        Ok(vec![
            a.assign(&b1p, &a.sc(BinaryOp::Mul, &b1p, self.beta1)?)?,
            a.assign(&b2p, &a.sc(BinaryOp::Mul, &b2p, self.beta2)?)?,
        ])
    }
}

/// RMSProp with TF1's update and defaults (TF `RMSPropOptimizer`): `ms` starts at 1,
/// `ms = decay ms + (1 - decay) g^2`, `mom = momentum mom + lr g / sqrt(ms + epsilon)`,
/// `var -= mom`.
#[derive(Clone, Debug)]
pub struct RMSPropOptimizer {
    /// learning rate
    pub learning_rate: LearningRate,
    /// decay of the mean square (0.9)
    pub decay: f32,
    /// momentum (0.0)
    pub momentum: f32,
    /// epsilon (1e-10)
    pub epsilon: f32,
}

impl RMSPropOptimizer {
    /// With TF1's defaults and the given learning rate.
    pub fn new(learning_rate: impl Into<LearningRate>) -> Self {
        RMSPropOptimizer { learning_rate: learning_rate.into(), decay: 0.9, momentum: 0.0, epsilon: 1e-10 }
    }
    /// Sets the decay.
    pub fn decay(mut self, decay: f32) -> Self {
        self.decay = decay;
        self
    }
    /// Sets the momentum.
    pub fn momentum(mut self, momentum: f32) -> Self {
        self.momentum = momentum;
        self
    }
    /// Sets epsilon.
    pub fn epsilon(mut self, epsilon: f32) -> Self {
        self.epsilon = epsilon;
        self
    }
}

impl Optimizer for RMSPropOptimizer {
    fn name(&self) -> &'static str {
        "RMSProp"
    }
    fn apply_one(&mut self, grad: &Tensor, var: &Tensor, loc: &Loc) -> Result<Vec<Tensor>> {
        let a = At(loc);
        let ms = slot(var, "RMSProp", Initializer::Ones, loc)?;
        let mom = slot(var, "RMSProp_1", Initializer::Zeros, loc)?;
        let g2 = a.mul(grad, grad)?;
        let ms_t = a.add(&a.sc(BinaryOp::Mul, &ms, self.decay)?, &a.sc(BinaryOp::Mul, &g2, 1.0 - self.decay)?)?;
        let root = unary_at(UnaryOp::Sqrt, &a.sc(BinaryOp::Add, &ms_t, self.epsilon)?, loc)?;
        let step = a.div(&a.lr(grad, &self.learning_rate, 1.0)?, &root)?;
        let mom_t = a.add(&a.sc(BinaryOp::Mul, &mom, self.momentum)?, &step)?;
        Ok(vec![a.assign(&ms, &ms_t)?, a.assign(&mom, &mom_t)?, a.assign(var, &a.sub(var, &mom_t)?)?])
    }
}

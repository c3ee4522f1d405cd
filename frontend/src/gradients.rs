//! `gradients` and `stop_gradient`: the frontend face of the autodiff pass.

use crate::ops::values;
use crate::{Error, Graph, Result, Tensor};
use kiln_ir::{Loc, OpKind};

/// Symbolic derivatives of `sum(ys)` with respect to each of `xs` (TF `gradients`).
/// An entry is `None` where `x` does not influence any `y` through differentiable
/// ops. The gradient ops are ordinary IR, named under `gradients/`.
#[track_caller]
pub fn gradients(ys: &[&Tensor], xs: &[&Tensor]) -> Result<Vec<Option<Tensor>>> {
    gradients_at(ys, xs, None, Loc::caller())
}

/// [`gradients`] with explicit seeds `grad_ys`, one per `y` and of its type.
#[track_caller]
pub fn gradients_with(ys: &[&Tensor], xs: &[&Tensor], grad_ys: &[&Tensor]) -> Result<Vec<Option<Tensor>>> {
    gradients_at(ys, xs, Some(grad_ys), Loc::caller())
}

pub(crate) fn gradients_at(
    ys: &[&Tensor],
    xs: &[&Tensor],
    grad_ys: Option<&[&Tensor]>,
    loc: Loc,
) -> Result<Vec<Option<Tensor>>> {
    let Some(first) = ys.first() else {
        return Err(Error::Invalid { op: "gradients".into(), message: "needs at least one y".into(), loc });
    };
    let g = first.graph.clone();
    let yv = values("gradients", &g, ys, &loc)?;
    let xv = values("gradients", &g, xs, &loc)?;
    let gv = match grad_ys {
        Some(gs) if gs.len() != ys.len() => {
            let message = format!("{} grad_ys for {} ys", gs.len(), ys.len());
            return Err(Error::Invalid { op: "gradients".into(), message, loc });
        }
        Some(gs) => Some(values("gradients", &g, gs, &loc)?),
        None => None,
    };
    let grads = {
        let mut inner = g.lock();
        if let Some(message) = inner.controls.check_differentiable(&inner.module, &yv, &xv) {
            return Err(Error::Invalid { op: "gradients".into(), message, loc });
        }
        let prefix = {
            let scoped = inner.scoped("gradients");
            inner.unique_name(&scoped)
        };
        let before = inner.module.ops.len();
        let r = kiln_passes::autodiff::gradients(
            std::sync::Arc::make_mut(&mut inner.module),
            &yv,
            gv.as_deref(),
            &xv,
            &prefix,
            Some(loc.clone()),
        );
        // keep the frontend's name table in step with what the pass added
        let added: Vec<String> = inner.module.ops[before..].iter().map(|o| o.name.clone()).collect();
        for n in added {
            inner.reserve_name(&n);
        }
        r.map_err(|e| Error::Invalid { op: e.op, message: e.message, loc: loc.clone() })?
    };
    Ok(grads.into_iter().map(|v| v.map(|v| g.tensor(v))).collect())
}

/// Identity whose gradient is zero (TF `stop_gradient`).
#[track_caller]
pub fn stop_gradient(x: &Tensor) -> Result<Tensor> {
    stop_gradient_at(x, &Loc::caller())
}

pub(crate) fn stop_gradient_at(x: &Tensor, loc: &Loc) -> Result<Tensor> {
    let g = x.graph.clone();
    let vs = values("StopGradient", &g, &[x], loc)?;
    let v = g.add_op(OpKind::StopGradient, &vs, None, "StopGradient", loc)?;
    Ok(g.tensor(v))
}

impl Graph {
    /// Names of every op, for tests and dumps.
    pub fn op_names(&self) -> Vec<String> {
        self.module().ops.iter().map(|o| o.name.clone()).collect()
    }
}

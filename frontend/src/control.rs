//! `control_dependencies` (TF1's `tf.control_dependencies`) on top of kiln's run
//! semantics, where every read sees the value from before the run and assignments land
//! at its end in op order.
//!
//! Two things make an op built inside `with tf.control_dependencies(deps)` behave as in
//! TF1:
//! - **it runs the deps**: the op records them as its control inputs, and a session
//!   adds the control inputs of everything a fetch reaches to the fetch set
//!   ([`Graph::with_control_inputs`]);
//! - **it sees their assignments**: an operand that reads a variable a dep assigns is
//!   replaced by the assigned value (the last such assignment in op order, the one that
//!   lands). That is the value TF1's read, ordered after the deps, returns.
//!
//! A replaced read is a value computed from the variable, not the variable, so
//! differentiating through it with respect to that variable would be silently wrong:
//! [`crate::gradients`] refuses it.

use crate::graph::Inner;
use crate::ops::values;
use crate::{Graph, Result, ScopeGuard, Tensor};
use kiln_ir::{Loc, Module, OpKind, ValueId, VarId};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// One open `control_dependencies` block, with everything the enclosing ones hold.
#[derive(Clone, Debug, Default)]
pub(crate) struct Frame {
    /// The ops every op built in the block must run after.
    deps: Arc<[ValueId]>,
    /// For each variable the deps assign: the assignment that lands (the last in op
    /// order) and its value.
    assigned: HashMap<VarId, (ValueId, ValueId)>,
}

/// The graph's control-dependency state.
#[derive(Debug, Default)]
pub(crate) struct Controls {
    frames: Vec<Frame>,
    /// Ops built inside a block: the ops that run whenever they do.
    inputs: HashMap<ValueId, Arc<[ValueId]>>,
    /// Values that stand in for a variable's read inside a block, with that variable.
    replaced_reads: HashMap<ValueId, VarId>,
    /// Fetch sets with their control inputs, as computed. Never stale: ops never
    /// change once built, and a new op is no ancestor of an old one.
    closures: HashMap<Vec<ValueId>, Vec<ValueId>>,
}

/// Fetch sets [`Controls::closures`] remembers before it starts afresh.
const MAX_CLOSURES: usize = 256;

impl Controls {
    pub(crate) fn depth(&self) -> usize {
        self.frames.len()
    }

    pub(crate) fn truncate(&mut self, depth: usize) {
        self.frames.truncate(depth);
    }

    /// `operands` with every read of a variable the open block's deps assign replaced
    /// by the assigned value.
    pub(crate) fn redirect(&mut self, m: &Module, operands: &[ValueId]) -> Vec<ValueId> {
        let Some(frame) = self.frames.last() else { return operands.to_vec() };
        let mut out = operands.to_vec();
        for o in &mut out {
            if let OpKind::Read(var) = m.op(*o).kind {
                if let Some(&(_, v)) = frame.assigned.get(&var) {
                    *o = v;
                    self.replaced_reads.insert(v, var);
                }
            }
        }
        out
    }

    /// Records the open block's deps as the control inputs of `op`, just built.
    pub(crate) fn record(&mut self, m: &Module, op: ValueId) {
        let Some(frame) = self.frames.last() else { return };
        // a variable's read is the variable itself, not an op of the block
        if frame.deps.is_empty() || matches!(m.op(op).kind, OpKind::Read(_)) {
            return;
        }
        self.inputs.insert(op, frame.deps.clone());
    }

    /// Fails, naming the variable, if some `ys` reach a value that replaced a read of a
    /// variable among `xs`: the gradient through it would not be the variable's.
    pub(crate) fn check_differentiable(&self, m: &Module, ys: &[ValueId], xs: &[ValueId]) -> Option<String> {
        if self.replaced_reads.is_empty() {
            return None;
        }
        let vars: HashSet<VarId> =
            xs.iter().filter_map(|&x| if let OpKind::Read(v) = m.op(x).kind { Some(v) } else { None }).collect();
        let mut seen = HashSet::new();
        let mut stack = ys.to_vec();
        while let Some(v) = stack.pop() {
            if !seen.insert(v) {
                continue;
            }
            if let Some(var) = self.replaced_reads.get(&v).filter(|var| vars.contains(var)) {
                let name = m.vars.get(var.index()).map_or_else(|| format!("{var:?}"), |d| d.name.clone());
                return Some(format!(
                    "a y reads variable '{name}' inside a control_dependencies block that assigns it; \
                     kiln cannot differentiate with respect to '{name}' through that read"
                ));
            }
            stack.extend(m.op(v).operands.iter().copied());
        }
        None
    }
}

impl Graph {
    /// Opens a block whose ops run after `deps` and see their assignments (TF
    /// `control_dependencies(deps)`); it closes when the guard drops. Blocks nest: an
    /// inner block adds to the outer one's deps. An empty `deps` clears them, as
    /// TF's `control_dependencies(None)` does.
    #[track_caller]
    pub fn control_dependencies(&self, deps: &[&Tensor]) -> Result<ScopeGuard> {
        let loc = Loc::caller();
        let ids = values("control_dependencies", self, deps, &loc)?;
        let guard = self.scope_guard();
        let mut g = self.lock();
        let frame = if ids.is_empty() {
            Frame::default()
        } else {
            let mut frame = g.controls.frames.last().cloned().unwrap_or_default();
            let mut all: Vec<ValueId> = frame.deps.to_vec();
            all.extend(ids.iter().filter(|v| !frame.deps.contains(v)));
            frame.deps = all.into();
            for (var, assign, v) in assignments(&g, &ids) {
                let e = frame.assigned.entry(var).or_insert((assign, v));
                // assignments land in op order: the last one wins
                if assign > e.0 {
                    *e = (assign, v);
                }
            }
            frame
        };
        g.controls.frames.push(frame);
        drop(g);
        Ok(guard)
    }

    /// An op that does nothing but run the open block's deps, if any (TF `no_op`).
    #[track_caller]
    pub fn no_op(&self) -> Result<Tensor> {
        let v = self.add_op(OpKind::Group, &[], None, "NoOp", &Loc::caller())?;
        Ok(self.tensor(v))
    }

    /// `fetches` followed by the control inputs everything they reach must run, each
    /// once. Sessions run this set; a graph without `control_dependencies` blocks
    /// gives `fetches` back as they are.
    pub fn with_control_inputs(&self, fetches: &[ValueId]) -> Vec<ValueId> {
        let mut g = self.lock();
        if g.controls.inputs.is_empty() {
            return fetches.to_vec();
        }
        if let Some(out) = g.controls.closures.get(fetches) {
            return out.clone();
        }
        let out = closure(&g, fetches);
        let memo = &mut g.controls.closures;
        if memo.len() >= MAX_CLOSURES {
            memo.clear();
        }
        memo.insert(fetches.to_vec(), out.clone());
        out
    }
}

/// `fetches` followed by the control inputs of everything they reach, transitively.
fn closure(g: &Inner, fetches: &[ValueId]) -> Vec<ValueId> {
    let m = &g.module;
    let mut out = fetches.to_vec();
    let mut seen: HashSet<ValueId> = HashSet::new();
    let mut stack: Vec<ValueId> = fetches.to_vec();
    while let Some(v) = stack.pop() {
        if v.index() >= m.ops.len() || !seen.insert(v) {
            continue;
        }
        stack.extend(m.op(v).operands.iter().copied());
        for &d in g.controls.inputs.get(&v).iter().flat_map(|deps| deps.iter()) {
            if !out.contains(&d) {
                out.push(d);
            }
            stack.push(d);
        }
    }
    out
}

/// `x` as a new op (TF `identity`): built in a block, it runs the deps when fetched,
/// which `x` itself, built before, does not. A same-shape reshape: a view, no copy.
#[track_caller]
pub fn identity(x: &Tensor) -> Result<Tensor> {
    let loc = Loc::caller();
    let g = x.graph().clone();
    let vs = values("Identity", &g, &[x], &loc)?;
    let ty = crate::ops::data_ty("Identity", x, &loc)?;
    let v = g.add_op(OpKind::Reshape, &vs, Some(ty), "Identity", &loc)?;
    Ok(g.tensor(v))
}

/// The (variable, assign op, assigned value) triples running `deps` performs: their
/// assignments, the members of their groups, and what their own control inputs run.
fn assignments(g: &Inner, deps: &[ValueId]) -> Vec<(VarId, ValueId, ValueId)> {
    let m = &g.module;
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = deps.to_vec();
    while let Some(v) = stack.pop() {
        if !seen.insert(v) {
            continue;
        }
        let op = m.op(v);
        match op.kind {
            OpKind::Assign(var) => out.extend(op.operands.first().map(|&x| (var, v, x))),
            OpKind::Group => stack.extend(op.operands.iter().copied()),
            _ => {}
        }
        if let Some(more) = g.controls.inputs.get(&v) {
            stack.extend(more.iter().copied());
        }
    }
    out
}

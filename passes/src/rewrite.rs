//! Shared rewriting utilities: compacting a module and composing renumberings.

use kiln_ir::{Module, ValueId};

/// Keeps the ops marked `keep` (in order), renumbering operands and roots. Returns the
/// old-to-new map. Kept ops must only use kept values.
pub fn compact(m: &mut Module, roots: &mut [ValueId], keep: &[bool]) -> Vec<Option<ValueId>> {
    let mut map = vec![None; m.ops.len()];
    let mut ops = Vec::with_capacity(m.ops.len());
    for (i, op) in std::mem::take(&mut m.ops).into_iter().enumerate() {
        if keep[i] {
            map[i] = Some(ValueId(ops.len() as u32));
            ops.push(op);
        }
    }
    for op in ops.iter_mut() {
        for u in op.operands.iter_mut() {
            *u = map[u.index()].expect("kept ops use kept values");
        }
    }
    for r in roots.iter_mut() {
        *r = map[r.index()].expect("roots are kept");
    }
    m.ops = ops;
    map
}

/// Composes two renumberings: `first` then `second`.
pub fn compose(first: &[Option<ValueId>], second: &[Option<ValueId>]) -> Vec<Option<ValueId>> {
    first.iter().map(|x| x.and_then(|v| second[v.index()])).collect()
}

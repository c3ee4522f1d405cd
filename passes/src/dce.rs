//! Dead-code elimination: drops every op the roots do not reach.

use crate::rewrite::compact;
use crate::PassError;
use kiln_ir::{Module, ValueId};

/// Removes ops unreachable from `roots`; returns the old-to-new value map.
pub fn run(m: &mut Module, roots: &mut [ValueId]) -> Result<Vec<Option<ValueId>>, PassError> {
    let mut keep = vec![false; m.ops.len()];
    let mut stack = roots.to_vec();
    while let Some(v) = stack.pop() {
        if !std::mem::replace(&mut keep[v.index()], true) {
            stack.extend(m.op(v).operands.iter().copied());
        }
    }
    Ok(compact(m, roots, &keep))
}

//! Common-subexpression elimination: an op equal to an earlier one (same kind,
//! attributes, operands and type) is replaced by it. Parameters, assigns, groups and
//! random ops are never merged.

use crate::rewrite::replace_uses;
use crate::PassError;
use kiln_ir::{Module, OpKind, ValueId};
use std::collections::HashMap;

/// Merges duplicates (the dead copies are left for DCE). Returns whether anything changed.
pub fn run(m: &mut Module, roots: &mut [ValueId]) -> Result<bool, PassError> {
    let mut seen: HashMap<(&'static str, Vec<ValueId>), Vec<ValueId>> = HashMap::new();
    let mut changed = false;
    for i in 0..m.ops.len() {
        let v = ValueId(i as u32);
        let op = &m.ops[i];
        if matches!(op.kind, OpKind::Parameter | OpKind::Assign(_) | OpKind::Group | OpKind::Random { .. }) {
            continue;
        }
        // the key narrows the search; equality is decided by the derived PartialEq
        let key = (op.kind.mnemonic(), op.operands.clone());
        let same = seen.get(&key).and_then(|c| {
            c.iter().copied().find(|&u| {
                let o = &m.ops[u.index()];
                o.kind == op.kind && o.operands == op.operands && o.ty == op.ty
            })
        });
        match same {
            Some(u) => {
                replace_uses(m, roots, v, u);
                changed = true;
            }
            None => seen.entry(key).or_default().push(v),
        }
    }
    Ok(changed)
}

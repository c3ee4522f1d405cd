//! Common-subexpression elimination: an op equal to an earlier one (same kind,
//! attributes, operands and type) is replaced by it. Parameters, assigns, groups and
//! random ops are never merged.
//!
//! One forward pass: each op's operands are first renamed to the survivors chosen so
//! far, so a duplicate's uses are redirected as they are met (linear in the module).

use crate::PassError;
use kiln_ir::{Literal, Module, OpKind, ValueId};
use rustc_hash::{FxHashMap, FxHasher};
use std::hash::{Hash, Hasher};

/// Merges duplicates (the dead copies are left for DCE). Returns whether anything changed.
pub fn run(m: &mut Module, roots: &mut [ValueId]) -> Result<bool, PassError> {
    // by a hash of what two equal ops share (mnemonic, attributes, operands, type):
    // no key is built per op, and candidates are compared in full
    let mut seen: FxHashMap<u64, Vec<ValueId>> = FxHashMap::with_capacity_and_hasher(m.ops.len(), Default::default());
    let mut survivor: Vec<ValueId> = (0..m.ops.len() as u32).map(ValueId).collect();
    let mut changed = false;
    for i in 0..m.ops.len() {
        for u in m.ops[i].operands.iter_mut() {
            *u = survivor[u.index()];
        }
        let op = &m.ops[i];
        if matches!(op.kind, OpKind::Parameter | OpKind::Assign(_) | OpKind::Group | OpKind::Random { .. }) {
            continue;
        }
        let key = key_hash(op);
        let bucket = seen.entry(key).or_default();
        let same = |u: &ValueId| {
            let o = &m.ops[u.index()];
            o.kind == op.kind && o.operands == op.operands && o.ty == op.ty
        };
        match bucket.iter().copied().find(same) {
            Some(u) => {
                survivor[i] = u;
                changed = true;
            }
            None => bucket.push(ValueId(i as u32)),
        }
    }
    for r in roots.iter_mut() {
        *r = survivor[r.index()];
    }
    Ok(changed)
}

/// A hash of what equal ops share: mnemonic, attributes (a literal by its bits),
/// operands and type.
fn key_hash(op: &kiln_ir::Op) -> u64 {
    let mut h = FxHasher::default();
    op.kind.mnemonic().hash(&mut h);
    op.operands.hash(&mut h);
    op.ty.hash(&mut h);
    match &op.kind {
        OpKind::Constant(lit) => match lit {
            Literal::F32(d) => d.iter().for_each(|x| x.to_bits().hash(&mut h)),
            Literal::F64(d) => d.iter().for_each(|x| x.to_bits().hash(&mut h)),
            Literal::I32(d) => d.hash(&mut h),
            Literal::I64(d) => d.hash(&mut h),
            Literal::Bool(d) => d.hash(&mut h),
            Literal::U8(d) => d.hash(&mut h),
            Literal::I8(d) => d.hash(&mut h),
            Literal::U16(d) => d.hash(&mut h),
            Literal::I16(d) => d.hash(&mut h),
        },
        OpKind::Read(v) | OpKind::Assign(v) => v.hash(&mut h),
        // every other attribute, through the one list the printer and parser use
        k => k.attr_text().hash(&mut h),
    }
    h.finish()
}

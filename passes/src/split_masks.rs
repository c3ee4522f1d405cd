//! Gives every consumer of a comparison its own copy. A comparison is a boolean mask
//! the JIT computes inside the kernel of the select that reads it and never stores; a
//! mask shared by selects in different kernels (CSE merges identical comparisons) would
//! otherwise have to be stored, which kernels do not do, and the whole graph would fall
//! back to the interpreter. Recomputing a comparison costs one instruction.

use crate::PassError;
use kiln_ir::{Module, Op, OpKind, ValueId};
use std::collections::{HashMap, HashSet};

/// Splits shared comparisons. Returns the old-to-new value map (ops are renumbered:
/// each copy is inserted just before its consumer), or `None` if nothing changed.
pub fn run(m: &mut Module, roots: &mut [ValueId]) -> Result<Option<Vec<Option<ValueId>>>, PassError> {
    // consumers of each comparison, in op order (an op using it twice counts once)
    let mut users: HashMap<ValueId, Vec<ValueId>> = HashMap::new();
    for v in m.values() {
        let mut seen = HashSet::new();
        for &u in &m.op(v).operands {
            if matches!(m.op(u).kind, OpKind::Compare(_)) && seen.insert(u) {
                users.entry(u).or_default().push(v);
            }
        }
    }
    // (consumer -> comparisons it needs a copy of); the first consumer keeps the original
    let mut copies: HashMap<ValueId, Vec<ValueId>> = HashMap::new();
    for (&c, us) in &users {
        for &u in us.iter().skip(1) {
            copies.entry(u).or_default().push(c);
        }
    }
    if copies.is_empty() {
        return Ok(None);
    }
    let mut names: HashSet<String> = m.ops.iter().map(|o| o.name.clone()).collect();
    let mut map: Vec<Option<ValueId>> = vec![None; m.ops.len()];
    let mut ops: Vec<Op> = Vec::with_capacity(m.ops.len() + copies.len());
    for (i, op) in std::mem::take(&mut m.ops).into_iter().enumerate() {
        let v = ValueId(i as u32);
        let mut op = op;
        for u in op.operands.iter_mut() {
            *u = map[u.index()].expect("operands come first");
        }
        if let Some(cs) = copies.get(&v) {
            let mut cs = cs.clone();
            cs.sort();
            for c in cs {
                let new_c = map[c.index()].expect("the comparison comes first");
                let mut copy = ops[new_c.index()].clone();
                let mut k = 1;
                while names.contains(&format!("{}/copy_{k}", copy.name)) {
                    k += 1;
                }
                copy.name = format!("{}/copy_{k}", copy.name);
                names.insert(copy.name.clone());
                let id = ValueId(ops.len() as u32);
                ops.push(copy);
                for u in op.operands.iter_mut() {
                    if *u == new_c {
                        *u = id;
                    }
                }
            }
        }
        map[i] = Some(ValueId(ops.len() as u32));
        ops.push(op);
    }
    m.ops = ops;
    for r in roots.iter_mut() {
        *r = map[r.index()].expect("every op is kept");
    }
    Ok(Some(map))
}

//! Computing the ABI: each step's slots, in the order codegen and binding both read
//! them through the call's views.

use super::Abi;
use super::{CallAbi, CallKind, ErrorSite, MatMulKind, Port, Slot, Width, GEMM_FIELDS};
use crate::schedule::{LoopNest, Node, Schedule, Step};

/// Appends one nest's slots (nest number `k`) and its error sites.
fn nest_slots(n: &LoopNest, k: u32, slots: &mut Vec<Slot>, errors: &mut Vec<ErrorSite>) {
    let r = n.space.len() as u32;
    slots.extend((0..r).map(|dim| Slot::Extent { nest: k, dim }));
    for (i, _) in n.inputs.iter().enumerate() {
        let port = Port::In(i as u32);
        slots.push(Slot::Ptr { nest: k, port, width: Width::of(n.input_type(i)) });
        slots.extend((0..r).map(|dim| Slot::Stride { nest: k, port, dim }));
    }
    for (j, o) in n.outputs.iter().enumerate() {
        let port = Port::Out(j as u32);
        slots.push(Slot::Ptr { nest: k, port, width: Width::of(n.types[o.node]) });
        slots.extend((0..r).map(|dim| Slot::Stride { nest: k, port, dim }));
        slots.push(Slot::OutLen { nest: k, output: j as u32 });
    }
    slots.extend((0..n.scalars.len() as u32).map(|index| Slot::Scalar { nest: k, index }));
    for (j, o) in n.outputs.iter().enumerate() {
        if o.mean_of.is_some() {
            slots.push(Slot::MeanScale { nest: k, output: j as u32 });
        }
    }
    let mut site = 0u32;
    for (node, x) in n.nodes.iter().enumerate() {
        match x {
            Node::Gather { .. } => {
                slots.push(Slot::RowStride { nest: k, site });
                slots.push(Slot::Rows { nest: k, site });
                errors.push(ErrorSite::Gather { nest: k, node: node as u32, site });
                site += 1;
            }
            Node::CheckIndex(_, bound) => {
                errors.push(ErrorSite::CheckIndex { nest: k, node: node as u32, bound: *bound })
            }
            _ => {}
        }
    }
    for (j, o) in n.outputs.iter().enumerate() {
        if o.scatter.is_some() {
            slots.push(Slot::RowStride { nest: k, site });
            slots.push(Slot::Rows { nest: k, site });
            errors.push(ErrorSite::Scatter { nest: k, output: j as u32, site });
            site += 1;
        }
    }
    if n.fallible() {
        slots.push(Slot::ErrorTag { nest: k });
        slots.push(Slot::ErrorIndex { nest: k });
    }
}

/// The call of a loop kernel's nests.
pub fn loop_call(nests: &[LoopNest], deferred: bool, splits: bool) -> CallAbi {
    let (mut slots, mut errors) = (Vec::new(), Vec::new());
    for (k, n) in nests.iter().enumerate() {
        nest_slots(n, k as u32, &mut slots, &mut errors);
    }
    CallAbi::new(CallKind::Loop { deferred }, splits, slots, errors)
}

/// The products whose GEMM applies its fused epilogue in registers: their epilogue
/// kernels are deferred. Found once per schedule.
pub(super) fn in_register_epilogues(s: &Schedule) -> std::collections::HashSet<kiln_ir::ValueId> {
    s.steps
        .iter()
        .filter_map(|x| match x {
            Step::MatMul(mm) if mm.epilogue.is_some() && MatMulKind::of(mm) == MatMulKind::RowsOfB => Some(mm.out),
            _ => None,
        })
        .collect()
}

/// The call of one step; `fused`: [`in_register_epilogues`] of its schedule.
pub(super) fn call_of(st: &Step, fused: &std::collections::HashSet<kiln_ir::ValueId>) -> CallAbi {
    match st {
        Step::Loop(k) => {
            let deferred = k.epilogue_of.is_some_and(|v| fused.contains(&v));
            loop_call(&k.nests, deferred, crate::schedule::may_split(k))
        }
        Step::Host(_) => CallAbi::new(CallKind::Host, false, Vec::new(), Vec::new()),
        Step::MatMul(mm) => {
            let kind = MatMulKind::of(mm);
            let mut slots: Vec<Slot> = GEMM_FIELDS.iter().map(|&f| Slot::Gemm(f)).collect();
            let mut errors = Vec::new();
            // a micro-kernel with rows of b applies its fused epilogue in registers
            if let (MatMulKind::RowsOfB, Some(e)) = (kind, &mm.epilogue) {
                nest_slots(&e.nest, 0, &mut slots, &mut errors);
            }
            CallAbi::new(CallKind::MatMul(kind), false, slots, errors)
        }
    }
}

/// Computes every step's call (the ABI stage).
pub fn run(s: &Schedule) -> Abi {
    let fused = in_register_epilogues(s);
    Abi { calls: s.steps.iter().map(|st| call_of(st, &fused)).collect() }
}

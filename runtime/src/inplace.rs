//! In-place variable updates: a value assigned to a variable is computed straight into
//! the variable's storage when nothing can tell the difference, so an optimizer step
//! writes each parameter and slot once instead of into the arena and then copying.
//!
//! A value qualifies when
//! - it is an f32 intermediate written only by loop nests (a kernel's, or a GEMM
//!   epilogue's run in registers or as its own kernel), and assigned to one variable
//!   that is assigned nothing else;
//! - the variable is read in this schedule (so its storage exists before the run), and
//!   no read of it is fetched;
//! - every read of the variable happens before the first writing step, or in the
//!   writing nest itself at exactly the element it writes (same offset and strides):
//!   each point then loads its old value before storing the new one, whatever order
//!   Cranelift gives loads of other points;
//! - no interpreter step runs from the first writing step on, so a run that fails
//!   leaves the variables as they were.

use kiln_ir::{ValueId, VarId};
use kiln_passes::schedule::{Access, BufKind, LoopNest, OutMode, Schedule, Step};
use std::collections::HashMap;

/// How a step touches buffers: the nests it runs (reads and writes), plus other reads.
fn nests_and_reads<'a>(st: &'a Step, s: &Schedule) -> (Vec<&'a LoopNest>, Vec<ValueId>) {
    match st {
        Step::Loop(k) => (k.nests.iter().collect(), Vec::new()),
        Step::MatMul(mm) => (mm.epilogue.iter().map(|e| &e.nest).collect(), vec![mm.a.buf, mm.b.buf]),
        Step::Host(h) => (Vec::new(), s.module.op(h.value).operands.clone()),
    }
}

/// Whether `a` reads exactly the elements an output with `strides` writes.
fn same_element(a: &Access, strides: &[kiln_passes::schedule::Stride]) -> bool {
    a.offset.iter().all(|(k, _)| *k == 0) && a.strides == strides
}

/// The buffers (indices into `s.buffers`) to place in their variable's storage.
pub(crate) fn plan(s: &Schedule, buf_index: &HashMap<ValueId, usize>) -> Vec<(usize, VarId)> {
    let mut out = Vec::new();
    for &(var, value) in &s.assigns {
        if s.assigns.iter().filter(|(v, x)| *v == var || *x == value).count() != 1 {
            continue;
        }
        let Some(&i) = buf_index.get(&value) else { continue };
        if !matches!(s.buffers[i].kind, BufKind::Temp) || s.buffers[i].dtype != kiln_ir::DType::F32 {
            continue;
        }
        let reads: Vec<ValueId> = s.buffers.iter().filter(|b| b.kind == BufKind::Var(var)).map(|b| b.value).collect();
        if reads.is_empty() || reads.iter().any(|r| s.roots.contains(r)) {
            continue;
        }
        // the steps writing `value`, and whether each writes it only from a nest
        let writers: Vec<usize> = s
            .steps
            .iter()
            .enumerate()
            .filter(|(_, st)| match st {
                Step::Loop(k) => k.nests.iter().any(|n| n.outputs.iter().any(|o| o.value == value)),
                Step::MatMul(mm) => {
                    mm.out == value
                        || mm.epilogue.as_ref().is_some_and(|e| e.nest.outputs.iter().any(|o| o.value == value))
                }
                Step::Host(h) => h.value == value,
            })
            .map(|(t, _)| t)
            .collect();
        let Some(&first) = writers.first() else { continue };
        let ok = s.steps.iter().enumerate().all(|(t, st)| {
            if t >= first && matches!(st, Step::Host(_)) {
                return false;
            }
            let (nests, other) = nests_and_reads(st, s);
            if let Step::MatMul(mm) = st {
                if mm.out == value {
                    return false;
                }
            }
            if t < first {
                return true;
            }
            if other.iter().any(|b| reads.contains(b)) {
                return false;
            }
            nests.iter().all(|n| {
                let writes = n.outputs.iter().find(|o| o.value == value);
                match writes {
                    Some(o) => {
                        o.mode == OutMode::Store
                            && n.inputs.iter().all(|a| !reads.contains(&a.buf) || same_element(a, &o.strides))
                    }
                    None => !n.inputs.iter().any(|a| reads.contains(&a.buf)),
                }
            })
        });
        if ok {
            out.push((i, var));
        }
    }
    out
}

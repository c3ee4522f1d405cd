//! Check mode (`KILN_CHECK=1`): every buffer the JIT computed is compared with the
//! interpreter's value of the same IR op, in step order, so the first wrong kernel and
//! op are named.

use crate::exec::Executable;
use crate::{Error, Result, TensorValue};
use kiln_ir::Loc;
use kiln_passes::schedule::Step;

/// Absolute plus relative tolerance: the JIT's polynomials are within a few ulp.
fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= 1e-4 + 1e-3 * b.abs() || (a.is_nan() && b.is_nan()) || a == b
}

pub(crate) fn compare(
    exec: &Executable,
    vals: &[Option<TensorValue>],
    vars: &[Option<TensorValue>],
    loc: &Loc,
) -> Result<()> {
    for (si, step) in exec.schedule.steps.iter().enumerate() {
        let (name, outs) = match step {
            Step::Loop(k) => {
                (k.name.clone(), k.nests.iter().flat_map(|n| n.outputs.iter().map(|o| o.value)).collect::<Vec<_>>())
            }
            // the interpreter's own steps agree with it by construction
            Step::Host(_) => continue,
            Step::MatMul(mm) => {
                // a product only the fused epilogue read is never stored
                let mut outs = if mm.epilogue.as_ref().is_some_and(|e| !e.store_out) { vec![] } else { vec![mm.out] };
                outs.extend(mm.epilogue.iter().flat_map(|e| e.nest.outputs.iter().map(|o| o.value)));
                (format!("matmul.{si}"), outs)
            }
        };
        for v in outs {
            let (Some(got), Some(Some(TensorValue::F32(want)))) = (exec.value(v, vars), vals.get(v.index())) else {
                continue;
            };
            let want = want.as_slice().unwrap_or(&[]);
            let mut worst: Option<(usize, f32)> = None;
            for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
                if !close(a, b) {
                    let e = (a - b).abs();
                    if worst.is_none_or(|w| e > w.1 || e.is_nan()) {
                        worst = Some((i, e));
                    }
                }
            }
            if let Some((index, max_err)) = worst {
                return Err(Error::CheckFailed {
                    kernel: name,
                    op: exec.module().op(v).name.clone(),
                    max_err,
                    index,
                    got: got[index],
                    want: want[index],
                    loc: loc.clone(),
                });
            }
        }
    }
    Ok(())
}

//! Check mode (`KILN_CHECK=1`): every buffer the JIT computed is compared with the
//! interpreter's value of the same IR op, in step order, so the first wrong kernel and
//! op are named.

use crate::exec::Executable;
use crate::{Error, Result, TensorValue};
use kiln_ir::Loc;
use kiln_passes::schedule::Step;

/// Absolute plus relative tolerance for floats: the JIT's polynomials are within a
/// few ulp, and sums run in another order.
fn close(a: f64, b: f64, atol: f64, rtol: f64) -> bool {
    a == b || (a - b).abs() <= atol + rtol * b.abs() || (a.is_nan() && b.is_nan())
}

/// The first element where `got` differs from `want` beyond what its dtype allows
/// (floats within tolerance, integers and bools exactly): (index, |difference|, got,
/// want), at the largest float difference.
fn worst(got: &TensorValue, want: &TensorValue) -> Option<(usize, f64, String, String)> {
    fn floats<T: Copy + Into<f64> + std::fmt::Display>(
        a: &ndarray::ArrayD<T>,
        b: &ndarray::ArrayD<T>,
        atol: f64,
        rtol: f64,
    ) -> Option<(usize, f64, String, String)> {
        let mut w: Option<(usize, f64)> = None;
        for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
            let (x, y) = (x.into(), y.into());
            if !close(x, y, atol, rtol) {
                let e = (x - y).abs();
                if w.is_none_or(|w| e > w.1 || e.is_nan()) {
                    w = Some((i, e));
                }
            }
        }
        w.map(|(i, e)| {
            (
                i,
                e,
                a.iter().nth(i).map_or_else(String::new, |v| v.to_string()),
                b.iter().nth(i).map_or_else(String::new, |v| v.to_string()),
            )
        })
    }
    fn exact<T: PartialEq + std::fmt::Display>(
        a: &ndarray::ArrayD<T>,
        b: &ndarray::ArrayD<T>,
    ) -> Option<(usize, f64, String, String)> {
        let (i, (x, y)) = a.iter().zip(b).enumerate().find(|(_, (x, y))| x != y)?;
        Some((i, f64::NAN, x.to_string(), y.to_string()))
    }
    if got.shape() != want.shape() {
        return Some((0, f64::NAN, format!("shape {:?}", got.shape()), format!("shape {:?}", want.shape())));
    }
    match (got, want) {
        (TensorValue::F32(a), TensorValue::F32(b)) => floats(a, b, 1e-4, 1e-3),
        (TensorValue::F64(a), TensorValue::F64(b)) => floats(a, b, 1e-12, 1e-9),
        (TensorValue::I32(a), TensorValue::I32(b)) => exact(a, b),
        (TensorValue::I64(a), TensorValue::I64(b)) => exact(a, b),
        (TensorValue::Bool(a), TensorValue::Bool(b)) => exact(a, b),
        (TensorValue::U8(a), TensorValue::U8(b)) => exact(a, b),
        (TensorValue::I8(a), TensorValue::I8(b)) => exact(a, b),
        (TensorValue::U16(a), TensorValue::U16(b)) => exact(a, b),
        (TensorValue::I16(a), TensorValue::I16(b)) => exact(a, b),
        (TensorValue::Unit, TensorValue::Unit) => None,
        _ => Some((0, f64::NAN, format!("{:?}", got.dtype()), format!("{:?}", want.dtype()))),
    }
}

/// Compares every buffer a kernel or GEMM wrote, of every dtype, with the
/// interpreter's value of its op (`vals`, by value index), in step order.
pub(crate) fn compare(
    exec: &Executable,
    vals: &[Option<TensorValue>],
    vars: &[Option<TensorValue>],
    loc: &Loc,
) -> Result<()> {
    for (si, step) in exec.schedule.steps.iter().enumerate() {
        let outs: Vec<_> = match step {
            Step::Loop(k) => k.nests.iter().flat_map(|n| n.outputs.iter().map(|o| o.value)).collect(),
            // the interpreter's own steps agree with it by construction
            Step::Host(_) => continue,
            Step::MatMul(mm) => {
                // a product only the fused epilogue read is never stored
                let mut outs = if mm.epilogue.as_ref().is_some_and(|e| !e.store_out) { vec![] } else { vec![mm.out] };
                outs.extend(mm.epilogue.iter().flat_map(|e| e.nest.outputs.iter().map(|o| o.value)));
                outs
            }
        };
        for v in outs {
            let (Some(got), Some(Some(want))) = (exec.value_of(v, vars), vals.get(v.index())) else {
                continue;
            };
            if let Some((index, max_err, got, want)) = worst(&got, want) {
                return Err(Error::CheckFailed {
                    kernel: exec.schedule.step_name(si),
                    op: exec.module().op(v).name.clone(),
                    diff: Box::new(crate::error::CheckDiff { max_err, index, got, want }),
                    loc: loc.clone(),
                });
            }
        }
    }
    Ok(())
}

//! Checks an [`Abi`] against its schedule: one call per step, the call the step implies
//! (so a parsed or edited ABI cannot disagree with the kernels' bodies), every slot
//! named once, every pointer as wide as the buffer it addresses, splits only where the
//! schedule allows them.

use super::{call_of, in_register_epilogues, Abi, CallAbi, CallKind, Width, GEMM_WIDTH};
use crate::schedule::BufId;
use crate::schedule::{Schedule, Step};
use kiln_ir::ValueId;
use std::collections::HashMap;

/// An ABI that does not match its schedule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("abi: {step}: {message}")]
pub struct AbiError {
    /// The step's name.
    pub step: String,
    /// What is wrong.
    pub message: String,
}

/// Verifies `abi` against `s`.
pub fn verify(s: &Schedule, abi: &Abi) -> Result<(), AbiError> {
    if abi.calls.len() != s.steps.len() {
        return Err(AbiError {
            step: "<schedule>".into(),
            message: format!("{} calls for {} steps", abi.calls.len(), s.steps.len()),
        });
    }
    let fused = in_register_epilogues(s);
    let bufs = s.buffer_index();
    for (i, (st, c)) in s.steps.iter().zip(&abi.calls).enumerate() {
        let fail = |message: String| AbiError { step: s.step_name(i), message };
        check_call(s, &bufs, st, c).map_err(fail)?;
        let want = call_of(st, &fused);
        if *c != want {
            return Err(fail(format!(
                "its call differs from the one the schedule implies ({} slots, {} expected)",
                c.slots.len(),
                want.slots.len()
            )));
        }
    }
    Ok(())
}

/// Checks one call on its own: no slot twice, the views complete, widths that match
/// the buffers.
fn check_call(s: &Schedule, bufs: &HashMap<ValueId, BufId>, st: &Step, c: &CallAbi) -> Result<(), String> {
    let dtype_of = |v: ValueId| bufs.get(&v).map(|b| s.buffers[b.index()].dtype);
    let mut seen = std::collections::HashSet::new();
    for slot in &c.slots {
        if !seen.insert(*slot) {
            return Err(format!("slot {slot:?} appears twice"));
        }
    }
    match (st, c.kind) {
        (Step::Loop(k), CallKind::Loop { .. }) => {
            if c.nests.len() != k.nests.len() {
                return Err(format!("{} nest layouts for {} nests", c.nests.len(), k.nests.len()));
            }
            for (n, l) in k.nests.iter().zip(&c.nests) {
                if l.dims.len() != n.space.len()
                    || l.inputs.len() != n.inputs.len()
                    || l.outputs.len() != n.outputs.len()
                {
                    return Err("a nest layout does not cover its nest".into());
                }
                for (acc, a) in n.inputs.iter().zip(&l.inputs) {
                    let dtype = dtype_of(acc.buf).ok_or("an input has no buffer")?;
                    if a.width != Some(Width::of(dtype)) {
                        return Err(format!("an input of {dtype} is addressed as {:?}", a.width));
                    }
                }
                for (o, a) in n.outputs.iter().zip(&l.outputs) {
                    let dtype = dtype_of(o.value).ok_or("an output has no buffer")?;
                    if a.width != Some(Width::of(dtype)) {
                        return Err(format!("an output of {dtype} is addressed as {:?}", a.width));
                    }
                }
            }
            if c.splits != crate::schedule::may_split(k) {
                return Err("splits where the schedule does not allow it, or the reverse".into());
            }
        }
        (Step::MatMul(mm), CallKind::MatMul(_)) => {
            if c.gemm.is_none() {
                return Err("a GEMM call without a complete GEMM block".into());
            }
            for v in [mm.a.buf, mm.b.buf, mm.out] {
                let dtype = dtype_of(v).ok_or("a GEMM operand has no buffer")?;
                if Width::of(dtype) != GEMM_WIDTH {
                    return Err(format!("a GEMM operand of {dtype}"));
                }
            }
        }
        (Step::Host(_), CallKind::Host) if c.slots.is_empty() => {}
        _ => return Err(format!("a {:?} call for this step", c.kind)),
    }
    if let Some(e) = c.errors.iter().find(|e| e.nest() as usize >= c.nests.len()) {
        return Err(format!("error site {e:?} names a nest the call does not have"));
    }
    if c.splits && c.split.is_none() {
        return Err("a split call without a row restriction".into());
    }
    Ok(())
}

//! Long reductions in a cascade: the vector accumulators restart every leaf of
//! [`LEAF`] elements, leaf sums add into a second level that restarts every [`FAN`]
//! leaves, and those into a third. A float32 sum of n terms then errs by about
//! `(LEAF/4 + FAN + n/(LEAF*FAN)) ulp` instead of `n/4`, which keeps it within TF1's
//! own float32 spread (Eigen sums in a tree of 1024-element leaves), at the cost of
//! two branches per leaf.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{F32X4, I64};
use cranelift_codegen::ir::{BlockArg, InstBuilder, Value};
use cranelift_frontend::{FunctionBuilder, Variable};
use kiln_ir::ReduceOp;

use crate::emit::{combine, identity};
use crate::math;

/// Elements per leaf: 256 vector steps.
pub(crate) const LEAF: i64 = 1024;
/// Leaves per second-level block.
pub(crate) const FAN: i64 = 256;

/// Runs `body(i)` for `i` in `(start..end).step_by(4)` (`end - start` a multiple of 4),
/// with `accs` (F32X4 variables holding their identity) accumulated in a cascade; on
/// return they hold the total.
pub(crate) fn emit(
    b: &mut FunctionBuilder,
    accs: &[(Variable, ReduceOp)],
    start: Value,
    end: Value,
    body: &mut dyn FnMut(&mut FunctionBuilder, Value),
) {
    let declare = |b: &mut FunctionBuilder| -> Vec<Variable> {
        accs.iter()
            .map(|&(_, r)| {
                let v = b.declare_var(F32X4);
                let id = math::splat_const(b, F32X4, identity(r));
                b.def_var(v, id);
                v
            })
            .collect()
    };
    let reset = |b: &mut FunctionBuilder, vs: &[Variable]| {
        for (&v, &(_, r)) in vs.iter().zip(accs) {
            let id = math::splat_const(b, F32X4, identity(r));
            b.def_var(v, id);
        }
    };
    let fold = |b: &mut FunctionBuilder, into: &[Variable], from: &[Variable]| {
        for ((&t, &f), &(_, r)) in into.iter().zip(from).zip(accs) {
            let (x, y) = (b.use_var(t), b.use_var(f));
            let s = combine(b, F32X4, r, x, y);
            b.def_var(t, s);
        }
    };
    let level0: Vec<Variable> = accs.iter().map(|&(v, _)| v).collect();
    let top = declare(b);
    let mid = declare(b);
    chunks(b, start, end, LEAF * FAN, &mut |b, s, e| {
        reset(b, &mid);
        chunks(b, s, e, LEAF, &mut |b, s, e| {
            reset(b, &level0);
            crate::emit::for_loop(b, s, e, 4, body);
            fold(b, &mid, &level0);
        });
        fold(b, &top, &mid);
    });
    for (&v, &t) in level0.iter().zip(&top) {
        let x = b.use_var(t);
        b.def_var(v, x);
    }
}

/// `for s in (start..end).step_by(step)` with `e = min(s + step, end)`.
fn chunks(
    b: &mut FunctionBuilder,
    start: Value,
    end: Value,
    step: i64,
    body: &mut dyn FnMut(&mut FunctionBuilder, Value, Value),
) {
    let header = b.create_block();
    let s = b.append_block_param(header, I64);
    let body_block = b.create_block();
    let exit = b.create_block();
    b.ins().jump(header, &[BlockArg::Value(start)]);
    b.switch_to_block(header);
    let go = b.ins().icmp(IntCC::SignedLessThan, s, end);
    b.ins().brif(go, body_block, &[], exit, &[]);
    b.switch_to_block(body_block);
    let next = b.ins().iadd_imm_s(s, step);
    let short = b.ins().icmp(IntCC::SignedLessThan, next, end);
    let e = b.ins().select(short, next, end);
    body(b, s, e);
    b.ins().jump(header, &[BlockArg::Value(next)]);
    b.switch_to_block(exit);
}

//! Small-matrix GEMM micro-kernels in CLIF: `c = a x b` with `c` row-major and `a`, `b`
//! read through run-time strides. When `b`'s rows are contiguous the kernel keeps a
//! 4-row x 4-column block of `c` in F32X4 accumulators over a k loop (register
//! blocking, no full unrolling: see the Cranelift probe); when `b` is a transposed
//! contiguous matrix it computes F32X4 dot products along k; otherwise it runs scalar.
//!
//! Argument block (i64 slots): `[a, b, c, m, k, n, rsa, csa, rsb, csb]`, strides in
//! elements.

use crate::emit::{for_loop, ro, rw};
use crate::layout::NestLayout;
use cranelift_codegen::ir::types::*;
use cranelift_codegen::ir::{FuncRef, InstBuilder, Type, Value};
use cranelift_frontend::{FunctionBuilder, Variable};
use kiln_passes::schedule::{LoopNest, OutMode};

/// A fused elementwise epilogue: its nest over `[m, n]`, its argument slots, and which
/// input is the product.
pub struct Epi<'a> {
    /// The consumer kernel's body.
    pub nest: &'a LoopNest,
    /// Its argument slots (after the GEMM's ten).
    pub layout: &'a NestLayout,
    /// The input standing for the product.
    pub acc: usize,
    /// `powf` for `pow` nodes.
    pub powf: FuncRef,
    /// Whether the product itself is stored as well.
    pub store_out: bool,
}

/// Where an epilogue finds its input pointers and row strides, output pointers and
/// run-time scalars in the argument block. They are loaded at each tile, not once at
/// entry: loaded once (pure loads hoist to the entry) they would stay live across the
/// k loops and push its pointers out of registers.
struct EpiState<'a> {
    epi: &'a Epi<'a>,
    args: Value,
}

impl EpiState<'_> {
    /// Argument slot `i`, loaded here (an ordinary read-only load stays in place).
    fn slot(&self, b: &mut FunctionBuilder, ty: Type, i: usize) -> Value {
        let flags = cranelift_codegen::ir::MemFlagsData::new().with_notrap().with_readonly();
        b.ins().load(ty, flags, self.args, (i * 8) as i32)
    }
}

/// Applies the epilogue to `acc` (row `i`, columns from `j`, `ty` lanes) and stores its
/// outputs (contiguous `[m, n]`).
fn apply_epi(b: &mut FunctionBuilder, e: &EpiState, n: Value, ty: Type, i: Value, j: Value, acc: Value) {
    let l = e.epi.layout;
    let scalars: Vec<Value> = (0..e.epi.nest.scalars.len()).map(|k| e.slot(b, F32, l.scalars + k)).collect();
    let mut load = |b: &mut FunctionBuilder, idx: usize| -> Value {
        if idx == e.epi.acc {
            return acc;
        }
        let (ptr, stride) = (e.slot(b, I64, l.inputs[idx]), e.slot(b, I64, l.inputs[idx] + 1));
        let row = b.ins().imul(i, stride);
        let unit_col = e.epi.nest.inputs[idx].strides[1].known() == Some(1);
        let el = if unit_col { b.ins().iadd(row, j) } else { row };
        let off = b.ins().ishl_imm_s(el, 2);
        let p = b.ins().iadd(ptr, off);
        if unit_col || ty == F32 {
            b.ins().load(ty, ro(), p, 0)
        } else {
            let x = b.ins().load(F32, ro(), p, 0);
            b.ins().splat(ty, x)
        }
    };
    let vals = crate::emit::eval(b, ty, &e.epi.nest.nodes, &mut load, &scalars, e.epi.powf);
    let row = b.ins().imul(i, n);
    let el = b.ins().iadd(row, j);
    let off = b.ins().ishl_imm_s(el, 2);
    let col_off = b.ins().ishl_imm_s(j, 2);
    for (k, o) in e.epi.nest.outputs.iter().enumerate() {
        let ptr = e.slot(b, I64, l.outputs[k]);
        match o.mode {
            OutMode::Store => {
                let p = b.ins().iadd(ptr, off);
                b.ins().store(rw(), vals[o.node], p, 0);
            }
            // a sum over the rows (fusion admits no other reduction): add this row
            // of the tile into the column sums, which start at zero
            OutMode::Reduce(_) => {
                let p = b.ins().iadd(ptr, col_off);
                let sum = b.ins().load(ty, rw(), p, 0);
                let sum = b.ins().fadd(sum, vals[o.node]);
                b.ins().store(rw(), sum, p, 0);
            }
        }
    }
}

/// Zeroes the epilogue's column sums (`n` floats each) before any tile adds to them.
fn zero_sums(b: &mut FunctionBuilder, e: &EpiState, n: Value, zero: Value) {
    for (k, o) in e.epi.nest.outputs.iter().enumerate() {
        if let OutMode::Reduce(_) = o.mode {
            let ptr = e.slot(b, I64, e.epi.layout.outputs[k]);
            let z = b.ins().f32const(0.0);
            for_loop(b, zero, n, 1, &mut |b, j| {
                let off = b.ins().ishl_imm_s(j, 2);
                let p = b.ins().iadd(ptr, off);
                b.ins().store(rw(), z, p, 0);
            });
        }
    }
}

/// Which inner strategy a matmul kernel uses, decided from the structure of the strides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatMulKind {
    /// `b` has unit column stride: vectorize over output columns.
    RowsOfB,
    /// `a` has unit column stride and `b` unit row stride: vectorize along k.
    DotAlongK,
    /// Anything else: scalar.
    Scalar,
}

/// k steps per iteration of a register block's k loop. Two, not four: the egraph places
/// pure loads next to their first use, so x4 keeps eight `b` vectors live beside eight
/// accumulators and spills (measured on the sine step: x2 5.3 us, x4 5.9 us, x1 6.5 us).
const K_UNROLL: usize = 2;

/// What the schedule fixes at compile time. Known strides become immediate offsets;
/// known extents prune the loops that cannot run (a 20-column GEMM needs no scalar
/// column tail), which shortens the code and its compile time.
#[derive(Clone, Copy, Debug, Default)]
pub struct Known {
    /// `a`'s row stride.
    pub rsa: Option<i64>,
    /// `a`'s column stride.
    pub csa: Option<i64>,
    /// `b`'s row stride.
    pub rsb: Option<i64>,
    /// Rows of the output.
    pub m: Option<i64>,
    /// Inner extent.
    pub k: Option<i64>,
    /// Columns of the output.
    pub n: Option<i64>,
}

struct Args {
    known: Known,
    a: Value,
    b: Value,
    c: Value,
    m: Value,
    k: Value,
    n: Value,
    rsa: Value,
    csa: Value,
    rsb: Value,
    csb: Value,
}

/// A loop bound and its value when known at compile time.
#[derive(Clone, Copy)]
struct Bound {
    v: Value,
    k: Option<i64>,
}

/// `x & mask` as a bound, folded when `x` is known.
fn masked(b: &mut FunctionBuilder, x: Bound, mask: i64) -> Bound {
    match x.k {
        Some(k) => Bound { v: b.ins().iconst(I64, k & mask), k: Some(k & mask) },
        None => Bound { v: b.ins().band_imm_s(x.v, mask), k: None },
    }
}

/// `for_loop`, but emits nothing for a range known to be empty and straight-line code
/// for a range known to run once.
fn pruned_loop(
    b: &mut FunctionBuilder,
    start: Bound,
    end: Bound,
    step: i64,
    body: &mut dyn FnMut(&mut FunctionBuilder, Value),
) {
    match (start.k, end.k) {
        (Some(s), Some(e)) if e - s < step => {}
        (Some(s), Some(e)) if e - s < 2 * step => body(b, start.v),
        _ => for_loop(b, start.v, end.v, step, body),
    }
}

/// Byte address `base + (i*s + j*t) * 4`.
fn addr(b: &mut FunctionBuilder, base: Value, i: Value, s: Value, j: Value, t: Value) -> Value {
    let x = b.ins().imul(i, s);
    let y = b.ins().imul(j, t);
    let e = b.ins().iadd(x, y);
    let off = b.ins().ishl_imm_s(e, 2);
    b.ins().iadd(base, off)
}

/// Emits the body of a matmul kernel whose argument block pointer is `args`.
/// `known` holds what the schedule fixes at compile time.
pub fn emit_matmul(b: &mut FunctionBuilder, args: Value, kind: MatMulKind, known: Known, epi: Option<&Epi>) {
    let slot = |b: &mut FunctionBuilder, i: i32| b.ins().load(I64, ro(), args, i * 8);
    let a = Args {
        known,
        a: slot(b, 0),
        b: slot(b, 1),
        c: slot(b, 2),
        m: slot(b, 3),
        k: slot(b, 4),
        n: slot(b, 5),
        rsa: slot(b, 6),
        csa: slot(b, 7),
        rsb: slot(b, 8),
        csb: slot(b, 9),
    };
    let zero = b.ins().iconst(I64, 0);
    let e = epi.map(|epi| EpiState { epi, args });
    if let Some(e) = &e {
        zero_sums(b, e, a.n, zero);
    }
    match kind {
        MatMulKind::RowsOfB => rows_of_b(b, &a, zero, e.as_ref()),
        MatMulKind::DotAlongK => dot_along_k(b, &a, zero),
        MatMulKind::Scalar => {
            let (m, n) = (a.m, a.n);
            for_loop(b, zero, m, 1, &mut |b, i| {
                for_loop(b, zero, n, 1, &mut |b, j| scalar_dot(b, &a, i, j, zero, None));
            });
        }
    }
}

/// `c[i,j] = sum_p a[i,p] b[p,j]`, scalar.
fn scalar_dot(b: &mut FunctionBuilder, a: &Args, i: Value, j: Value, zero: Value, e: Option<&EpiState>) {
    let acc = b.declare_var(F32);
    let z = b.ins().f32const(0.0);
    b.def_var(acc, z);
    for_loop(b, zero, a.k, 1, &mut |b, p| {
        let pa = addr(b, a.a, i, a.rsa, p, a.csa);
        let pb = addr(b, a.b, p, a.rsb, j, a.csb);
        let x = b.ins().load(F32, ro(), pa, 0);
        let y = b.ins().load(F32, ro(), pb, 0);
        let s = b.use_var(acc);
        let s = b.ins().fma(x, y, s);
        b.def_var(acc, s);
    });
    let one = b.ins().iconst(I64, 1);
    let pc = addr(b, a.c, i, a.n, j, one);
    let s = b.use_var(acc);
    if e.is_none_or(|e| e.epi.store_out) {
        b.ins().store(rw(), s, pc, 0);
    }
    if let Some(e) = e {
        apply_epi(b, e, a.n, F32, i, j, s);
    }
}

fn rows_of_b(b: &mut FunctionBuilder, a: &Args, zero: Value, e: Option<&EpiState>) {
    let z = Bound { v: zero, k: Some(0) };
    let (m, n) = (Bound { v: a.m, k: a.known.m }, Bound { v: a.n, k: a.known.n });
    let m4 = masked(b, m, !3);
    let n8 = masked(b, n, !7);
    let n4 = masked(b, n, !3);
    // blocks of 4 rows x 8 (then 4) columns, then single rows
    pruned_loop(b, z, m4, 4, &mut |b, i0| {
        let rows: Vec<Value> = (0..4).map(|r| b.ins().iadd_imm_s(i0, r)).collect();
        pruned_loop(b, z, n8, 8, &mut |b, j| block(b, a, &rows, j, 2, e));
        pruned_loop(b, n8, n4, 4, &mut |b, j| block(b, a, &rows, j, 1, e));
        pruned_loop(b, n4, n, 1, &mut |b, j| {
            for &i in &rows {
                scalar_dot(b, a, i, j, zero, e);
            }
        });
    });
    pruned_loop(b, m4, m, 1, &mut |b, i| {
        pruned_loop(b, z, n8, 8, &mut |b, j| block(b, a, &[i], j, 2, e));
        pruned_loop(b, n8, n4, 4, &mut |b, j| block(b, a, &[i], j, 1, e));
        pruned_loop(b, n4, n, 1, &mut |b, j| scalar_dot(b, a, i, j, zero, e));
    });
}

/// `rows.len()` rows x `4 * vecs` columns of `c` from column `j`: accumulators stay in
/// registers over the k loop, whose pointers advance by their strides.
fn block(b: &mut FunctionBuilder, a: &Args, rows: &[Value], j: Value, vecs: usize, e: Option<&EpiState>) {
    let accs: Vec<Vec<_>> = rows
        .iter()
        .map(|_| {
            (0..vecs)
                .map(|_| {
                    let v = b.declare_var(F32X4);
                    let z = b.ins().f32const(0.0);
                    let z = b.ins().splat(F32X4, z);
                    b.def_var(v, z);
                    v
                })
                .collect()
        })
        .collect();
    let csa4 = b.ins().ishl_imm_s(a.csa, 2);
    let rsb4 = b.ins().ishl_imm_s(a.rsb, 2);
    let csa4_unrolled = b.ins().imul_imm_s(csa4, K_UNROLL as i64);
    let rsb4_unrolled = b.ins().imul_imm_s(rsb4, K_UNROLL as i64);
    // a pointer per row of the block, or one pointer and immediate row offsets when a's
    // row stride is known (fewer loop-carried registers)
    let row_ptr = |b: &mut FunctionBuilder, i: Value| {
        let v = b.declare_var(I64);
        let off = b.ins().imul(i, a.rsa);
        let off = b.ins().ishl_imm_s(off, 2);
        let p = b.ins().iadd(a.a, off);
        b.def_var(v, p);
        v
    };
    let pas: Vec<(Variable, i32)> = match a.known.rsa.filter(|rs| rs.abs() < 1 << 20) {
        Some(rs) => {
            let v = row_ptr(b, rows[0]);
            (0..rows.len()).map(|r| (v, (r as i64 * rs * 4) as i32)).collect()
        }
        None => rows.iter().map(|&i| (row_ptr(b, i), 0)).collect(),
    };
    let mut a_vars: Vec<Variable> = pas.iter().map(|p| p.0).collect();
    a_vars.dedup();
    let pb = b.declare_var(I64);
    let jo = b.ins().ishl_imm_s(j, 2);
    let p0 = b.ins().iadd(a.b, jo);
    b.def_var(pb, p0);
    let zero = b.ins().iconst(I64, 0);
    // byte offset of k step `u` within an unrolled group: an immediate when the stride
    // is known at compile time, else `u * stride` computed once outside the loop
    let step_offsets = |b: &mut FunctionBuilder, known: Option<i64>, s4: Value| -> Vec<(i32, Option<Value>)> {
        (0..K_UNROLL as i64)
            .map(|u| match known {
                Some(s) => ((u * s * 4) as i32, None),
                None if u == 0 => (0, None),
                None => (0, Some(b.ins().imul_imm_s(s4, u))),
            })
            .collect()
    };
    let a_off = step_offsets(b, a.known.csa, csa4);
    let b_off = step_offsets(b, a.known.rsb, rsb4);
    let kstep = |b: &mut FunctionBuilder, u: usize| {
        let at = |b: &mut FunctionBuilder, p: Value, (imm, v): (i32, Option<Value>)| match v {
            Some(v) => (b.ins().iadd(p, v), imm),
            None => (p, imm),
        };
        let bp = b.use_var(pb);
        let (bp, bo) = at(b, bp, b_off[u]);
        let bvs: Vec<Value> = (0..vecs).map(|v| b.ins().load(F32X4, ro(), bp, bo + (16 * v) as i32)).collect();
        for (r, &(pa, row_off)) in pas.iter().enumerate() {
            let ap = b.use_var(pa);
            let (ap, ao) = at(b, ap, a_off[u]);
            let x = b.ins().load(F32, ro(), ap, ao + row_off);
            let xs = b.ins().splat(F32X4, x);
            for (v, &bv) in bvs.iter().enumerate() {
                let s = b.use_var(accs[r][v]);
                let s = b.ins().fma(xs, bv, s);
                b.def_var(accs[r][v], s);
            }
        }
    };
    // pointer bumps: immediates when the strides are known (a register each otherwise,
    // which the allocator tends to reload from the argument block inside the loop)
    let bump = |b: &mut FunctionBuilder, p: Value, known: Option<i64>, by1: Value, by_n: Value, steps: i64| match known
    {
        Some(s) => b.ins().iadd_imm_s(p, s * 4 * steps),
        None => b.ins().iadd(p, if steps == 1 { by1 } else { by_n }),
    };
    let advance = |b: &mut FunctionBuilder, steps: i64| {
        for pa in &a_vars {
            let ap = b.use_var(*pa);
            let next = bump(b, ap, a.known.csa, csa4, csa4_unrolled, steps);
            b.def_var(*pa, next);
        }
        let bp = b.use_var(pb);
        let next = bump(b, bp, a.known.rsb, rsb4, rsb4_unrolled, steps);
        b.def_var(pb, next);
    };
    // k unrolled by K_UNROLL (fewer pointer bumps and loop-carried moves per FMA), then
    // the remaining steps one at a time
    let k = Bound { v: a.k, k: a.known.k };
    let k_main = masked(b, k, -(K_UNROLL as i64));
    let z = Bound { v: zero, k: Some(0) };
    pruned_loop(b, z, k_main, K_UNROLL as i64, &mut |b, _p| {
        for u in 0..K_UNROLL {
            kstep(b, u);
        }
        advance(b, K_UNROLL as i64);
    });
    pruned_loop(b, k_main, k, 1, &mut |b, _p| {
        kstep(b, 0);
        advance(b, 1);
    });
    let one = b.ins().iconst(I64, 1);
    for (r, &i) in rows.iter().enumerate() {
        let pc = addr(b, a.c, i, a.n, j, one);
        for (v, acc) in accs[r].iter().enumerate() {
            let s = b.use_var(*acc);
            if e.is_none_or(|e| e.epi.store_out) {
                b.ins().store(rw(), s, pc, (16 * v) as i32);
            }
            if let Some(e) = e {
                let jv = b.ins().iadd_imm_s(j, 4 * v as i64);
                apply_epi(b, e, a.n, F32X4, i, jv, s);
            }
        }
    }
}

fn dot_along_k(b: &mut FunctionBuilder, a: &Args, zero: Value) {
    let z = Bound { v: zero, k: Some(0) };
    let (m, n) = (Bound { v: a.m, k: a.known.m }, Bound { v: a.n, k: a.known.n });
    let m4 = masked(b, m, !3);
    pruned_loop(b, z, m4, 4, &mut |b, i0| {
        let rows: Vec<Value> = (0..4).map(|r| b.ins().iadd_imm_s(i0, r)).collect();
        pruned_loop(b, z, n, 1, &mut |b, j| dots(b, a, &rows, j, zero));
    });
    pruned_loop(b, m4, m, 1, &mut |b, i| {
        pruned_loop(b, z, n, 1, &mut |b, j| dots(b, a, &[i], j, zero));
    });
}

/// `c[i, j]` for each row `i` in `rows`: F32X4 dot products along k sharing `b`'s loads.
fn dots(b: &mut FunctionBuilder, a: &Args, rows: &[Value], j: Value, zero: Value) {
    let one = b.ins().iconst(I64, 1);
    let k = Bound { v: a.k, k: a.known.k };
    let k4 = masked(b, k, !3);
    let z = Bound { v: zero, k: Some(0) };
    let accs: Vec<_> = rows
        .iter()
        .map(|_| {
            let v = b.declare_var(F32X4);
            let z = b.ins().f32const(0.0);
            let zv = b.ins().splat(F32X4, z);
            b.def_var(v, zv);
            v
        })
        .collect();
    pruned_loop(b, z, k4, 4, &mut |b, p| {
        let pb = addr(b, a.b, p, one, j, a.csb);
        let y = b.ins().load(F32X4, ro(), pb, 0);
        for (r, &i) in rows.iter().enumerate() {
            let pa = addr(b, a.a, i, a.rsa, p, one);
            let x = b.ins().load(F32X4, ro(), pa, 0);
            let s = b.use_var(accs[r]);
            let s = b.ins().fma(x, y, s);
            b.def_var(accs[r], s);
        }
    });
    for (r, &i) in rows.iter().enumerate() {
        let v = b.use_var(accs[r]);
        let mut s = b.ins().extractlane(v, 0);
        for lane in 1..4u8 {
            let e = b.ins().extractlane(v, lane);
            s = b.ins().fadd(s, e);
        }
        let tail = b.declare_var(F32);
        b.def_var(tail, s);
        pruned_loop(b, k4, k, 1, &mut |b, p| {
            let pa = addr(b, a.a, i, a.rsa, p, one);
            let pb = addr(b, a.b, p, one, j, a.csb);
            let x = b.ins().load(F32, ro(), pa, 0);
            let y = b.ins().load(F32, ro(), pb, 0);
            let t = b.use_var(tail);
            let t = b.ins().fma(x, y, t);
            b.def_var(tail, t);
        });
        let pc = addr(b, a.c, i, a.n, j, one);
        let t = b.use_var(tail);
        b.ins().store(rw(), t, pc, 0);
    }
}

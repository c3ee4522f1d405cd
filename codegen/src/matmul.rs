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
use cranelift_frontend::FunctionBuilder;
use kiln_passes::schedule::LoopNest;

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
}

/// Values an epilogue reads at every tile: input pointers and row strides, output
/// pointers, run-time scalars.
struct EpiState<'a> {
    epi: &'a Epi<'a>,
    in_ptr: Vec<Value>,
    in_row: Vec<Value>,
    out_ptr: Vec<Value>,
    scalars: Vec<Value>,
}

fn epi_state<'a>(b: &mut FunctionBuilder, args: Value, epi: &'a Epi<'a>) -> EpiState<'a> {
    let slot = |b: &mut FunctionBuilder, i: usize| b.ins().load(I64, ro(), args, (i * 8) as i32);
    let in_ptr = epi.layout.inputs.iter().map(|&at| slot(b, at)).collect();
    let in_row = epi.layout.inputs.iter().map(|&at| slot(b, at + 1)).collect();
    let out_ptr = epi.layout.outputs.iter().map(|&at| slot(b, at)).collect();
    let scalars = (0..epi.nest.scalars.len())
        .map(|i| b.ins().load(F32, ro(), args, ((epi.layout.scalars + i) * 8) as i32))
        .collect();
    EpiState { epi, in_ptr, in_row, out_ptr, scalars }
}

/// Applies the epilogue to `acc` (row `i`, columns from `j`, `ty` lanes) and stores its
/// outputs (contiguous `[m, n]`).
fn apply_epi(b: &mut FunctionBuilder, e: &EpiState, n: Value, ty: Type, i: Value, j: Value, acc: Value) {
    let mut load = |b: &mut FunctionBuilder, idx: usize| -> Value {
        if idx == e.epi.acc {
            return acc;
        }
        let row = b.ins().imul(i, e.in_row[idx]);
        let unit_col = e.epi.nest.inputs[idx].strides[1].known() == Some(1);
        let el = if unit_col { b.ins().iadd(row, j) } else { row };
        let off = b.ins().ishl_imm_s(el, 2);
        let p = b.ins().iadd(e.in_ptr[idx], off);
        if unit_col || ty == F32 {
            b.ins().load(ty, ro(), p, 0)
        } else {
            let x = b.ins().load(F32, ro(), p, 0);
            b.ins().splat(ty, x)
        }
    };
    let vals = crate::emit::eval(b, ty, &e.epi.nest.nodes, &mut load, &e.scalars, e.epi.powf);
    let row = b.ins().imul(i, n);
    let el = b.ins().iadd(row, j);
    let off = b.ins().ishl_imm_s(el, 2);
    for (o, &ptr) in e.epi.nest.outputs.iter().zip(&e.out_ptr) {
        let p = b.ins().iadd(ptr, off);
        b.ins().store(rw(), vals[o.node], p, 0);
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

struct Args {
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

/// Byte address `base + (i*s + j*t) * 4`.
fn addr(b: &mut FunctionBuilder, base: Value, i: Value, s: Value, j: Value, t: Value) -> Value {
    let x = b.ins().imul(i, s);
    let y = b.ins().imul(j, t);
    let e = b.ins().iadd(x, y);
    let off = b.ins().ishl_imm_s(e, 2);
    b.ins().iadd(base, off)
}

/// Emits the body of a matmul kernel whose argument block pointer is `args`.
pub fn emit_matmul(b: &mut FunctionBuilder, args: Value, kind: MatMulKind, epi: Option<&Epi>) {
    let slot = |b: &mut FunctionBuilder, i: i32| b.ins().load(I64, ro(), args, i * 8);
    let a = Args {
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
    let e = epi.map(|epi| epi_state(b, args, epi));
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
    b.ins().store(rw(), s, pc, 0);
    if let Some(e) = e {
        apply_epi(b, e, a.n, F32, i, j, s);
    }
}

fn rows_of_b(b: &mut FunctionBuilder, a: &Args, zero: Value, e: Option<&EpiState>) {
    let m4 = b.ins().band_imm_s(a.m, !3);
    let n8 = b.ins().band_imm_s(a.n, !7);
    let n4 = b.ins().band_imm_s(a.n, !3);
    // blocks of 4 rows x 8 (then 4) columns, then single rows
    for_loop(b, zero, m4, 4, &mut |b, i0| {
        let rows: Vec<Value> = (0..4).map(|r| b.ins().iadd_imm_s(i0, r)).collect();
        for_loop(b, zero, n8, 8, &mut |b, j| block(b, a, &rows, j, 2, e));
        for_loop(b, n8, n4, 4, &mut |b, j| block(b, a, &rows, j, 1, e));
        for_loop(b, n4, a.n, 1, &mut |b, j| {
            for &i in &rows {
                scalar_dot(b, a, i, j, zero, e);
            }
        });
    });
    for_loop(b, m4, a.m, 1, &mut |b, i| {
        for_loop(b, zero, n8, 8, &mut |b, j| block(b, a, &[i], j, 2, e));
        for_loop(b, n8, n4, 4, &mut |b, j| block(b, a, &[i], j, 1, e));
        for_loop(b, n4, a.n, 1, &mut |b, j| scalar_dot(b, a, i, j, zero, e));
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
    let pas: Vec<_> = rows
        .iter()
        .map(|&i| {
            let v = b.declare_var(I64);
            let off = b.ins().imul(i, a.rsa);
            let off = b.ins().ishl_imm_s(off, 2);
            let p = b.ins().iadd(a.a, off);
            b.def_var(v, p);
            v
        })
        .collect();
    let pb = b.declare_var(I64);
    let jo = b.ins().ishl_imm_s(j, 2);
    let p0 = b.ins().iadd(a.b, jo);
    b.def_var(pb, p0);
    let zero = b.ins().iconst(I64, 0);
    for_loop(b, zero, a.k, 1, &mut |b, _p| {
        let bp = b.use_var(pb);
        let bvs: Vec<Value> = (0..vecs).map(|v| b.ins().load(F32X4, ro(), bp, (16 * v) as i32)).collect();
        for (r, pa) in pas.iter().enumerate() {
            let ap = b.use_var(*pa);
            let x = b.ins().load(F32, ro(), ap, 0);
            let xs = b.ins().splat(F32X4, x);
            for (v, &bv) in bvs.iter().enumerate() {
                let s = b.use_var(accs[r][v]);
                let s = b.ins().fma(xs, bv, s);
                b.def_var(accs[r][v], s);
            }
            let next = b.ins().iadd(ap, csa4);
            b.def_var(*pa, next);
        }
        let next = b.ins().iadd(bp, rsb4);
        b.def_var(pb, next);
    });
    let one = b.ins().iconst(I64, 1);
    for (r, &i) in rows.iter().enumerate() {
        let pc = addr(b, a.c, i, a.n, j, one);
        for (v, acc) in accs[r].iter().enumerate() {
            let s = b.use_var(*acc);
            b.ins().store(rw(), s, pc, (16 * v) as i32);
            if let Some(e) = e {
                let jv = b.ins().iadd_imm_s(j, 4 * v as i64);
                apply_epi(b, e, a.n, F32X4, i, jv, s);
            }
        }
    }
}

fn dot_along_k(b: &mut FunctionBuilder, a: &Args, zero: Value) {
    let m4 = b.ins().band_imm_s(a.m, !3);
    let (m, n) = (a.m, a.n);
    for_loop(b, zero, m4, 4, &mut |b, i0| {
        let rows: Vec<Value> = (0..4).map(|r| b.ins().iadd_imm_s(i0, r)).collect();
        for_loop(b, zero, n, 1, &mut |b, j| dots(b, a, &rows, j, zero));
    });
    for_loop(b, m4, m, 1, &mut |b, i| {
        for_loop(b, zero, n, 1, &mut |b, j| dots(b, a, &[i], j, zero));
    });
}

/// `c[i, j]` for each row `i` in `rows`: F32X4 dot products along k sharing `b`'s loads.
fn dots(b: &mut FunctionBuilder, a: &Args, rows: &[Value], j: Value, zero: Value) {
    let one = b.ins().iconst(I64, 1);
    let k4 = b.ins().band_imm_s(a.k, !3);
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
    for_loop(b, zero, k4, 4, &mut |b, p| {
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
        for_loop(b, k4, a.k, 1, &mut |b, p| {
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

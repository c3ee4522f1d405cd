//! Small-matrix GEMM micro-kernels in CLIF: `c = a x b` with `c` row-major and `a`, `b`
//! read through run-time strides. When `b`'s rows are contiguous the kernel keeps an
//! 8-row x 4-column block of `c` in F32X4 accumulators over a k loop (register
//! blocking, no full unrolling: see the Cranelift probe), then a 4-row group and single
//! rows for the remainder, and the last `n % 4` columns one at a time with a scalar
//! accumulator per row; when `b` is a transposed
//! contiguous matrix it computes F32X4 dot products along k; otherwise it runs scalar.
//!
//! Argument block: the GEMM block of the ABI ([`GemmBlock`]), strides in elements,
//! then a fused epilogue's nest (f32 throughout, [`GEMM_WIDTH`]).

use crate::emit::{for_loop, masked, pruned_loop, ro, rw, Bound};
use cranelift_codegen::ir::types::*;
use cranelift_codegen::ir::{FuncRef, InstBuilder, Type, Value};
use cranelift_frontend::{FunctionBuilder, Variable};
pub use kiln_passes::abi::MatMulKind;
use kiln_passes::abi::{slot_offset, GemmBlock, NestLayout, GEMM_WIDTH};
use kiln_passes::schedule::{LoopNest, OutMode};

/// A fused elementwise epilogue: its nest over `[m, n]`, its argument slots, and which
/// input is the product.
pub struct Epi<'a> {
    /// The consumer kernel's body.
    pub nest: &'a LoopNest,
    /// Its argument slots (after the GEMM block).
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
        b.ins().load(ty, flags, self.args, slot_offset(i))
    }
}

/// How far apart consecutive rows of a tile lie, in bytes: an immediate when known at
/// compile time (and small enough for an address offset), else a value computed once.
#[derive(Clone, Copy)]
enum RowStep {
    Imm(i64),
    /// (elements, bytes)
    Val(Value, Value),
}

impl RowStep {
    /// `known` or `run` elements per row.
    fn new(b: &mut FunctionBuilder, known: Option<i64>, run: impl FnOnce(&mut FunctionBuilder) -> Value) -> RowStep {
        match known.filter(|s| s.abs() < 1 << 20) {
            Some(s) => RowStep::Imm(s * BYTES),
            None => {
                let s = run(b);
                RowStep::Val(s, b.ins().ishl_imm_s(s, SHIFT))
            }
        }
    }

    /// Element stride for computing a tile's first row: a constant when known.
    fn elems(self, b: &mut FunctionBuilder) -> Value {
        match self {
            RowStep::Imm(s) => b.ins().iconst(I64, s / BYTES),
            RowStep::Val(s, _) => s,
        }
    }

    /// `(pointer, immediate offset)` of row `r` counted from `base`.
    fn at(self, b: &mut FunctionBuilder, base: Value, r: usize) -> (Value, i32) {
        match self {
            RowStep::Imm(s) => (base, (s * r as i64) as i32),
            RowStep::Val(..) if r == 0 => (base, 0),
            RowStep::Val(_, s) => {
                let off = b.ins().imul_imm_s(s, r as i64);
                (b.ins().iadd(base, off), 0)
            }
        }
    }
}

/// `base + (i * stride + j) * BYTES` for a row stride `step`.
fn tile_base(b: &mut FunctionBuilder, base: Value, i: Value, step: RowStep, j: Option<Value>) -> Value {
    let s = step.elems(b);
    let el = b.ins().imul(i, s);
    let el = match j {
        Some(j) => b.ins().iadd(el, j),
        None => el,
    };
    let off = b.ins().ishl_imm_s(el, SHIFT);
    b.ins().iadd(base, off)
}

/// Applies the epilogue to a tile whose `accs[r][v]` holds row `i0 + r`, columns from
/// `j + lanes * v` (`ty` has `lanes` lanes), and stores its outputs (contiguous
/// `[m, n]`). Pointers and row strides are loaded and offset once per tile, known
/// strides become immediates, and a column sum adds the tile's rows in registers before
/// it touches memory.
fn apply_epi(b: &mut FunctionBuilder, e: &EpiState, n: Bound, ty: Type, i0: Value, j: Value, accs: &[Vec<Value>]) {
    let l = e.epi.layout;
    let nest = e.epi.nest;
    let lane_bytes = (BYTES * i64::from(ty.lane_count())) as usize;
    let scalars: Vec<Value> = l.scalars.iter().map(|&at| e.slot(b, F32, at)).collect();
    // per input: first-row pointer, row step, and whether columns advance
    let inputs: Vec<Option<(Value, RowStep, bool)>> = (0..nest.inputs.len())
        .map(|idx| {
            if idx == e.epi.acc {
                return None;
            }
            let ptr = e.slot(b, I64, l.inputs[idx].ptr);
            let known = nest.inputs[idx].strides[0].known().and_then(|s| i64::try_from(s).ok());
            let step = RowStep::new(b, known, |b| e.slot(b, I64, l.inputs[idx].strides[0]));
            let unit_col = nest.inputs[idx].strides[1].known() == Some(1);
            let base = tile_base(b, ptr, i0, step, unit_col.then_some(j));
            Some((base, step, unit_col))
        })
        .collect();
    let out_step = RowStep::new(b, n.k, |_| n.v);
    let mut sums: Vec<Vec<Option<Value>>> = vec![vec![None; accs[0].len()]; nest.outputs.len()];
    let out_ptrs: Vec<Value> = l.outputs.iter().map(|o| e.slot(b, I64, o.ptr)).collect();
    let out_bases: Vec<Value> = nest
        .outputs
        .iter()
        .zip(&out_ptrs)
        .map(|(o, &ptr)| match o.mode {
            OutMode::Store => tile_base(b, ptr, i0, out_step, Some(j)),
            OutMode::Reduce(_) => {
                let off = b.ins().ishl_imm_s(j, SHIFT);
                b.ins().iadd(ptr, off)
            }
        })
        .collect();
    for (r, row) in accs.iter().enumerate() {
        for (v, &acc) in row.iter().enumerate() {
            let col = (v * lane_bytes) as i32;
            let mut load = |b: &mut FunctionBuilder, idx: usize| -> Value {
                let Some((base, step, unit_col)) = inputs[idx] else { return acc };
                let (p, off) = step.at(b, base, r);
                if unit_col || ty == F32 {
                    b.ins().load(ty, ro(), p, off + if unit_col { col } else { 0 })
                } else {
                    let x = b.ins().load(F32, ro(), p, off);
                    b.ins().splat(ty, x)
                }
            };
            let vals = crate::emit::eval(b, ty, &nest.nodes, &mut load, &scalars, e.epi.powf);
            for (k, o) in nest.outputs.iter().enumerate() {
                match o.mode {
                    OutMode::Store => {
                        let (p, off) = out_step.at(b, out_bases[k], r);
                        b.ins().store(rw(), vals[o.node], p, off + col);
                    }
                    // a sum over the rows (fusion admits no other reduction)
                    OutMode::Reduce(_) => {
                        let s = &mut sums[k][v];
                        *s = Some(match *s {
                            Some(t) => b.ins().fadd(t, vals[o.node]),
                            None => vals[o.node],
                        });
                    }
                }
            }
        }
    }
    // the tile's part of each column sum, added into the sums that start at zero
    for (k, per_vec) in sums.iter().enumerate() {
        for (v, t) in per_vec.iter().enumerate() {
            if let Some(t) = *t {
                let col = (v * lane_bytes) as i32;
                let sum = b.ins().load(ty, rw(), out_bases[k], col);
                let sum = b.ins().fadd(sum, t);
                b.ins().store(rw(), sum, out_bases[k], col);
            }
        }
    }
}

/// Zeroes the epilogue's column sums (`n` floats each) before any tile adds to them.
fn zero_sums(b: &mut FunctionBuilder, e: &EpiState, n: Value, zero: Value) {
    for (k, o) in e.epi.nest.outputs.iter().enumerate() {
        if let OutMode::Reduce(_) = o.mode {
            let ptr = e.slot(b, I64, e.epi.layout.outputs[k].ptr);
            let z = b.ins().f32const(0.0);
            for_loop(b, zero, n, 1, &mut |b, j| {
                let off = b.ins().ishl_imm_s(j, SHIFT);
                let p = b.ins().iadd(ptr, off);
                b.ins().store(rw(), z, p, 0);
            });
        }
    }
}

/// log2 of a GEMM element's bytes, and the bytes.
const SHIFT: i64 = GEMM_WIDTH.shift();
const BYTES: i64 = 1 << SHIFT;

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

/// Byte address `base + (i*s + j*t) * BYTES`.
fn addr(b: &mut FunctionBuilder, base: Value, i: Value, s: Value, j: Value, t: Value) -> Value {
    let x = b.ins().imul(i, s);
    let y = b.ins().imul(j, t);
    let e = b.ins().iadd(x, y);
    let off = b.ins().ishl_imm_s(e, SHIFT);
    b.ins().iadd(base, off)
}

/// Emits the body of a matmul kernel whose argument block pointer is `args`.
/// `known` holds what the schedule fixes at compile time.
pub fn emit_matmul(
    b: &mut FunctionBuilder,
    args: Value,
    g: &GemmBlock,
    kind: MatMulKind,
    known: Known,
    epi: Option<&Epi>,
) {
    let slot = |b: &mut FunctionBuilder, i: usize| b.ins().load(I64, ro(), args, slot_offset(i));
    let a = Args {
        known,
        a: slot(b, g.a),
        b: slot(b, g.b),
        c: slot(b, g.c),
        m: slot(b, g.m),
        k: slot(b, g.k),
        n: slot(b, g.n),
        rsa: slot(b, g.rsa),
        csa: slot(b, g.csa),
        rsb: slot(b, g.rsb),
        csb: slot(b, g.csb),
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
        apply_epi(b, e, Bound { v: a.n, k: a.known.n }, F32, i, j, &[vec![s]]);
    }
}

fn rows_of_b(b: &mut FunctionBuilder, a: &Args, zero: Value, e: Option<&EpiState>) {
    let z = Bound { v: zero, k: Some(0) };
    let (m, n) = (Bound { v: a.m, k: a.known.m }, Bound { v: a.n, k: a.known.n });
    let m8 = masked(b, m, !7);
    let m4 = masked(b, m, !3);
    let n8 = masked(b, n, !7);
    let n4 = masked(b, n, !3);
    // blocks of 8 rows x 4 columns (8 accumulators), then at most one of 4 rows x 4
    // columns, then single rows x 8 (then 4) columns; each with a column tail: the last
    // n % 4 columns (all of a 2-column output layer's) one at a time, the block's rows
    // as independent scalar FMA chains (a dot product per element would wait on FMA
    // latency at every k step; DQN's four 64x64x2 GEMMs took 60 of its 135 us update)
    let tail_cols = |b: &mut FunctionBuilder, rows: &[Value]| {
        pruned_loop(b, n4, n, 1, &mut |b, j| block(b, a, rows, j, 1, F32, e));
    };
    pruned_loop(b, z, m8, 8, &mut |b, i0| {
        let rows: Vec<Value> = (0..8).map(|r| b.ins().iadd_imm_s(i0, r)).collect();
        pruned_loop(b, z, n4, 4, &mut |b, j| block(b, a, &rows, j, 1, F32X4, e));
        tail_cols(b, &rows);
    });
    pruned_loop(b, m8, m4, 4, &mut |b, i0| {
        let rows: Vec<Value> = (0..4).map(|r| b.ins().iadd_imm_s(i0, r)).collect();
        pruned_loop(b, z, n4, 4, &mut |b, j| block(b, a, &rows, j, 1, F32X4, e));
        tail_cols(b, &rows);
    });
    pruned_loop(b, m4, m, 1, &mut |b, i| {
        pruned_loop(b, z, n8, 8, &mut |b, j| block(b, a, &[i], j, 2, F32X4, e));
        pruned_loop(b, n8, n4, 4, &mut |b, j| block(b, a, &[i], j, 1, F32X4, e));
        tail_cols(b, &[i]);
    });
}

/// `rows.len()` rows x `lanes * vecs` columns of `c` from column `j`, where `ty` is F32X4
/// (4 lanes) or F32 (1): accumulators stay in registers over the k loop, whose pointers
/// advance by their strides.
fn block(b: &mut FunctionBuilder, a: &Args, rows: &[Value], j: Value, vecs: usize, ty: Type, e: Option<&EpiState>) {
    let vec_bytes = ty.bytes() as i32;
    // A block with fewer than eight accumulators would wait on FMA latency (each
    // accumulator's chain is one FMA per k step); two sets, for even and odd k steps,
    // double the independent chains and are added once after the loop.
    let sets = if rows.len() * vecs < 8 { K_UNROLL.min(2) } else { 1 };
    let accs: Vec<Vec<Vec<Variable>>> = (0..sets)
        .map(|_| {
            rows.iter()
                .map(|_| {
                    (0..vecs)
                        .map(|_| {
                            let v = b.declare_var(ty);
                            let z = b.ins().f32const(0.0);
                            let z = if ty == F32 { z } else { b.ins().splat(ty, z) };
                            b.def_var(v, z);
                            v
                        })
                        .collect()
                })
                .collect()
        })
        .collect();
    let csa4 = b.ins().ishl_imm_s(a.csa, SHIFT);
    let rsb4 = b.ins().ishl_imm_s(a.rsb, SHIFT);
    let csa4_unrolled = b.ins().imul_imm_s(csa4, K_UNROLL as i64);
    let rsb4_unrolled = b.ins().imul_imm_s(rsb4, K_UNROLL as i64);
    // a pointer per row of the block, or one pointer and immediate row offsets when a's
    // row stride is known (fewer loop-carried registers)
    let row_ptr = |b: &mut FunctionBuilder, i: Value| {
        let v = b.declare_var(I64);
        let off = b.ins().imul(i, a.rsa);
        let off = b.ins().ishl_imm_s(off, SHIFT);
        let p = b.ins().iadd(a.a, off);
        b.def_var(v, p);
        v
    };
    let pas: Vec<(Variable, i32)> = match a.known.rsa.filter(|rs| rs.abs() < 1 << 20) {
        Some(rs) => {
            let v = row_ptr(b, rows[0]);
            (0..rows.len()).map(|r| (v, (r as i64 * rs * BYTES) as i32)).collect()
        }
        None => rows.iter().map(|&i| (row_ptr(b, i), 0)).collect(),
    };
    let mut a_vars: Vec<Variable> = pas.iter().map(|p| p.0).collect();
    a_vars.dedup();
    let pb = b.declare_var(I64);
    let jo = b.ins().ishl_imm_s(j, SHIFT);
    let p0 = b.ins().iadd(a.b, jo);
    b.def_var(pb, p0);
    let zero = b.ins().iconst(I64, 0);
    // byte offset of k step `u` within an unrolled group: an immediate when the stride
    // is known at compile time, else `u * stride` computed once outside the loop
    let step_offsets = |b: &mut FunctionBuilder, known: Option<i64>, s4: Value| -> Vec<(i32, Option<Value>)> {
        (0..K_UNROLL as i64)
            .map(|u| match known {
                Some(s) => ((u * s * BYTES) as i32, None),
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
        let bvs: Vec<Value> = (0..vecs).map(|v| b.ins().load(ty, ro(), bp, bo + vec_bytes * v as i32)).collect();
        for (r, &(pa, row_off)) in pas.iter().enumerate() {
            let ap = b.use_var(pa);
            let (ap, ao) = at(b, ap, a_off[u]);
            for (v, &bv) in bvs.iter().enumerate() {
                // One broadcast per FMA, each from a differently spelled address so
                // GVN keeps them apart: a splat with one use sinks its load
                // (`vbroadcastss mem`), and the FMA, which overwrites a multiplicand,
                // can overwrite it without first copying a splat that is used again.
                let shift = 64 * v as i32;
                let apv = if v == 0 { ap } else { b.ins().iadd_imm_s(ap, -(shift as i64)) };
                let x = b.ins().load(F32, ro(), apv, ao + row_off + shift);
                let xs = if ty == F32 { x } else { b.ins().splat(ty, x) };
                let acc = accs[u % sets][r][v];
                let s = b.use_var(acc);
                let s = b.ins().fma(xs, bv, s);
                b.def_var(acc, s);
            }
        }
    };
    // pointer bumps: immediates when the strides are known (a register each otherwise,
    // which the allocator tends to reload from the argument block inside the loop)
    let bump = |b: &mut FunctionBuilder, p: Value, known: Option<i64>, by1: Value, by_n: Value, steps: i64| match known
    {
        Some(s) => b.ins().iadd_imm_s(p, s * BYTES * steps),
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
    let n = Bound { v: a.n, k: a.known.n };
    let vals: Vec<Vec<Value>> = (0..rows.len())
        .map(|r| {
            (0..vecs)
                .map(|v| {
                    let s = b.use_var(accs[0][r][v]);
                    accs[1..].iter().fold(s, |s, set| {
                        let t = b.use_var(set[r][v]);
                        b.ins().fadd(s, t)
                    })
                })
                .collect()
        })
        .collect();
    if e.is_none_or(|e| e.epi.store_out) {
        let step = RowStep::new(b, n.k, |_| n.v);
        let base = tile_base(b, a.c, rows[0], step, Some(j));
        for (r, row) in vals.iter().enumerate() {
            let (p, off) = step.at(b, base, r);
            for (v, &s) in row.iter().enumerate() {
                b.ins().store(rw(), s, p, off + vec_bytes * v as i32);
            }
        }
    }
    if let Some(e) = e {
        apply_epi(b, e, n, ty, rows[0], j, &vals);
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

/// `c[i, j]` for each row `i` in `rows`: F32X4 dot products along k, the row pointers
/// and `b`'s advancing 16 bytes a step; four rows' sums come out of one shuffle tree.
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
    let ptr_var = |b: &mut FunctionBuilder, p: Value| {
        let v = b.declare_var(I64);
        b.def_var(v, p);
        v
    };
    let pas: Vec<(Variable, i32)> = match a.known.rsa.filter(|rs| rs.abs() < 1 << 20) {
        Some(rs) => {
            let p = addr(b, a.a, rows[0], a.rsa, zero, one);
            let v = ptr_var(b, p);
            (0..rows.len()).map(|r| (v, (r as i64 * rs * BYTES) as i32)).collect()
        }
        None => rows
            .iter()
            .map(|&i| {
                let p = addr(b, a.a, i, a.rsa, zero, one);
                (ptr_var(b, p), 0)
            })
            .collect(),
    };
    let mut a_vars: Vec<Variable> = pas.iter().map(|p| p.0).collect();
    a_vars.dedup();
    let p0 = addr(b, a.b, zero, one, j, a.csb);
    let pb = ptr_var(b, p0);
    pruned_loop(b, z, k4, 4, &mut |b, _p| {
        let bp = b.use_var(pb);
        for (r, &(pa, off)) in pas.iter().enumerate() {
            let ap = b.use_var(pa);
            let x = b.ins().load(F32X4, ro(), ap, off);
            // b's vector loaded per row, each from a differently spelled address so
            // GVN keeps them apart: a load with one use sinks into the FMA, which then
            // overwrites this row's own `a` vector instead of a copy of a shared one
            let shift = 64 * r as i32;
            let bpr = if r == 0 { bp } else { b.ins().iadd_imm_s(bp, -(shift as i64)) };
            let y = b.ins().load(F32X4, ro(), bpr, shift);
            let s = b.use_var(accs[r]);
            let s = b.ins().fma(x, y, s);
            b.def_var(accs[r], s);
        }
        for v in a_vars.iter().chain([&pb]) {
            let p = b.use_var(*v);
            let p = b.ins().iadd_imm_s(p, 4 * BYTES);
            b.def_var(*v, p);
        }
    });
    let vals: Vec<Value> = accs.iter().map(|v| b.use_var(*v)).collect();
    let exact_k4 = k.k.is_some_and(|kk| kk % 4 == 0);
    if let [a0, a1, a2, a3] = vals[..] {
        // lanes (0+2, 1+3) of row pairs, then of all four rows: one vector of sums
        let shuffle = crate::transpose::shuffle32;
        let lo = shuffle(b, a0, a1, [0, 4, 1, 5]);
        let hi = shuffle(b, a0, a1, [2, 6, 3, 7]);
        let u0 = b.ins().fadd(lo, hi);
        let lo = shuffle(b, a2, a3, [0, 4, 1, 5]);
        let hi = shuffle(b, a2, a3, [2, 6, 3, 7]);
        let u1 = b.ins().fadd(lo, hi);
        let w0 = shuffle(b, u0, u1, [0, 1, 4, 5]);
        let w1 = shuffle(b, u0, u1, [2, 3, 6, 7]);
        let sums = b.ins().fadd(w0, w1);
        if exact_k4 && a.known.n == Some(1) {
            // no k tail, and the four rows' results are adjacent
            let pc = addr(b, a.c, rows[0], a.n, j, one);
            b.ins().store(rw(), sums, pc, 0);
            return;
        }
        let per_row: Vec<Value> = (0..4u8).map(|r| b.ins().extractlane(sums, r)).collect();
        row_tails(b, a, rows, j, &per_row, k4, k);
    } else {
        let per_row: Vec<Value> = vals
            .iter()
            .map(|&v| {
                let mut s = b.ins().extractlane(v, 0);
                for lane in 1..4u8 {
                    let e = b.ins().extractlane(v, lane);
                    s = b.ins().fadd(s, e);
                }
                s
            })
            .collect();
        row_tails(b, a, rows, j, &per_row, k4, k);
    }
}

/// Adds the scalar k tail (`k4..k`) to each row's sum and stores `c[i, j]`.
fn row_tails(b: &mut FunctionBuilder, a: &Args, rows: &[Value], j: Value, sums: &[Value], k4: Bound, k: Bound) {
    let one = b.ins().iconst(I64, 1);
    for (&i, &s) in rows.iter().zip(sums) {
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

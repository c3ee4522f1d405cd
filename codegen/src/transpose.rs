//! Transposing copies in 4x4 register tiles. The copy fusion inserts before a matmul
//! (`out[i, j] = in[j, i]`) reads its input down a column: scalar code moves one float
//! per load-store pair. A tile instead loads four F32X4 columns along the input's
//! contiguous dim, transposes them with eight unpack shuffles (`punpck{l,h}{dq,qdq}`)
//! and stores four output rows.

use crate::emit::{for_loop, ro, rw, Acc};
use crate::math;
use cranelift_codegen::ir::types::*;
use cranelift_codegen::ir::{ConstantData, InstBuilder, Value};
use cranelift_frontend::FunctionBuilder;
use kiln_passes::schedule::{LoopNest, Node, OutMode};

/// Whether dims `d, d + 1` of `n` (its last two) are a plain transposing copy: one
/// input read contiguously along `d` and strided along `d + 1`, stored contiguously
/// along `d + 1`.
pub(crate) fn applies(n: &LoopNest, d: usize) -> bool {
    let [input] = n.inputs.as_slice() else { return false };
    let [out] = n.outputs.as_slice() else { return false };
    n.nodes == [Node::Load(0)]
        && out.node == 0
        && out.mode == OutMode::Store
        && d + 2 == n.space.len()
        && input.strides[d].known() == Some(1)
        && !matches!(input.strides[d + 1].known(), Some(0) | Some(1))
        && out.strides[d + 1].known() == Some(1)
}

/// The 32-bit lanes of `x` and `y` picked by `lanes` (0..4 from `x`, 4..8 from `y`), as
/// a byte shuffle (which x64 lowers to one unpack for the masks used here).
pub(crate) fn shuffle32(b: &mut FunctionBuilder, x: Value, y: Value, lanes: [u8; 4]) -> Value {
    let bytes: Vec<u8> = lanes.iter().flat_map(|&l| (0..4).map(move |k| 4 * l + k)).collect();
    let mask = b.func.dfg.immediates.push(ConstantData::from(bytes));
    let xb = math::bits(b, I8X16, x);
    let yb = math::bits(b, I8X16, y);
    let s = b.ins().shuffle(xb, yb, mask);
    math::bits(b, F32X4, s)
}

/// Emits the copy over `rows` (dim `d`) x `cols` (dim `d + 1`) from byte offsets
/// `off_in` and `off_out`: 4x4 tiles, then scalar column and row tails.
#[allow(clippy::too_many_arguments)]
pub(crate) fn emit(
    b: &mut FunctionBuilder,
    inp: &Acc,
    out: &Acc,
    d: usize,
    rows: Value,
    cols: Value,
    off_in: Value,
    off_out: Value,
) {
    let in0 = b.ins().iadd(inp.ptr, off_in);
    let out0 = b.ins().iadd(out.ptr, off_out);
    let (s_in, s_out) = (inp.strides[d + 1], out.strides[d]);
    let zero = b.ins().iconst(I64, 0);
    // element sizes are the accesses' (f32: the copy applies to f32 bodies only)
    let (sh_in, sh_out) = (inp.shift, out.shift);
    let r4 = b.ins().band_imm_s(rows, !3);
    let c4 = b.ins().band_imm_s(cols, !3);
    // element (i, j): input at in0 + (i << sh_in) + j*s_in, output at out0 + i*s_out + (j << sh_out)
    let scalar = |b: &mut FunctionBuilder, i: Value, j: Value| {
        let i4 = b.ins().ishl_imm_s(i, sh_in);
        let js = b.ins().imul(j, s_in);
        let src = b.ins().iadd(in0, i4);
        let src = b.ins().iadd(src, js);
        let x = b.ins().load(F32, ro(), src, 0);
        let is = b.ins().imul(i, s_out);
        let j4 = b.ins().ishl_imm_s(j, sh_out);
        let dst = b.ins().iadd(out0, is);
        let dst = b.ins().iadd(dst, j4);
        b.ins().store(rw(), x, dst, 0);
    };
    for_loop(b, zero, r4, 4, &mut |b, i| {
        let i4 = b.ins().ishl_imm_s(i, sh_in);
        let src_row = b.ins().iadd(in0, i4);
        let is = b.ins().imul(i, s_out);
        let dst_row = b.ins().iadd(out0, is);
        for_loop(b, zero, c4, 4, &mut |b, j| {
            let js = b.ins().imul(j, s_in);
            let src = b.ins().iadd(src_row, js);
            // v[k][a] = element (i + a, j + k)
            let v: Vec<Value> = (0..4i64)
                .map(|k| {
                    let o = b.ins().imul_imm_s(s_in, k);
                    let p = b.ins().iadd(src, o);
                    b.ins().load(F32X4, ro(), p, 0)
                })
                .collect();
            let t0 = shuffle32(b, v[0], v[1], [0, 4, 1, 5]);
            let t1 = shuffle32(b, v[2], v[3], [0, 4, 1, 5]);
            let t2 = shuffle32(b, v[0], v[1], [2, 6, 3, 7]);
            let t3 = shuffle32(b, v[2], v[3], [2, 6, 3, 7]);
            let r = [
                shuffle32(b, t0, t1, [0, 1, 4, 5]),
                shuffle32(b, t0, t1, [2, 3, 6, 7]),
                shuffle32(b, t2, t3, [0, 1, 4, 5]),
                shuffle32(b, t2, t3, [2, 3, 6, 7]),
            ];
            let j4 = b.ins().ishl_imm_s(j, sh_out);
            let dst = b.ins().iadd(dst_row, j4);
            for (a, &row) in r.iter().enumerate() {
                let o = b.ins().imul_imm_s(s_out, a as i64);
                let p = b.ins().iadd(dst, o);
                b.ins().store(rw(), row, p, 0);
            }
        });
        for_loop(b, c4, cols, 1, &mut |b, j| {
            for a in 0..4 {
                let ia = b.ins().iadd_imm_s(i, a);
                scalar(b, ia, j);
            }
        });
    });
    for_loop(b, r4, rows, 1, &mut |b, i| {
        for_loop(b, zero, cols, 1, &mut |b, j| scalar(b, i, j));
    });
}

//! Bodies with integer and bool values (one-hot labels, gathers by index, iotas,
//! conversions, comparisons and selects on integers), one point at a time.
//!
//! Each node's Cranelift type follows its element type: `f32`, `i32`, `i64`, and `i8`
//! for bools (what comparisons produce). Bools are stored as 32-bit 0 or 1. The narrow
//! integers (u8, i8, u16, i16) are held as i32, one arena word each, and wrapped back
//! into their range after every op that can leave it, so comparisons, maxima and
//! conversions of the i32 are those of the narrow value. A gather
//! or index check that meets an index out of range records it in the nest's error
//! slots (the node's number plus one, then the index) and reads nothing; a scatter-add
//! output (the gradient of a gather) adds into the row its index names, or records
//! the node count plus its output's number plus one and adds nothing. The runtime fails
//! the run after the call.

use crate::emit::{binary, combine, float_cc, ro, rw, slot, unary, Ctx};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::types::{self, *};
use cranelift_codegen::ir::{BlockArg, InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::FunctionBuilder;
use kiln_ir::{BinaryOp, CmpOp, DType, ReduceOp, UnaryOp};
use kiln_passes::abi::slot_offset;
use kiln_passes::schedule::{Node, OutMode};

/// The Cranelift type of a value of `t` in a register.
fn reg(t: DType) -> Type {
    match t {
        DType::F32 => F32,
        DType::F64 => F64,
        DType::I32 => I32,
        DType::I64 => I64,
        DType::Bool => I8,
        DType::U8 | DType::I8 | DType::U16 | DType::I16 => I32,
    }
}

/// `x` (an i32 holding a value of `t`) wrapped into `t`'s range, as `t`'s own
/// arithmetic would have wrapped it; other dtypes pass through.
fn wrap(b: &mut FunctionBuilder, t: DType, x: Value) -> Value {
    match t {
        DType::U8 => b.ins().band_imm_s(x, 0xFF),
        DType::U16 => b.ins().band_imm_s(x, 0xFFFF),
        DType::I8 | DType::I16 => {
            let k = if t == DType::I8 { 24 } else { 16 };
            let up = b.ins().ishl_imm_s(x, k);
            b.ins().sshr_imm_s(up, k)
        }
        _ => x,
    }
}

/// The identity of an integer reduction, as a value of `t` to store.
pub(crate) fn int_identity(b: &mut FunctionBuilder, t: DType, r: ReduceOp) -> Value {
    let (lo, hi) = t.int_range().unwrap_or((i32::MIN as i64, i32::MAX as i64));
    let k = match r {
        ReduceOp::Sum | ReduceOp::Mean => 0,
        ReduceOp::Max => lo,
        ReduceOp::Min => hi,
        ReduceOp::Prod => 1,
    };
    b.ins().iconst(reg(t), k)
}

fn load(b: &mut FunctionBuilder, t: DType, flags: MemFlagsData, addr: Value) -> Value {
    match t {
        DType::Bool => {
            let w = b.ins().load(I32, flags, addr, 0);
            b.ins().icmp_imm_s(IntCC::NotEqual, w, 0)
        }
        _ => b.ins().load(reg(t), flags, addr, 0),
    }
}

fn store(b: &mut FunctionBuilder, t: DType, x: Value, addr: Value) {
    let x = if t == DType::Bool { b.ins().uextend(I32, x) } else { x };
    b.ins().store(rw(), x, addr, 0);
}

fn int_cc(c: CmpOp) -> IntCC {
    match c {
        CmpOp::Eq => IntCC::Equal,
        CmpOp::Ne => IntCC::NotEqual,
        CmpOp::Lt => IntCC::SignedLessThan,
        CmpOp::Le => IntCC::SignedLessThanOrEqual,
        CmpOp::Gt => IntCC::SignedGreaterThan,
        CmpOp::Ge => IntCC::SignedGreaterThanOrEqual,
    }
}

/// `x` of type `from` as `to`, with the interpreter's rules: float to int truncates
/// toward zero (saturating; NaN gives 0), anything to bool is `!= 0`, bool to a
/// number is 0 or 1.
fn convert(b: &mut FunctionBuilder, from: DType, to: DType, x: Value) -> Value {
    use DType::*;
    // a narrow integer is its i32; converting to one goes through i32 and wraps
    let from = if from.is_narrow_int() { I32 } else { from };
    if to.is_narrow_int() {
        let y = convert(b, from, I32, x);
        return wrap(b, to, y);
    }
    match (from, to) {
        _ if from == to => x,
        (F32, Bool) => {
            let zero = b.ins().f32const(0.0);
            b.ins().fcmp(FloatCC::NotEqual, x, zero)
        }
        (I32 | I64, Bool) => b.ins().icmp_imm_s(IntCC::NotEqual, x, 0),
        (Bool, F32) => {
            let (one, zero) = (b.ins().f32const(1.0), b.ins().f32const(0.0));
            b.ins().select(x, one, zero)
        }
        (Bool, I32 | I64) => b.ins().uextend(reg(to), x),
        (F32, I32 | I64) => b.ins().fcvt_to_sint_sat(reg(to), x),
        (I32 | I64, F32) => b.ins().fcvt_from_sint(types::F32, x),
        (I32, I64) => b.ins().sextend(types::I64, x),
        (I64, I32) => b.ins().ireduce(types::I32, x),
        // f64 never reaches a kernel (fusion keeps it on the interpreter)
        _ => x,
    }
}

/// An integer unary op. Only the ops `schedule::dtypes::unary` admits on integers reach
/// here: codegen compiles only schedules the verifier accepted, and the verifier checks
/// every node against that table, so the remaining arms are never emitted.
fn int_unary(b: &mut FunctionBuilder, t: Type, u: UnaryOp, x: Value) -> Value {
    use UnaryOp::*;
    match u {
        Neg => b.ins().ineg(x),
        Abs => b.ins().iabs(x),
        Square => b.ins().imul(x, x),
        Sign => {
            let (one, mone) = (b.ins().iconst(t, 1), b.ins().iconst(t, -1));
            let hi = b.ins().smin(x, one);
            b.ins().smax(hi, mone)
        }
        Relu => {
            let zero = b.ins().iconst(t, 0);
            b.ins().smax(x, zero)
        }
        Exp | Log | Sqrt | Rsqrt | Tanh | Sigmoid | Softplus | Log1p | Elu => x,
    }
}

/// An integer binary op; as for [`int_unary`], division and powers never reach here.
fn int_binary(b: &mut FunctionBuilder, o: BinaryOp, x: Value, y: Value) -> Value {
    match o {
        BinaryOp::Add => b.ins().iadd(x, y),
        BinaryOp::Sub => b.ins().isub(x, y),
        BinaryOp::Mul => b.ins().imul(x, y),
        BinaryOp::Maximum => b.ins().smax(x, y),
        BinaryOp::Minimum => b.ins().smin(x, y),
        BinaryOp::Div | BinaryOp::Pow => x,
    }
}

fn int_combine(b: &mut FunctionBuilder, r: ReduceOp, acc: Value, x: Value) -> Value {
    match r {
        ReduceOp::Sum | ReduceOp::Mean => b.ins().iadd(acc, x),
        ReduceOp::Max => b.ins().smax(acc, x),
        ReduceOp::Min => b.ins().smin(acc, x),
        ReduceOp::Prod => b.ins().imul(acc, x),
    }
}

/// Checks `0 <= index < rows` (an i64); records `k` (a node, or the node count plus
/// a scatter-add output) and the index in the error slots if not. Returns the
/// in-range flag (i8).
fn check(b: &mut FunctionBuilder, c: &Ctx, tag: i64, index: Value, rows: Value) -> Value {
    let ok = b.ins().icmp(IntCC::UnsignedLessThan, index, rows);
    let bad_block = b.create_block();
    let done = b.create_block();
    b.ins().brif(ok, done, &[], bad_block, &[]);
    b.switch_to_block(bad_block);
    if let Some((at_tag, at_index)) = c.l.error {
        let tag = b.ins().iconst(I64, tag);
        b.ins().store(rw(), tag, c.args, slot_offset(at_tag));
        b.ins().store(rw(), index, c.args, slot_offset(at_index));
    }
    b.ins().jump(done, &[]);
    b.switch_to_block(done);
    ok
}

/// Evaluates a typed body at one point and writes its outputs.
pub(crate) fn point(b: &mut FunctionBuilder, c: &Ctx, offs_in: &[Value], offs_out: &[Value], idx: &[Value]) {
    let n = c.n;
    let mut vals: Vec<Value> = Vec::with_capacity(n.nodes.len());
    // indexed sites: gathers in node order, then scatter-add outputs
    let mut sites = c.l.sites.iter().copied();
    for (k, node) in n.nodes.iter().enumerate() {
        let t = n.types[k];
        let v = match *node {
            Node::Load(i) => {
                let addr = b.ins().iadd(c.inputs[i].ptr, offs_in[i]);
                load(b, t, ro(), addr)
            }
            Node::Const(x) => b.ins().f32const(x),
            Node::Int(x) => b.ins().iconst(reg(t), x),
            Node::Scalar(i) => convert(b, DType::F32, t, c.scalars[i]),
            Node::Iota(d) => {
                let i = idx.get(d).copied().unwrap_or_else(|| b.ins().iconst(I64, 0));
                convert(b, DType::I64, t, i)
            }
            Node::Convert(x) => convert(b, n.types[x], t, vals[x]),
            Node::Unary(u, x) if t == DType::F32 => unary(b, F32, u, vals[x]),
            Node::Unary(u, x) => {
                let y = int_unary(b, reg(t), u, vals[x]);
                wrap(b, t, y)
            }
            Node::Binary(o, x, y) if t == DType::F32 => binary(b, c.powf, F32, o, vals[x], vals[y]),
            Node::Binary(o, x, y) => {
                let z = int_binary(b, o, vals[x], vals[y]);
                wrap(b, t, z)
            }
            Node::Cmp(cc, x, y) if n.types[x] == DType::F32 => b.ins().fcmp(float_cc(cc), vals[x], vals[y]),
            Node::Cmp(cc, x, y) => b.ins().icmp(int_cc(cc), vals[x], vals[y]),
            Node::Select(m, x, y) => b.ins().select(vals[m], vals[x], vals[y]),
            Node::CheckIndex(x, bound) => {
                let i = convert(b, n.types[x], DType::I64, vals[x]);
                let rows = b.ins().iconst(I64, bound.min(i64::MAX as u64) as i64);
                check(b, c, c.call.node_tag(c.nest, k), i, rows);
                vals[x]
            }
            Node::Gather { input, index, .. } => {
                let (stride_at, rows_at) = sites.next().unwrap_or_default();
                let i = convert(b, n.types[index], DType::I64, vals[index]);
                let rows = slot(b, c.args, rows_at);
                let ok = check(b, c, c.call.node_tag(c.nest, k), i, rows);
                // an index out of range reads nothing: the value is zero and the run fails
                let read = b.create_block();
                let done = b.create_block();
                b.append_block_param(done, reg(t));
                let zero = match t {
                    DType::F32 => b.ins().f32const(0.0),
                    _ => b.ins().iconst(reg(t), 0),
                };
                b.ins().brif(ok, read, &[], done, &[BlockArg::Value(zero)]);
                b.switch_to_block(read);
                let stride = slot(b, c.args, stride_at);
                let rows_off = b.ins().imul(i, stride);
                let bytes = b.ins().ishl_imm_s(rows_off, c.inputs[input].shift);
                let base = b.ins().iadd(c.inputs[input].ptr, offs_in[input]);
                let addr = b.ins().iadd(base, bytes);
                let x = load(b, t, ro(), addr);
                b.ins().jump(done, &[BlockArg::Value(x)]);
                b.switch_to_block(done);
                b.block_params(done)[0]
            }
        };
        vals.push(v);
    }
    for (j, o) in n.outputs.iter().enumerate() {
        let t = n.types[o.node];
        let x = vals[o.node];
        let mut addr = b.ins().iadd(c.outputs[j].ptr, offs_out[j]);
        // a scatter-add adds into the row its index node names, or nowhere (the run fails)
        let mut skip = None;
        if let Some(sc) = &o.scatter {
            let (stride_at, rows_at) = sites.next().unwrap_or_default();
            let i = convert(b, n.types[sc.index], DType::I64, vals[sc.index]);
            let rows = slot(b, c.args, rows_at);
            let ok = check(b, c, c.call.scatter_tag(c.nest, j), i, rows);
            let add = b.create_block();
            let done = b.create_block();
            b.ins().brif(ok, add, &[], done, &[]);
            b.switch_to_block(add);
            let stride = slot(b, c.args, stride_at);
            let elems = b.ins().imul(i, stride);
            let bytes = b.ins().ishl_imm_s(elems, c.outputs[j].shift);
            addr = b.ins().iadd(addr, bytes);
            skip = Some(done);
        }
        match o.mode {
            OutMode::Store => {
                // a sabotaged kernel is off by one in every dtype (a bool flips)
                let x = match t {
                    _ if !c.broken => x,
                    DType::F32 => {
                        let one = b.ins().f32const(1.0);
                        b.ins().fadd(x, one)
                    }
                    DType::F64 => {
                        let one = b.ins().f64const(1.0);
                        b.ins().fadd(x, one)
                    }
                    DType::I32 | DType::I64 => b.ins().iadd_imm_s(x, 1),
                    DType::U8 | DType::I8 | DType::U16 | DType::I16 => {
                        let y = b.ins().iadd_imm_s(x, 1);
                        wrap(b, t, y)
                    }
                    DType::Bool => b.ins().bxor_imm_s(x, 1),
                };
                store(b, t, x, addr);
            }
            OutMode::Reduce(r) => {
                let old = load(b, t, rw(), addr);
                let new = if t == DType::F32 {
                    combine(b, F32, r, old, x)
                } else {
                    let y = int_combine(b, r, old, x);
                    wrap(b, t, y)
                };
                store(b, t, new, addr);
            }
        }
        if let Some(done) = skip {
            b.ins().jump(done, &[]);
            b.switch_to_block(done);
        }
    }
}

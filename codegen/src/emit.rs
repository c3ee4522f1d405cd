//! Lowers one loop kernel (its nests in order) to one Cranelift function
//! `fn(args: *const i64)`. The innermost loop runs F32X4 with a scalar tail (long
//! bodies: a padded last vector, `padded.rs`) whenever
//! every access there is contiguous or a broadcast; otherwise it runs scalar with
//! run-time strides. Bounds come from the argument block, which the runtime fills from
//! verified shapes.

use crate::math;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::types::*;
use cranelift_codegen::ir::{BlockArg, FuncRef, InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::FunctionBuilder;
use kiln_ir::{BinaryOp, CmpOp, ReduceOp, UnaryOp};
use kiln_passes::abi::{slot_offset, AccessSlots, CallAbi, NestLayout, Width};
use kiln_passes::schedule::{LoopNest, Node, OutMode, Stride};

pub(crate) fn ro() -> MemFlagsData {
    // inputs are never written by the kernel that reads them (the planner keeps
    // a kernel's inputs and outputs apart), so their loads may move
    MemFlagsData::new().with_notrap().with_readonly().with_can_move()
}

pub(crate) fn rw() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

/// A counted loop `for i in (start..end).step_by(step)`; returns nothing. For `step`
/// > 1 it runs while `i + step <= end`.
pub(crate) fn for_loop(
    b: &mut FunctionBuilder,
    start: Value,
    end: Value,
    step: i64,
    body: &mut dyn FnMut(&mut FunctionBuilder, Value),
) {
    let header = b.create_block();
    let i = b.append_block_param(header, I64);
    let body_block = b.create_block();
    let exit = b.create_block();
    b.ins().jump(header, &[BlockArg::Value(start)]);
    b.switch_to_block(header);
    let next = b.ins().iadd_imm_s(i, step);
    let go = b.ins().icmp(IntCC::SignedLessThanOrEqual, next, end);
    b.ins().brif(go, body_block, &[], exit, &[]);
    b.switch_to_block(body_block);
    body(b, i);
    let next = b.ins().iadd_imm_s(i, step);
    b.ins().jump(header, &[BlockArg::Value(next)]);
    b.switch_to_block(exit);
}

/// A loop bound and its value when known at compile time.
#[derive(Clone, Copy)]
pub(crate) struct Bound {
    /// The value.
    pub(crate) v: Value,
    /// Its value at compile time, if known.
    pub(crate) k: Option<i64>,
}

/// `x & mask` as a bound, folded when `x` is known.
pub(crate) fn masked(b: &mut FunctionBuilder, x: Bound, mask: i64) -> Bound {
    match x.k {
        Some(k) => Bound { v: b.ins().iconst(I64, k & mask), k: Some(k & mask) },
        None => Bound { v: b.ins().band_imm_s(x.v, mask), k: None },
    }
}

/// `for_loop`, but emits nothing for a range known to be empty and straight-line code
/// for a range known to run once.
pub(crate) fn pruned_loop(
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

/// The values every access needs: base pointer and per-dim byte strides.
#[derive(Clone)]
pub(crate) struct Acc {
    /// Base pointer.
    pub(crate) ptr: Value,
    /// Byte stride per dim.
    pub(crate) strides: Vec<Value>,
    /// Element stride per dim when known at compile time.
    pub(crate) known: Vec<Option<u64>>,
    /// log2 of the element size in bytes (2 for 32-bit elements, 3 for 64-bit ones).
    pub(crate) shift: i64,
}

#[derive(Clone)]
pub(crate) struct Ctx<'a> {
    pub(crate) n: &'a LoopNest,
    pub(crate) l: &'a NestLayout,
    /// The call the nest belongs to (its error tags).
    pub(crate) call: &'a CallAbi,
    /// The nest's number in the call.
    pub(crate) nest: usize,
    pub(crate) args: Value,
    dims: Vec<Value>,
    known: Vec<Option<i64>>,
    pub(crate) inputs: Vec<Acc>,
    pub(crate) outputs: Vec<Acc>,
    pub(crate) scalars: Vec<Value>,
    pub(crate) powf: FuncRef,
    pub(crate) broken: bool,
    /// The body is f32 throughout: the innermost loop may run F32X4.
    f32_body: bool,
    /// Where the body reads its base pointers, at each access, instead of `ptr`: an
    /// argument block that may differ between entries to the body (`padded.rs`).
    pub(crate) bases: Option<Value>,
}

impl Ctx<'_> {
    /// Input `i`'s base pointer where the body reads it.
    fn input_base(&self, b: &mut FunctionBuilder, i: usize) -> Value {
        match self.bases {
            Some(at) => b.ins().load(I64, rw(), at, slot_offset(self.l.inputs[i].ptr)),
            None => self.inputs[i].ptr,
        }
    }

    /// Output `j`'s base pointer where the body writes it.
    fn output_base(&self, b: &mut FunctionBuilder, j: usize) -> Value {
        match self.bases {
            Some(at) => b.ins().load(I64, rw(), at, slot_offset(self.l.outputs[j].ptr)),
            None => self.outputs[j].ptr,
        }
    }
}

pub(crate) fn slot(b: &mut FunctionBuilder, args: Value, i: usize) -> Value {
    b.ins().load(I64, ro(), args, slot_offset(i))
}

fn slot_f32(b: &mut FunctionBuilder, args: Value, i: usize) -> Value {
    b.ins().load(F32, ro(), args, slot_offset(i))
}

fn access(b: &mut FunctionBuilder, args: Value, at: &AccessSlots, strides: &[Stride]) -> Acc {
    let ptr = slot(b, args, at.ptr);
    let shift = at.width.unwrap_or(Width::W32).shift();
    let mut vals = Vec::new();
    let mut known = Vec::new();
    for (d, s) in strides.iter().enumerate() {
        let k = s.known();
        known.push(k);
        vals.push(match k {
            Some(c) => b.ins().iconst(I64, (c << shift) as i64),
            None => {
                let v = slot(b, args, at.strides[d]);
                b.ins().ishl_imm_s(v, shift)
            }
        });
    }
    Acc { ptr, strides: vals, known, shift }
}

/// Emits one nest into the current block of `b`. `may_split`: the runtime may split
/// the kernel's rows across threads ([`kiln_passes::schedule::may_split`]).
#[allow(clippy::too_many_arguments)]
pub fn emit_nest(
    b: &mut FunctionBuilder,
    args: Value,
    n: &LoopNest,
    call: &CallAbi,
    nest: usize,
    powf: FuncRef,
    broken: bool,
    may_split: bool,
) {
    let l = &call.nests[nest];
    // Fixed extents are constants, which prunes loops that cannot run. The outermost
    // comes from the argument block when the runtime may shorten it to split the rows
    // across threads: the same rule the runtime applies.
    let fixed: Vec<Option<i64>> = n.space.iter().map(|d| d.fixed().and_then(|k| i64::try_from(k).ok())).collect();
    let fixed_work = fixed.iter().try_fold(1usize, |p, k| p.checked_mul(usize::try_from((*k)?).ok()?));
    let never_split = !may_split || fixed_work.is_some_and(|w| !kiln_passes::schedule::worth_splitting(w));
    let known: Vec<Option<i64>> =
        fixed.iter().enumerate().map(|(d, k)| if d > 0 || never_split { *k } else { None }).collect();
    let dims = known
        .iter()
        .enumerate()
        .map(|(d, k)| match k {
            Some(k) => b.ins().iconst(I64, *k),
            None => slot(b, args, l.dims[d]),
        })
        .collect();
    let inputs = n.inputs.iter().zip(&l.inputs).map(|(acc, at)| access(b, args, at, &acc.strides)).collect();
    let outputs = n.outputs.iter().zip(&l.outputs).map(|(o, at)| access(b, args, at, &o.strides)).collect();
    let scalars = l.scalars.iter().map(|&at| slot_f32(b, args, at)).collect();
    let f32_body = n.is_f32();
    let c = Ctx { n, l, call, nest, args, dims, known, inputs, outputs, scalars, powf, broken, f32_body, bases: None };
    // reductions start from their identity
    for (j, o) in n.outputs.iter().enumerate() {
        if let OutMode::Reduce(r) = o.mode {
            let len = slot(b, args, l.out_lens[j]);
            let (ptr, shift) = (c.outputs[j].ptr, c.outputs[j].shift);
            let id = match n.types[o.node] {
                kiln_ir::DType::F32 => math::splat_const(b, F32, identity(r)),
                t => crate::typed::int_identity(b, t, r),
            };
            let zero = b.ins().iconst(I64, 0);
            for_loop(b, zero, len, 1, &mut |b, i| {
                let off = b.ins().ishl_imm_s(i, shift);
                let addr = b.ins().iadd(ptr, off);
                b.ins().store(rw(), id, addr, 0);
            });
        }
    }
    let zero = b.ins().iconst(I64, 0);
    let offs_in = vec![zero; c.inputs.len()];
    let offs_out = vec![zero; c.outputs.len()];
    level(b, &c, 0, offs_in, offs_out, &mut Vec::new());
    // a mean divides its sum once at the end
    for (j, o) in n.outputs.iter().enumerate() {
        if let Some(at) = l.means[j] {
            let _ = o;
            let inv = slot_f32(b, args, at);
            let len = slot(b, args, l.out_lens[j]);
            let (ptr, shift) = (c.outputs[j].ptr, c.outputs[j].shift);
            let zero = b.ins().iconst(I64, 0);
            for_loop(b, zero, len, 1, &mut |b, i| {
                let off = b.ins().ishl_imm_s(i, shift);
                let addr = b.ins().iadd(ptr, off);
                let x = b.ins().load(F32, rw(), addr, 0);
                let y = b.ins().fmul(x, inv);
                b.ins().store(rw(), y, addr, 0);
            });
        }
    }
}

pub(crate) fn identity(r: ReduceOp) -> f32 {
    match r {
        ReduceOp::Sum | ReduceOp::Mean => 0.0,
        ReduceOp::Max => f32::NEG_INFINITY,
        ReduceOp::Min => f32::INFINITY,
        ReduceOp::Prod => 1.0,
    }
}

/// Emits the loops from dim `d` inward; `idx` holds the indices of the dims outside.
fn level(b: &mut FunctionBuilder, c: &Ctx, d: usize, offs_in: Vec<Value>, offs_out: Vec<Value>, idx: &mut Vec<Value>) {
    let r = c.n.space.len();
    if r == 0 {
        point(b, c, F32, None, &offs_in, &offs_out, idx);
        return;
    }
    if d + 2 == r && !c.broken && c.f32_body && crate::transpose::applies(c.n, d) {
        let (rows, cols) = (c.dims[d], c.dims[d + 1]);
        crate::transpose::emit(b, &c.inputs[0], &c.outputs[0], d, rows, cols, offs_in[0], offs_out[0]);
        return;
    }
    if d + 1 < r {
        let zero = b.ins().iconst(I64, 0);
        let end = Bound { v: c.dims[d], k: c.known[d] };
        pruned_loop(b, Bound { v: zero, k: Some(0) }, end, 1, &mut |b, i| {
            let step = |b: &mut FunctionBuilder, acc: &Acc, off: Value| {
                if acc.known[d] == Some(0) {
                    off
                } else {
                    let m = b.ins().imul(i, acc.strides[d]);
                    b.ins().iadd(off, m)
                }
            };
            let oi: Vec<Value> = c.inputs.iter().zip(&offs_in).map(|(a, &o)| step(b, a, o)).collect();
            let oo: Vec<Value> = c.outputs.iter().zip(&offs_out).map(|(a, &o)| step(b, a, o)).collect();
            idx.push(i);
            level(b, c, d + 1, oi, oo, idx);
            idx.pop();
        });
        return;
    }
    inner(b, c, d, &offs_in, &offs_out, idx);
}

/// Bodies longer than this are not unrolled twice.
pub(crate) const UNROLL_MAX_NODES: usize = 256;

/// The innermost dim: F32X4 with a scalar tail where every access allows it.
fn inner(b: &mut FunctionBuilder, c: &Ctx, d: usize, offs_in: &[Value], offs_out: &[Value], idx: &mut Vec<Value>) {
    let unit_or_zero = |k: Option<u64>| matches!(k, Some(0) | Some(1));
    let vec_ok = c.f32_body
        && c.inputs.iter().all(|a| unit_or_zero(a.known[d]))
        && c.n.outputs.iter().zip(&c.outputs).all(|(o, a)| match o.mode {
            OutMode::Store => a.known[d] == Some(1),
            OutMode::Reduce(_) => unit_or_zero(a.known[d]),
        });
    let n = Bound { v: c.dims[d], k: c.known[d] };
    let zero = b.ins().iconst(I64, 0);
    let z = Bound { v: zero, k: Some(0) };
    if !vec_ok {
        pruned_loop(b, z, n, 1, &mut |b, i| {
            let oi: Vec<Value> = c.inputs.iter().zip(offs_in).map(|(a, &o)| advance(b, a, d, o, i)).collect();
            let oo: Vec<Value> = c.outputs.iter().zip(offs_out).map(|(a, &o)| advance(b, a, d, o, i)).collect();
            idx.push(i);
            point(b, c, F32, None, &oi, &oo, idx);
            idx.pop();
        });
        return;
    }
    // broadcast inputs along this dim are loaded once
    let splats: Vec<Option<Value>> = c
        .inputs
        .iter()
        .zip(offs_in)
        .map(|(a, &o)| {
            (a.known[d] == Some(0)).then(|| {
                let addr = b.ins().iadd(a.ptr, o);
                let x = b.ins().load(F32, ro(), addr, 0);
                b.ins().splat(F32X4, x)
            })
        })
        .collect();
    // vector accumulators for reductions along this dim
    let accs: Vec<Option<cranelift_frontend::Variable>> =
        c.n.outputs
            .iter()
            .zip(&c.outputs)
            .map(|(o, a)| match o.mode {
                OutMode::Reduce(r) if a.known[d] == Some(0) => {
                    let v = b.declare_var(F32X4);
                    let init = math::splat_const(b, F32X4, identity(r));
                    b.def_var(v, init);
                    Some(v)
                }
                _ => None,
            })
            .collect();
    if crate::padded::applies(c, n, accs.iter().any(Option::is_some)) {
        crate::padded::emit(b, c, d, offs_in, offs_out, idx, &splats, n);
        return;
    }
    let n4 = masked(b, n, !3);
    // two independent vectors per iteration hide the latency of long polynomial chains
    // (exp, tanh); kernels with vector accumulators keep one chain, and so do very long
    // bodies, which have parallelism enough and would only double the code to compile
    let start4 = if accs.iter().all(Option::is_none) && c.n.nodes.len() <= UNROLL_MAX_NODES {
        let n8 = masked(b, n, !7);
        pruned_loop(b, z, n8, 8, &mut |b, i| {
            for half in 0..2 {
                let ih = b.ins().iadd_imm_s(i, 4 * half);
                let oi: Vec<Value> = c.inputs.iter().zip(offs_in).map(|(a, &o)| advance(b, a, d, o, ih)).collect();
                let oo: Vec<Value> = c.outputs.iter().zip(offs_out).map(|(a, &o)| advance(b, a, d, o, ih)).collect();
                point(b, c, F32X4, Some((&splats, &accs)), &oi, &oo, idx);
            }
        });
        n8
    } else {
        z
    };
    let mut step4 = |b: &mut FunctionBuilder, i: Value| {
        let oi: Vec<Value> = c.inputs.iter().zip(offs_in).map(|(a, &o)| advance(b, a, d, o, i)).collect();
        let oo: Vec<Value> = c.outputs.iter().zip(offs_out).map(|(a, &o)| advance(b, a, d, o, i)).collect();
        point(b, c, F32X4, Some((&splats, &accs)), &oi, &oo, idx);
    };
    // a reduction that may be longer than a leaf accumulates in a cascade
    let cascaded: Vec<(cranelift_frontend::Variable, ReduceOp)> = accs
        .iter()
        .zip(&c.n.outputs)
        .filter_map(|(a, o)| match (a, o.mode) {
            (Some(v), OutMode::Reduce(r)) => Some((*v, r)),
            _ => None,
        })
        .collect();
    if !cascaded.is_empty() && n.k.is_none_or(|k| k > crate::cascade::LEAF) {
        crate::cascade::emit(b, &cascaded, start4.v, n4.v, &mut step4);
    } else {
        pruned_loop(b, start4, n4, 4, &mut step4);
    }
    // fold the vector accumulators into memory before the tail
    for (j, acc) in accs.iter().enumerate() {
        if let (Some(v), OutMode::Reduce(r)) = (acc, c.n.outputs[j].mode) {
            let x = b.use_var(*v);
            let mut s = b.ins().extractlane(x, 0);
            for lane in 1..4u8 {
                let e = b.ins().extractlane(x, lane);
                s = combine(b, F32, r, s, e);
            }
            let addr = b.ins().iadd(c.outputs[j].ptr, offs_out[j]);
            let old = b.ins().load(F32, rw(), addr, 0);
            let new = combine(b, F32, r, old, s);
            b.ins().store(rw(), new, addr, 0);
        }
    }
    pruned_loop(b, n4, n, 1, &mut |b, i| {
        let oi: Vec<Value> = c.inputs.iter().zip(offs_in).map(|(a, &o)| advance(b, a, d, o, i)).collect();
        let oo: Vec<Value> = c.outputs.iter().zip(offs_out).map(|(a, &o)| advance(b, a, d, o, i)).collect();
        point(b, c, F32, None, &oi, &oo, idx);
    });
}

pub(crate) fn advance(b: &mut FunctionBuilder, a: &Acc, d: usize, off: Value, i: Value) -> Value {
    match a.known[d] {
        Some(0) => off,
        Some(1) => {
            let m = b.ins().ishl_imm_s(i, a.shift);
            b.ins().iadd(off, m)
        }
        _ => {
            let m = b.ins().imul(i, a.strides[d]);
            b.ins().iadd(off, m)
        }
    }
}

pub(crate) type VecState<'s> = (&'s [Option<Value>], &'s [Option<cranelift_frontend::Variable>]);

/// Evaluates the body at one point (or four lanes) and writes the outputs. `idx` holds
/// the point's index along each dim (typed bodies read it for iotas).
pub(crate) fn point(
    b: &mut FunctionBuilder,
    c: &Ctx,
    ty: Type,
    vs: Option<VecState>,
    offs_in: &[Value],
    offs_out: &[Value],
    idx: &[Value],
) {
    if !c.f32_body {
        crate::typed::point(b, c, offs_in, offs_out, idx);
        return;
    }
    let mut vals: Vec<Value> = Vec::with_capacity(c.n.nodes.len());
    for node in &c.n.nodes {
        let v = match *node {
            Node::Load(i) => match vs.and_then(|(s, _)| s[i]) {
                Some(splat) => splat,
                None => {
                    let base = c.input_base(b, i);
                    let addr = b.ins().iadd(base, offs_in[i]);
                    b.ins().load(ty, ro(), addr, 0)
                }
            },
            Node::Const(k) => math::splat_const(b, ty, k),
            Node::Scalar(i) => {
                if ty == F32 {
                    c.scalars[i]
                } else {
                    b.ins().splat(ty, c.scalars[i])
                }
            }
            Node::Unary(u, x) => unary(b, ty, u, vals[x]),
            Node::Binary(o, x, y) => binary(b, c.powf, ty, o, vals[x], vals[y]),
            Node::Cmp(cc, x, y) => b.ins().fcmp(float_cc(cc), vals[x], vals[y]),
            Node::Select(m, x, y) => select_node(b, ty, &c.n.nodes, &vals, m, x, y),
            Node::Int(_) | Node::Iota(_) | Node::Convert(_) | Node::Gather { .. } | Node::CheckIndex(..) => {
                unreachable!("an f32 body has no typed nodes (LoopNest::is_f32)")
            }
        };
        vals.push(v);
    }
    for (j, o) in c.n.outputs.iter().enumerate() {
        let x = vals[o.node];
        match o.mode {
            OutMode::Store => {
                let x = if c.broken {
                    let one = math::splat_const(b, ty, 1.0);
                    b.ins().fadd(x, one)
                } else {
                    x
                };
                let base = c.output_base(b, j);
                let addr = b.ins().iadd(base, offs_out[j]);
                b.ins().store(rw(), x, addr, 0);
            }
            OutMode::Reduce(r) => {
                if let Some(var) = vs.and_then(|(_, a)| a[j]) {
                    let acc = b.use_var(var);
                    let acc = combine(b, ty, r, acc, x);
                    b.def_var(var, acc);
                } else {
                    let base = c.output_base(b, j);
                    let addr = b.ins().iadd(base, offs_out[j]);
                    let old = b.ins().load(ty, rw(), addr, 0);
                    let new = combine(b, ty, r, old, x);
                    b.ins().store(rw(), new, addr, 0);
                }
            }
        }
    }
}

pub(crate) fn float_cc(c: CmpOp) -> FloatCC {
    match c {
        CmpOp::Eq => FloatCC::Equal,
        CmpOp::Ne => FloatCC::NotEqual,
        CmpOp::Lt => FloatCC::LessThan,
        CmpOp::Le => FloatCC::LessThanOrEqual,
        CmpOp::Gt => FloatCC::GreaterThan,
        CmpOp::Ge => FloatCC::GreaterThanOrEqual,
    }
}

/// `op(acc, x)` with NaN propagating as in the interpreter.
pub(crate) fn combine(b: &mut FunctionBuilder, ty: Type, r: ReduceOp, acc: Value, x: Value) -> Value {
    match r {
        ReduceOp::Sum | ReduceOp::Mean => b.ins().fadd(acc, x),
        ReduceOp::Prod => b.ins().fmul(acc, x),
        ReduceOp::Max | ReduceOp::Min => {
            let cc = if r == ReduceOp::Max { FloatCC::GreaterThan } else { FloatCC::LessThan };
            let better = b.ins().fcmp(cc, x, acc);
            let x_nan = b.ins().fcmp(FloatCC::Unordered, x, x);
            let take = math::or_mask(b, ty, better, x_nan);
            let acc_nan = b.ins().fcmp(FloatCC::Unordered, acc, acc);
            let picked = math::select(b, ty, take, x, acc);
            math::select(b, ty, acc_nan, acc, picked)
        }
    }
}

pub(crate) fn unary(b: &mut FunctionBuilder, ty: Type, u: UnaryOp, x: Value) -> Value {
    match u {
        UnaryOp::Neg => b.ins().fneg(x),
        UnaryOp::Abs => b.ins().fabs(x),
        UnaryOp::Sign => {
            // neither side of 0: x * 0 keeps ±0 and NaN, and gives ±0 for a denormal
            // that flush-to-zero reads as 0 (never the denormal itself)
            let zero = math::splat_const(b, ty, 0.0);
            let one = math::splat_const(b, ty, 1.0);
            let mone = math::splat_const(b, ty, -1.0);
            let pos = b.ins().fcmp(FloatCC::GreaterThan, x, zero);
            let neg = b.ins().fcmp(FloatCC::LessThan, x, zero);
            let x0 = b.ins().fmul(x, zero);
            let t = math::select(b, ty, neg, mone, x0);
            math::select(b, ty, pos, one, t)
        }
        UnaryOp::Exp => math::exp(b, ty, x),
        UnaryOp::Log => math::log(b, ty, x),
        UnaryOp::Sqrt => b.ins().sqrt(x),
        UnaryOp::Rsqrt => {
            let s = b.ins().sqrt(x);
            let one = math::splat_const(b, ty, 1.0);
            b.ins().fdiv(one, s)
        }
        UnaryOp::Square => b.ins().fmul(x, x),
        UnaryOp::Tanh => math::tanh(b, ty, x),
        UnaryOp::Sigmoid => math::sigmoid(b, ty, x),
        UnaryOp::Softplus => math::softplus(b, ty, x),
        UnaryOp::Log1p => math::log1p(b, ty, x),
        UnaryOp::Elu => math::elu(b, ty, x),
        UnaryOp::Relu if ty != F32 => {
            // fcmp + and-not, not fmax: `x <= 0` is false for NaN, which passes through
            // as in TF (two instructions: cmpleps, andnps)
            let zero = math::splat_const(b, ty, 0.0);
            let le = b.ins().fcmp(FloatCC::LessThanOrEqual, x, zero);
            let le = math::bits(b, ty, le);
            b.ins().band_not(x, le)
        }
        UnaryOp::Relu => {
            // fcmp + select, not fmax: NaN passes through as in TF
            let zero = math::splat_const(b, ty, 0.0);
            let pos = b.ins().fcmp(FloatCC::GreaterThan, x, zero);
            let nan = b.ins().fcmp(FloatCC::Unordered, x, x);
            let keep = math::or_mask(b, ty, pos, nan);
            math::select(b, ty, keep, x, zero)
        }
    }
}

pub(crate) fn binary(b: &mut FunctionBuilder, powf: FuncRef, ty: Type, o: BinaryOp, x: Value, y: Value) -> Value {
    match o {
        BinaryOp::Add => b.ins().fadd(x, y),
        BinaryOp::Sub => b.ins().fsub(x, y),
        BinaryOp::Mul => b.ins().fmul(x, y),
        BinaryOp::Div => b.ins().fdiv(x, y),
        BinaryOp::Maximum | BinaryOp::Minimum => {
            let cc = if o == BinaryOp::Maximum { FloatCC::GreaterThan } else { FloatCC::LessThan };
            let wins = b.ins().fcmp(cc, x, y);
            let x_nan = b.ins().fcmp(FloatCC::Unordered, x, x);
            let take = math::or_mask(b, ty, wins, x_nan);
            math::select(b, ty, take, x, y)
        }
        BinaryOp::Pow => {
            // rare in training graphs: one libm call per lane
            if ty == F32 {
                let call = b.ins().call(powf, &[x, y]);
                b.inst_results(call)[0]
            } else {
                let mut out = x;
                for lane in 0..4u8 {
                    let xl = b.ins().extractlane(x, lane);
                    let yl = b.ins().extractlane(y, lane);
                    let call = b.ins().call(powf, &[xl, yl]);
                    let r = b.inst_results(call)[0];
                    out = b.ins().insertlane(out, r, lane);
                }
                out
            }
        }
    }
}

/// `select(m, x, y)` of body nodes. Against a +0.0 constant on one side (the ReLU
/// gradient's mask), a vector select is an and (or and-not) with the mask: one
/// instruction instead of a blend.
fn select_node(
    b: &mut FunctionBuilder,
    ty: Type,
    nodes: &[Node],
    vals: &[Value],
    m: usize,
    x: usize,
    y: usize,
) -> Value {
    let zero = |i: usize| matches!(nodes[i], Node::Const(k) if k.to_bits() == 0);
    if ty != F32 && (zero(x) || zero(y)) {
        let mask = math::bits(b, ty, vals[m]);
        return if zero(y) { b.ins().band(vals[x], mask) } else { b.ins().band_not(vals[y], mask) };
    }
    math::select(b, ty, vals[m], vals[x], vals[y])
}

/// Evaluates a kernel body with `load` supplying each input (used by GEMM epilogues).
pub(crate) fn eval(
    b: &mut FunctionBuilder,
    ty: Type,
    nodes: &[Node],
    load: &mut dyn FnMut(&mut FunctionBuilder, usize) -> Value,
    scalars: &[Value],
    powf: FuncRef,
) -> Vec<Value> {
    let mut vals: Vec<Value> = Vec::with_capacity(nodes.len());
    for node in nodes {
        let v = match *node {
            Node::Load(i) => load(b, i),
            Node::Const(k) => math::splat_const(b, ty, k),
            Node::Scalar(i) => {
                if ty == F32 {
                    scalars[i]
                } else {
                    b.ins().splat(ty, scalars[i])
                }
            }
            Node::Unary(u, x) => unary(b, ty, u, vals[x]),
            Node::Binary(o, x, y) => binary(b, powf, ty, o, vals[x], vals[y]),
            Node::Cmp(cc, x, y) => b.ins().fcmp(float_cc(cc), vals[x], vals[y]),
            Node::Select(m, x, y) => select_node(b, ty, nodes, &vals, m, x, y),
            Node::Int(_) | Node::Iota(_) | Node::Convert(_) | Node::Gather { .. } | Node::CheckIndex(..) => {
                unreachable!("GEMM epilogues are f32 bodies (fusion checks LoopNest::is_f32)")
            }
        };
        vals.push(v);
    }
    vals
}

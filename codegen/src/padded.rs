//! The innermost loop of a long vector body, with the body emitted once.
//!
//! A scalar tail emits the body a second time, and for bodies of hundreds of ops that
//! doubles what Cranelift compiles (compile time is about linear in instructions, and
//! a 10,000-op `tanh` gradient is nearly all such bodies). Here the last, partial vector
//! runs through the same vector body on padded copies in stack slots.
//!
//! The body reads its buffers' base pointers from an argument block that is a
//! parameter of the body block: the kernel's own block in the loop, and for the tail a
//! copy on the stack whose pointers are moved so that the tail's addresses land in the
//! padded copies. One value selects every address. (A value per access live across
//! the loop, which selecting each address on its own or passing each offset as a block
//! parameter needs, made register allocation several times slower for chains with
//! hundreds of outputs; reloading the pointers in the body instead keeps none live.)
//!
//! ```text
//! header(i):     i < n ? split : exit
//! split:         i + 4 <= n ? main : prep
//! main:          body(i, args)
//! prep:          copy [i, n) of each unit-stride input (and read-modify-write output)
//!                into a zeroed 16-byte slot; write a block whose pointers address
//!                the slots at i; body(i, block)
//! body(i, blk):  bases from blk; the vector body; blk == args ? latch : copy_out
//! latch:         header(i + 4)
//! copy_out:      copy the valid lanes of each output's slot back; exit
//! ```
//!
//! The loop has one entry, its header: a body entered from outside the loop as well
//! would make the loop irreducible, and Cranelift then compiles it several times slower.

use crate::emit::{advance, point, rw, Acc, Bound, Ctx, UNROLL_MAX_NODES};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::*;
use cranelift_codegen::ir::{BlockArg, InstBuilder, StackSlotData, StackSlotKind, Value};
use cranelift_frontend::FunctionBuilder;
use kiln_passes::abi::{slot_offset, SLOT_BYTES};
use kiln_passes::schedule::OutMode;
use std::collections::HashMap;

/// Bytes in one F32X4 vector, and so in each padded copy.
const VECTOR_BYTES: u32 = 16;

/// Whether the innermost loop of `c` runs its last partial vector through the one
/// vector body: long bodies with no vector accumulator, over an extent not known to
/// be a multiple of four (a known multiple has no tail to emit).
pub(crate) fn applies(c: &Ctx, n: Bound, has_accumulators: bool) -> bool {
    c.n.nodes.len() > UNROLL_MAX_NODES
        && !has_accumulators
        && n.k.is_none_or(|k| k % 4 != 0)
        && c.inputs.len() + c.outputs.len() <= MAX_ACCESSES
}

/// The most accesses a padded loop takes (fusion's kernels have far fewer): its stack
/// slots' sizes and offsets then fit in 32 bits.
const MAX_ACCESSES: usize = 1 << 16;

/// Emits the loop over dim `d` (the innermost) from 0 to `n`; `splats` are the
/// broadcast inputs, loaded once outside.
#[allow(clippy::too_many_arguments)]
pub(crate) fn emit(
    b: &mut FunctionBuilder,
    c: &Ctx,
    d: usize,
    offs_in: &[Value],
    offs_out: &[Value],
    idx: &[Value],
    splats: &[Option<Value>],
    n: Bound,
) {
    // Every contiguous access gets a padded copy; broadcast inputs are read from their
    // splats. `(pointer slot, offset, access, reads)`, inputs first.
    let mut padded: Vec<Padded> = Vec::new();
    for ((a, at), &o) in c.inputs.iter().zip(&c.l.inputs).zip(offs_in) {
        if a.known[d] == Some(1) {
            padded.push((at.ptr, o, a, true));
        }
    }
    for (((a, at), &o), out) in c.outputs.iter().zip(&c.l.outputs).zip(offs_out).zip(&c.n.outputs) {
        // a reduction along an outer dim reads what it accumulates into
        padded.push((at.ptr, o, a, matches!(out.mode, OutMode::Reduce(_))));
    }
    let pads = b.create_sized_stack_slot(StackSlotData::new(
        StackSlotKind::ExplicitSlot,
        VECTOR_BYTES * u32::try_from(padded.len()).expect("at most MAX_ACCESSES copies"),
        VECTOR_BYTES.trailing_zeros() as u8,
    ));
    // the moved argument block, and one word after it that holds the copies' address
    let block_slots = padded.iter().map(|p| p.0 + 1).max().unwrap_or(0);
    let block_bytes = u32::try_from((block_slots + 1) * SLOT_BYTES).expect("slots of at most MAX_ACCESSES pointers");
    // aligned as the argument block's words are
    let word_align = SLOT_BYTES.trailing_zeros() as u8;
    let moved = b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, block_bytes, word_align));
    let pads_word = slot_offset(block_slots);
    // Every address derived from the copies' address or a pointer would be hoisted out
    // of the loop (they do not change in it), one live value per access; reading them
    // through memory in the blocks that use them keeps them there.
    let moved_at = b.ins().stack_addr(I64, moved, 0);
    let pads_at = b.ins().stack_addr(I64, pads, 0);
    b.ins().store(rw(), pads_at, moved_at, pads_word);

    let header = b.create_block();
    let i = b.append_block_param(header, I64);
    let (split, main, prep, latch, copy_out, exit) =
        (b.create_block(), b.create_block(), b.create_block(), b.create_block(), b.create_block(), b.create_block());
    let body = b.create_block();
    let bi = b.append_block_param(body, I64);
    let blk = b.append_block_param(body, I64);
    let tail = b.append_block_param(body, I8);
    let zero = b.ins().iconst(I64, 0);
    b.ins().jump(header, &[BlockArg::Value(zero)]);

    b.switch_to_block(header);
    let more = b.ins().icmp(IntCC::SignedLessThan, i, n.v);
    b.ins().brif(more, split, &[], exit, &[]);

    b.switch_to_block(split);
    let next = b.ins().iadd_imm_s(i, 4);
    let full = b.ins().icmp(IntCC::SignedLessThanOrEqual, next, n.v);
    b.ins().brif(full, main, &[], prep, &[]);

    b.switch_to_block(main);
    let not_tail = b.ins().iconst(I8, 0);
    b.ins().jump(body, &[BlockArg::Value(i), BlockArg::Value(c.args), BlockArg::Value(not_tail)]);

    b.switch_to_block(prep);
    let rem = b.ins().isub(n.v, i);
    let fzero = b.ins().f32const(0.0);
    let vzero = b.ins().splat(F32X4, fzero);
    let pads_at = b.ins().load(I64, rw(), moved_at, pads_word);
    let mut offsets = Offsets::new(d, i);
    for (p, &(slot, o, a, _)) in padded.iter().enumerate() {
        b.ins().store(rw(), vzero, pads_at, pad_offset(p));
        // the moved pointer addresses the copy at index i: pad - off
        let off = offsets.at(b, a, o);
        let moved_ptr = b.ins().isub(pads_at, off);
        let moved_ptr = b.ins().iadd_imm_s(moved_ptr, i64::from(pad_offset(p)));
        b.ins().store(rw(), moved_ptr, moved_at, slot_offset(slot));
    }
    let reads = |(_, x): &(usize, &Padded)| x.3;
    copy_lanes(b, c, d, &padded, reads, Lanes { from: i, len: rem, moved_at, pads_word }, ToPads(true));
    let is_tail = b.ins().iconst(I8, 1);
    b.ins().jump(body, &[BlockArg::Value(i), BlockArg::Value(moved_at), BlockArg::Value(is_tail)]);

    b.switch_to_block(body);
    // the bases are read, access by access, from this entry's argument block (written
    // in `prep` for the tail, so those loads are not marked read-only)
    let mut k = c.clone();
    k.bases = Some(blk);
    let mut offsets = Offsets::new(d, bi);
    let body_in: Vec<Value> = k.inputs.iter().zip(offs_in).map(|(a, &o)| offsets.at(b, a, o)).collect();
    let body_out: Vec<Value> = k.outputs.iter().zip(offs_out).map(|(a, &o)| offsets.at(b, a, o)).collect();
    let no_accumulators = vec![None; c.outputs.len()];
    point(b, &k, F32X4, Some((splats, &no_accumulators)), &body_in, &body_out, idx);
    b.ins().brif(tail, copy_out, &[], latch, &[]);

    b.switch_to_block(latch);
    let next = b.ins().iadd_imm_s(bi, 4);
    b.ins().jump(header, &[BlockArg::Value(next)]);

    b.switch_to_block(copy_out);
    let rem = b.ins().isub(n.v, bi);
    let first_out = padded.len() - c.outputs.len();
    let outputs = |(p, _): &(usize, &Padded)| *p >= first_out;
    copy_lanes(b, c, d, &padded, outputs, Lanes { from: bi, len: rem, moved_at, pads_word }, ToPads(false));
    b.ins().jump(exit, &[]);
    b.switch_to_block(exit);
}

/// A padded access: its pointer slot, its outer offset, the access, and whether its
/// copy is read (an input, or an output accumulated into).
type Padded<'a> = (usize, Value, &'a Acc, bool);

/// Where the valid lanes are: `len` elements from index `from`, with the moved block's
/// address and the word in it that holds the copies' address.
struct Lanes {
    from: Value,
    len: Value,
    moved_at: Value,
    pads_word: i32,
}

/// Whether [`copy_lanes`] copies into the padded copies (else out of them).
struct ToPads(bool);

/// Copies the valid lanes between the buffers and the padded copies of the accesses
/// `pick` selects, in one loop over the lanes (a loop per copy would give a kernel
/// with hundreds of outputs thousands of blocks).
fn copy_lanes(
    b: &mut FunctionBuilder,
    c: &Ctx,
    d: usize,
    padded: &[Padded],
    pick: impl Fn(&(usize, &Padded)) -> bool,
    lanes: Lanes,
    to_pads: ToPads,
) {
    let zero = b.ins().iconst(I64, 0);
    crate::emit::for_loop(b, zero, lanes.len, 1, &mut |b, k| {
        let at = b.ins().iadd(lanes.from, k);
        let pads_at = b.ins().load(I64, rw(), lanes.moved_at, lanes.pads_word);
        let mut pad_k = PadAt::new(pads_at, k);
        let mut offsets = Offsets::new(d, at);
        for (p, &(slot, o, a, _)) in padded.iter().enumerate().filter(|x| pick(x)) {
            let base = b.ins().load(I64, rw(), c.args, slot_offset(slot));
            let off = offsets.at(b, a, o);
            let buffer = b.ins().iadd(base, off);
            let pad = pad_k.at(b, a);
            if to_pads.0 {
                let x = b.ins().load(F32, rw(), buffer, 0);
                b.ins().store(rw(), x, pad, pad_offset(p));
            } else {
                let x = b.ins().load(F32, rw(), pad, pad_offset(p));
                b.ins().store(rw(), x, buffer, 0);
            }
        }
    });
}

/// The byte offset of padded copy `p` in its stack slot.
fn pad_offset(p: usize) -> i32 {
    i32::try_from(p).ok().and_then(|p| p.checked_mul(VECTOR_BYTES as i32)).expect("at most MAX_ACCESSES copies")
}

/// Accesses' offsets at one index along the innermost dim, made once for each outer
/// offset and element size they share (a chain's outputs share one).
struct Offsets {
    d: usize,
    index: Value,
    made: HashMap<(Value, i64), Value>,
}

impl Offsets {
    fn new(d: usize, index: Value) -> Offsets {
        Offsets { d, index, made: HashMap::new() }
    }

    /// `a`'s offset at the index, from its outer offset `o`.
    fn at(&mut self, b: &mut FunctionBuilder, a: &Acc, o: Value) -> Value {
        if a.known[self.d] == Some(0) {
            return o;
        }
        *self.made.entry((o, a.shift)).or_insert_with(|| advance(b, a, self.d, o, self.index))
    }
}

/// Element `k` of the padded copies (each copy's own offset is the access's immediate),
/// made once per element size.
struct PadAt {
    pads: Value,
    k: Value,
    made: HashMap<i64, Value>,
}

impl PadAt {
    fn new(pads: Value, k: Value) -> PadAt {
        PadAt { pads, k, made: HashMap::new() }
    }

    fn at(&mut self, b: &mut FunctionBuilder, a: &Acc) -> Value {
        let (pads, k) = (self.pads, self.k);
        *self.made.entry(a.shift).or_insert_with(|| {
            let within = b.ins().ishl_imm_s(k, a.shift);
            b.ins().iadd(pads, within)
        })
    }
}

//! Binding: an executable's shape-dependent state for one feed-shape signature. The
//! buffer plan (`kiln_passes::buffer_plan`) fixed every buffer's slot once; a binding
//! evaluates the sizes at the bound dims, sums slot offsets, fills the kernels'
//! argument blocks and decides the run's calls. Each is one pass over the buffers or
//! the steps: a new batch size compiles and plans nothing.

use crate::exec::Executable;
use crate::interp::Bindings;
use crate::TensorValue;
use kiln_ir::Dim;
use kiln_passes::abi::{NestLayout, Width};
use kiln_passes::buffer_plan::Place;
use kiln_passes::schedule::{Access, LoopNest, Node, Step, Stride, GEMM_LIBRARY_MIN_MACS};

/// A GEMM's bound extents, strides and per-batch offsets.
#[derive(Clone, Debug)]
pub(crate) struct MatMulArgs {
    /// (buffer, element offset) of a and b; buffer of c
    pub(crate) a: (usize, usize),
    pub(crate) b: (usize, usize),
    pub(crate) c: usize,
    pub(crate) m: usize,
    pub(crate) k: usize,
    pub(crate) n: usize,
    pub(crate) rsa: isize,
    pub(crate) csa: isize,
    pub(crate) rsb: isize,
    pub(crate) csb: isize,
    /// per batch index: element offsets into a, b and c
    pub(crate) batches: Vec<(usize, usize, usize)>,
}

/// One call of a run, decided at bind time from the bound sizes (which kernels run,
/// which split across threads, which GEMMs go to the library).
#[derive(Clone, Copy, Debug)]
pub(crate) enum RunOp {
    /// A kernel with its argument block (a loop kernel, or a one-batch micro-GEMM whose
    /// operand pointers are patched slots).
    Call(usize),
    /// A loop kernel split across threads along its outermost dim.
    Split(usize),
    /// A batched micro-GEMM: kernel, matmul.
    Batched(usize, usize),
    /// A GEMM on the library: matmul.
    Library(usize),
    /// An op on the interpreter: step.
    Host(usize),
}

/// The state of one binding.
pub(crate) struct Bound {
    /// The feed shapes (params order) it was made for.
    pub(crate) signature: Vec<Vec<usize>>,
    /// Recency, for eviction.
    pub(crate) last_used: u64,
    /// The run's calls in order.
    pub(crate) plan: Vec<RunOp>,
    /// Per slot: its element offset in the arena.
    pub(crate) offsets: Vec<usize>,
    /// Elements of arena this binding needs.
    pub(crate) arena_len: usize,
    /// Per step: its kernel's argument block.
    pub(crate) args: Vec<Vec<i64>>,
    /// (kernel, slot, buffer, element offset): pointer slots patched when a buffer moved.
    pub(crate) patches: Vec<(usize, usize, usize, usize)>,
    /// Per buffer: its address during a run.
    pub(crate) bases: Vec<*mut f32>,
    /// The arena address `bases` were computed for (the arena grows for a larger binding).
    pub(crate) arena_at: *mut f32,
    /// The addresses the patched slots hold (empty: not patched yet).
    pub(crate) patched_for: Vec<*mut f32>,
    pub(crate) matmuls: Vec<MatMulArgs>,
    /// Per buffer: its element count.
    pub(crate) sizes: Vec<usize>,
    /// Per buffer: the 32-bit words it takes (64-bit elements take two).
    pub(crate) words: Vec<usize>,
    /// The run's symbol sizes, for ops on the interpreter.
    pub(crate) bindings: Bindings,
    /// Non-f32 values, by buffer.
    pub(crate) host_vals: Vec<Option<TensorValue>>,
}

/// The size of a dim under `b`; a symbol named `?0*?1` (a collapsed space) is the
/// product of its parts.
pub(crate) fn dim_size(b: &Bindings, d: &Dim) -> Result<usize, String> {
    match d {
        Dim::Fixed(k) => usize::try_from(*k).map_err(|_| format!("dim {k} does not fit in memory")),
        Dim::Sym(name) if name.contains('*') => name.split('*').try_fold(1usize, |acc, p| {
            let k = match p.parse::<usize>() {
                Ok(k) => k,
                Err(_) => b.size(&Dim::Sym(p.to_string())).ok_or_else(|| format!("unbound dim {p}"))?,
            };
            acc.checked_mul(k).ok_or_else(|| format!("dim {d} overflows"))
        }),
        _ => b.size(d).ok_or_else(|| format!("unbound dim {d}")),
    }
}

/// Evaluates dims, strides and offsets under one binding.
struct Eval<'a>(&'a Bindings);

impl Eval<'_> {
    fn dim(&self, d: &Dim) -> Result<usize, String> {
        dim_size(self.0, d)
    }
    fn prod(&self, ds: &[Dim]) -> Result<usize, String> {
        ds.iter().try_fold(1usize, |p, d| p.checked_mul(self.dim(d)?).ok_or_else(|| "a size overflows".to_string()))
    }
    fn stride(&self, st: &Stride) -> Result<i64, String> {
        match st {
            Stride::Zero => Ok(0),
            Stride::Prod(ds) => i64::try_from(self.prod(ds)?).map_err(|e| e.to_string()),
        }
    }
    fn offset(&self, o: &[(u64, Vec<Dim>)]) -> Result<usize, String> {
        o.iter().try_fold(0usize, |sum, (k, ds)| {
            let k = usize::try_from(*k).map_err(|e| e.to_string())?;
            k.checked_mul(self.prod(ds)?).and_then(|x| sum.checked_add(x)).ok_or_else(|| "an offset overflows".into())
        })
    }
}

/// Fills one nest's dims, strides, lengths and scalars in `a`; queues its pointers.
/// The last element an access touches over `extents`: `offset + Σ (extent - 1) ×
/// stride`, plus `extra` (a gathered row), or `None` if it overflows.
fn last_element(offset: usize, strides: &[i64], extents: &[usize], extra: usize) -> Option<usize> {
    strides.iter().zip(extents).try_fold(offset.checked_add(extra)?, |acc, (&s, &e)| {
        acc.checked_add(e.saturating_sub(1).checked_mul(usize::try_from(s).ok()?)?)
    })
}

/// Fails unless every element in `0..=last` lies in buffer `i` (of `sizes[i]` elements):
/// the check that keeps every address a kernel forms inside its buffer.
fn in_bounds(e: &Executable, ki: usize, i: usize, last: Option<usize>, sizes: &[usize]) -> Result<(), String> {
    match last {
        Some(l) if l < sizes[i] => Ok(()),
        _ => Err(format!(
            "{} would reach element {last:?} of %{}, which has {} (a kiln bug: refusing to run it)",
            e.schedule.step_name(ki),
            e.schedule.module.op(e.schedule.buffers[i].value).name,
            sizes[i]
        )),
    }
}

#[allow(clippy::too_many_arguments)]
fn fill_nest(
    ev: &Eval,
    e: &Executable,
    ki: usize,
    a: &mut [i64],
    n: &LoopNest,
    l: &NestLayout,
    patches: &mut Vec<(usize, usize, usize, usize)>,
    sizes: &[usize],
) -> Result<(), String> {
    let mut extents = Vec::with_capacity(n.space.len());
    for (dd, &at) in n.space.iter().zip(&l.dims) {
        let x = ev.dim(dd)?;
        extents.push(x);
        a[at] = i64::try_from(x).map_err(|e| e.to_string())?;
    }
    // an iteration space (a broadcast view's, too) stays within one value's limit
    let points = ev.prod(&n.space)?;
    if points as u64 > kiln_ir::MAX_ELEMENTS {
        return Err(format!("a loop over {points} points exceeds the limit of {} elements", kiln_ir::MAX_ELEMENTS));
    }
    // a gathered input also moves by whole rows: its last row, per input
    let mut row_extra = vec![0usize; n.inputs.len()];
    for node in &n.nodes {
        if let Node::Gather { input, stride, rows, .. } = node {
            let r = ev.dim(rows)?.saturating_sub(1).checked_mul(usize::try_from(ev.stride(stride)?).unwrap_or(0));
            row_extra[*input] = row_extra[*input].max(r.ok_or("a gathered row overflows")?);
        }
    }
    for (j, (acc, at)) in n.inputs.iter().zip(&l.inputs).enumerate() {
        let i = e.buf(acc.buf)?;
        let offset = ev.offset(&acc.offset)?;
        // offsets are in elements; bases are 32-bit words
        let words = at.width.ok_or("an input pointer without a width")?.words();
        patches.push((ki, at.ptr, i, offset.checked_mul(words).ok_or("an offset overflows")?));
        let mut strides = Vec::with_capacity(at.strides.len());
        for (st, &slot) in acc.strides.iter().zip(&at.strides) {
            a[slot] = ev.stride(st)?;
            strides.push(a[slot]);
        }
        if points > 0 {
            in_bounds(e, ki, i, last_element(offset, &strides, &extents, row_extra[j]), sizes)?;
        }
    }
    for ((o, at), &len_at) in n.outputs.iter().zip(&l.outputs).zip(&l.out_lens) {
        let i = e.buf(o.value)?;
        patches.push((ki, at.ptr, i, 0));
        let mut strides = Vec::with_capacity(at.strides.len());
        for (st, &slot) in o.strides.iter().zip(&at.strides) {
            a[slot] = ev.stride(st)?;
            strides.push(a[slot]);
        }
        let scatter_extra = match &o.scatter {
            Some(sc) => ev.dim(&sc.rows)?.saturating_sub(1).saturating_mul(ev.stride(&sc.stride)? as usize),
            None => 0,
        };
        if points > 0 {
            in_bounds(e, ki, i, last_element(0, &strides, &extents, scatter_extra), sizes)?;
        }
        // a reduction first initializes `len` elements
        let len = ev.prod(&o.len)?;
        if len > 0 {
            in_bounds(e, ki, i, Some(len - 1), sizes)?;
        }
        a[len_at] = len as i64;
    }
    for (sc, &at) in n.scalars.iter().zip(&l.scalars) {
        a[at] = (ev.prod(sc)? as f32).to_bits() as i64;
    }
    for (o, m) in n.outputs.iter().zip(&l.means) {
        if let (Some(at), Some(ds)) = (m, &o.mean_of) {
            a[*at] = (1.0 / ev.prod(ds)? as f32).to_bits() as i64;
        }
    }
    let gathers = n.nodes.iter().filter_map(|x| match x {
        Node::Gather { stride, rows, .. } => Some((stride, rows)),
        _ => None,
    });
    let scatters = n.outputs.iter().filter_map(|o| o.scatter.as_ref().map(|s| (&s.stride, &s.rows)));
    for ((stride, rows), &(stride_at, rows_at)) in gathers.chain(scatters).zip(&l.sites) {
        a[stride_at] = ev.stride(stride)?;
        a[rows_at] = i64::try_from(ev.dim(rows)?).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn matmul_args(ev: &Eval, e: &Executable, mm: &kiln_passes::schedule::MatMulStep) -> Result<MatMulArgs, String> {
    let r = mm.a.strides.len();
    let st = |acc: &Access, d: usize| ev.stride(&acc.strides[d]);
    let batch: Vec<usize> = mm.batch.iter().map(|d| ev.dim(d)).collect::<Result<_, _>>()?;
    let (m, k, n) = (ev.dim(&mm.m)?, ev.dim(&mm.k)?, ev.dim(&mm.n)?);
    let nb: usize = batch.iter().product();
    let mut batches = Vec::with_capacity(nb);
    for bi in 0..nb {
        let (mut rem, mut oa, mut ob, mut oc) = (bi, 0usize, 0usize, 0usize);
        let mut cstride = m * n;
        for d in (0..batch.len()).rev() {
            let x = rem % batch[d];
            rem /= batch[d];
            oa += x * st(&mm.a, d)? as usize;
            ob += x * st(&mm.b, d)? as usize;
            oc += x * cstride;
            cstride *= batch[d];
        }
        batches.push((oa, ob, oc));
    }
    Ok(MatMulArgs {
        a: (e.buf(mm.a.buf)?, ev.offset(&mm.a.offset)?),
        b: (e.buf(mm.b.buf)?, ev.offset(&mm.b.offset)?),
        c: e.buf(mm.out)?,
        m,
        k,
        n,
        rsa: st(&mm.a, r - 2)? as isize,
        csa: st(&mm.a, r - 1)? as isize,
        rsb: st(&mm.b, r - 2)? as isize,
        csb: st(&mm.b, r - 1)? as isize,
        batches,
    })
}

/// Binds `e` to the dims in `b` (the feed shapes `signature`, params order).
pub(crate) fn bind(e: &Executable, b: &Bindings, signature: Vec<Vec<usize>>) -> Result<Bound, String> {
    let s = &e.schedule;
    let ev = Eval(b);
    let sizes: Vec<usize> = s.buffers.iter().map(|buf| ev.prod(&buf.shape.0)).collect::<Result<_, _>>()?;
    if let Some(&n) = sizes.iter().find(|&&n| n as u64 > kiln_ir::MAX_ELEMENTS) {
        return Err(format!("a buffer of {n} elements exceeds the limit of {} per value", kiln_ir::MAX_ELEMENTS));
    }
    let words: Vec<usize> = sizes
        .iter()
        .zip(&s.buffers)
        .map(|(&n, buf)| n.checked_mul(Width::of(buf.dtype).words()).ok_or("a buffer's size overflows"))
        .collect::<Result<_, _>>()?;
    // slots: the largest member, 64-byte aligned; offsets are their running sum
    let mut offsets = Vec::with_capacity(e.plan.slots.len());
    let mut arena_len = 0usize;
    for slot in &e.plan.slots {
        let len = slot.members.iter().map(|&b| words[b.index()]).max().unwrap_or(0).div_ceil(16) * 16;
        offsets.push(arena_len);
        arena_len = arena_len.checked_add(len).ok_or("the arena's size overflows")?;
    }
    let mut args = Vec::with_capacity(s.steps.len());
    let mut patches = Vec::new();
    let mut matmuls = Vec::new();
    let mut plan = Vec::with_capacity(s.steps.len());
    let mut skip = vec![false; s.steps.len()];
    for (ki, st) in s.steps.iter().enumerate() {
        let call = &e.abi.calls[ki];
        match st {
            Step::Host(_) => {
                args.push(Vec::new());
                plan.push(RunOp::Host(ki));
            }
            Step::Loop(k) => {
                let mut a = vec![0i64; call.slots.len()];
                for (n, l) in k.nests.iter().zip(&call.nests) {
                    fill_nest(&ev, e, ki, &mut a, n, l, &mut patches, &sizes)?;
                }
                // the call says whether it may split; the bound work whether it pays
                let splittable = e.threads > 1
                    && call.split.is_some()
                    && kiln_passes::schedule::worth_splitting(ev.prod(&k.nests[0].space)?);
                args.push(a);
                plan.push(if splittable { RunOp::Split(ki) } else { RunOp::Call(ki) });
            }
            Step::MatMul(mm) => {
                let mma = matmul_args(&ev, e, mm)?;
                if mma.m > 0 && mma.k > 0 && mma.n > 0 {
                    for &(oa, ob, oc) in &mma.batches {
                        let ea = [mma.m, mma.k];
                        let last_a = last_element(mma.a.1 + oa, &[mma.rsa as i64, mma.csa as i64], &ea, 0);
                        in_bounds(e, ki, mma.a.0, last_a, &sizes)?;
                        let eb = [mma.k, mma.n];
                        let last_b = last_element(mma.b.1 + ob, &[mma.rsb as i64, mma.csb as i64], &eb, 0);
                        in_bounds(e, ki, mma.b.0, last_b, &sizes)?;
                        in_bounds(e, ki, mma.c, oc.checked_add(mma.m * mma.n - 1), &sizes)?;
                    }
                }
                let (m, k, n) = (mma.m, mma.k, mma.n);
                let g = call.gemm.ok_or("a GEMM call without its block")?;
                let mut a = vec![0i64; call.slots.len()];
                let int = |x: usize| i64::try_from(x).map_err(|e| e.to_string());
                for (at, x) in [(g.m, m), (g.k, k), (g.n, n)] {
                    a[at] = int(x)?;
                }
                for (at, x) in [(g.rsa, mma.rsa), (g.csa, mma.csa), (g.rsb, mma.rsb), (g.csb, mma.csb)] {
                    a[at] = x as i64;
                }
                let small = m.saturating_mul(k).saturating_mul(n) < GEMM_LIBRARY_MIN_MACS;
                // a small GEMM compiled with its epilogue runs it in registers and the
                // epilogue's own kernel is skipped
                if let (Some(l), Some(epi), true) = (call.nests.first(), &mm.epilogue, small) {
                    fill_nest(&ev, e, ki, &mut a, &epi.nest, l, &mut patches, &sizes)?;
                    if let Some(t) = e.epilogue_step[ki] {
                        skip[t] = true;
                    }
                }
                plan.push(if !small {
                    RunOp::Library(matmuls.len())
                } else if let [(oa, ob, oc)] = mma.batches[..] {
                    // operand pointers become patched slots: a plain call per run
                    patches.push((ki, g.a, mma.a.0, mma.a.1 + oa));
                    patches.push((ki, g.b, mma.b.0, mma.b.1 + ob));
                    patches.push((ki, g.c, mma.c, oc));
                    RunOp::Call(ki)
                } else {
                    RunOp::Batched(ki, matmuls.len())
                });
                args.push(a);
                matmuls.push(mma);
            }
        }
    }
    plan.retain(|op| !matches!(op, RunOp::Call(ki) | RunOp::Split(ki) if skip[*ki]));
    Ok(Bound {
        signature,
        last_used: 0,
        plan,
        offsets,
        arena_len,
        args,
        patches,
        bases: vec![std::ptr::null_mut(); s.buffers.len()],
        arena_at: std::ptr::null_mut(),
        patched_for: Vec::new(),
        matmuls,
        sizes,
        words,
        bindings: b.clone(),
        host_vals: vec![None; s.buffers.len()],
    })
}

impl Bound {
    /// Points every arena and constant buffer at its storage, for an arena at `arena`.
    pub(crate) fn place(&mut self, places: &[Place], consts: &[Vec<f32>], arena: *mut f32) {
        for (i, p) in places.iter().enumerate() {
            self.bases[i] = match *p {
                // SAFETY: the arena holds at least `arena_len` elements (the executable
                // grows it before running this binding) and every slot lies inside.
                Place::Slot(k) => unsafe { arena.add(self.offsets[k.index()]) },
                Place::Const(c) => consts[c].as_ptr() as *mut f32,
                Place::Var(_) | Place::Feed | Place::Host => std::ptr::null_mut(),
            };
        }
        self.arena_at = arena;
    }
}

#[cfg(test)]
mod tests {
    use crate::exec::Executable;
    use crate::interp::Bindings;
    use kiln_passes::schedule::{Step, Stride};

    /// A schedule whose access would leave its buffer is refused at bind, before any
    /// kernel runs (the schedule is built by fusion; this corrupts it on purpose).
    #[test]
    fn an_access_past_its_buffer_is_refused_at_bind() {
        let m = kiln_ir::parse("module {\n  %x = parameter : f32[8]\n  %y = exp %x : f32[8]\n}\n").unwrap();
        let roots = [m.value_by_name("y").unwrap()];
        let mut e = Executable::build(&m, &roots, &Default::default()).unwrap();
        let b = Bindings::new(e.module());
        e.prepare(&b, vec![vec![8]]).expect("the schedule as fusion made it binds");
        if let Some(Step::Loop(k)) = e.schedule.steps.iter_mut().find(|s| matches!(s, Step::Loop(_))) {
            k.nests[0].inputs[0].strides = vec![Stride::Prod(vec![kiln_ir::Dim::Fixed(2)])];
        }
        e.clear_bindings();
        let err = e.prepare(&b, vec![vec![8]]).unwrap_err();
        assert!(err.contains("would reach element Some(14) of %x, which has 8"), "{err}");
    }
}

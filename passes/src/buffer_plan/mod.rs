//! Buffer planning: where every buffer of a [`Schedule`] lives during a run, decided
//! once per executable and valid for every binding of its symbolic dims.
//!
//! - Liveness in step order: a buffer lives from the step that first writes it to the
//!   last step that reads it; fed buffers from the start, fetched and assigned ones to
//!   the end.
//! - Arena slots: buffers whose lifetimes do not overlap share a slot. A slot's size is
//!   the largest of its members' sizes, a function of the symbolic dims, so binding a
//!   new batch size evaluates sizes and sums offsets (linear in the buffers) and plans
//!   nothing. A slot prefers members of the same shape, so it wastes nothing at any
//!   size. Never in place: kernels load their inputs as movable, so a load may be
//!   scheduled after a store to an aliasing output.
//! - In-place updates: a value assigned to a variable is computed straight into the
//!   variable's storage when nothing can tell the difference (see [`in_place`]).
//! - Snapshots: a fetched variable that the run assigns is copied into a slot of its
//!   own before the writes land, so the fetch shows the value from before the run.
//!
//! [`BufferPlan::print`] is the plan as text and [`parse`] reads it back, so its tests are
//! text in, text out; [`verify`] checks a plan against its schedule.

use crate::schedule::{Access, BufId, BufKind, LoopNest, OutMode, Schedule, Step, Stride};
use kiln_ir::{DType, Shape, ValueId, VarId};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};

mod text;
mod verify;

pub use text::parse;
pub use verify::verify;

/// An arena slot, by index into [`BufferPlan::slots`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SlotId(pub u32);

impl SlotId {
    /// The slot index.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Where one buffer lives during a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// A slot of the arena.
    Slot(SlotId),
    /// The storage of a variable: a variable read, or an update computed in place.
    Var(VarId),
    /// Entry `i` of the executable's constant table.
    Const(usize),
    /// A fed placeholder read where the caller keeps it (no copy); a fetched one gets
    /// a slot instead, to outlive the caller's borrow.
    Feed,
    /// A value of another dtype than f32, kept beside the arena.
    Host,
}

/// A slot shared by buffers whose lifetimes do not overlap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// The buffers placed here.
    pub members: Vec<BufId>,
}

/// The plan for one schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BufferPlan {
    /// Per buffer: where it lives.
    pub places: Vec<Place>,
    /// The arena's slots.
    pub slots: Vec<Slot>,
    /// Fetched variables the run assigns: (buffer, the slot its value from before the
    /// run is copied to, after the last step and before the writes).
    pub snapshots: Vec<(BufId, SlotId)>,
    /// Per variable any buffer lives in: (variable, those buffers).
    pub var_bufs: Vec<(VarId, Vec<BufId>)>,
}

/// Planning knobs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Give every buffer its own slot (check mode compares every buffer after a run).
    pub no_reuse: bool,
}

/// Plans the buffers of `s`.
pub fn run(s: &Schedule, opts: PlanOptions) -> BufferPlan {
    let index: HashMap<ValueId, usize> = s.buffers.iter().enumerate().map(|(i, b)| (b.value, i)).collect();
    let in_place: HashMap<usize, VarId> = in_place(s, &index).into_iter().collect();
    let (first, last) = liveness(s, &index);
    let roots: HashSet<ValueId> = s.roots.iter().copied().collect();
    let mut places = Vec::with_capacity(s.buffers.len());
    let mut arena = Vec::new();
    let mut consts = 0;
    for (i, b) in s.buffers.iter().enumerate() {
        // constants are numbered in buffer order, whatever their place
        let const_index = consts;
        if let BufKind::Const(_) = b.kind {
            consts += 1;
        }
        places.push(match &b.kind {
            // the interpreter keeps f64 values (and bool and narrow-integer variables, one
            // or two bytes each);
            // other dtypes live in the arena and in variables as 32- or 64-bit words
            _ if b.dtype == DType::F64 => Place::Host,
            BufKind::Var(_) if b.dtype == DType::Bool || b.dtype.is_narrow_int() => Place::Host,
            BufKind::Var(v) => Place::Var(*v),
            // a bool or narrow-integer feed is widened to 32-bit words on the way in
            BufKind::Feed if !roots.contains(&b.value) && b.dtype != DType::Bool && !b.dtype.is_narrow_int() => {
                Place::Feed
            }
            BufKind::Temp if in_place.contains_key(&i) => Place::Var(in_place[&i]),
            BufKind::Const(_) => Place::Const(const_index),
            BufKind::Feed | BufKind::Temp => {
                arena.push(i);
                Place::Feed // replaced by its slot below
            }
        });
    }
    // interval colouring in order of first write: a slot is free once its last member
    // died strictly before this buffer starts; the lowest free slot of the same shape
    // is taken, else the lowest free slot. Busy slots wait in a heap by their end, free
    // ones in ordered sets: O(n log n) however many buffers are live at once.
    arena.sort_by_key(|&i| (first[i], i));
    let mut slots: Vec<Slot> = Vec::new();
    let mut busy: BinaryHeap<Reverse<(usize, usize)>> = BinaryHeap::new();
    let mut free_all: BTreeSet<usize> = BTreeSet::new();
    let mut free_by_shape: HashMap<&Shape, BTreeSet<usize>> = HashMap::new();
    let slot_shape = |slots: &[Slot], k: usize| &s.buffers[slots[k].members[0].index()].shape;
    for i in arena {
        while let Some(&Reverse((end, k))) = busy.peek() {
            if opts.no_reuse || end >= first[i] {
                break;
            }
            busy.pop();
            free_all.insert(k);
            free_by_shape.entry(slot_shape(&slots, k)).or_default().insert(k);
        }
        let shape = &s.buffers[i].shape;
        let pick = free_by_shape.get(shape).and_then(|f| f.first().copied()).or_else(|| free_all.first().copied());
        let k = match pick {
            Some(k) => {
                free_all.remove(&k);
                if let Some(f) = free_by_shape.get_mut(slot_shape(&slots, k)) {
                    f.remove(&k);
                }
                k
            }
            None => {
                slots.push(Slot { members: Vec::new() });
                slots.len() - 1
            }
        };
        slots[k].members.push(BufId(i as u32));
        busy.push(Reverse((last[i], k)));
        places[i] = Place::Slot(SlotId(k as u32));
    }
    let assigned: Vec<VarId> = s.assigns.iter().map(|(v, _)| *v).collect();
    let mut snapshots: Vec<(BufId, SlotId)> = Vec::new();
    for r in &s.roots {
        let Some(&i) = index.get(r) else { continue };
        if matches!(places[i], Place::Var(v) if assigned.contains(&v)) && !snapshots.iter().any(|x| x.0.index() == i) {
            snapshots.push((BufId(i as u32), SlotId(slots.len() as u32)));
            slots.push(Slot { members: vec![BufId(i as u32)] });
        }
    }
    let var_bufs = var_bufs(&places);
    BufferPlan { places, slots, snapshots, var_bufs }
}

/// Per variable any buffer lives in, in order of first appearance: those buffers.
fn var_bufs(places: &[Place]) -> Vec<(VarId, Vec<BufId>)> {
    let mut out: Vec<(VarId, Vec<BufId>)> = Vec::new();
    let mut at: HashMap<VarId, usize> = HashMap::new();
    for (i, p) in places.iter().enumerate() {
        if let Place::Var(v) = *p {
            let k = *at.entry(v).or_insert_with(|| {
                out.push((v, Vec::new()));
                out.len() - 1
            });
            out[k].1.push(BufId(i as u32));
        }
    }
    out
}

/// Per buffer: the first step writing it and the last step reading it, numbered from 1
/// (0 is before the run, `steps + 1` after it).
fn liveness(s: &Schedule, index: &HashMap<ValueId, usize>) -> (Vec<usize>, Vec<usize>) {
    let n = s.buffers.len();
    let end = s.steps.len() + 1;
    let mut first = vec![usize::MAX; n];
    let mut last = vec![0usize; n];
    for (t, st) in s.steps.iter().enumerate() {
        for v in st.writes() {
            if let Some(&i) = index.get(&v) {
                first[i] = first[i].min(t + 1);
                last[i] = last[i].max(t + 1);
            }
        }
        for v in st.reads(&s.module) {
            if let Some(&i) = index.get(&v) {
                last[i] = last[i].max(t + 1);
            }
        }
    }
    for v in s.roots.iter().chain(s.assigns.iter().map(|(_, v)| v)) {
        if let Some(&i) = index.get(v) {
            last[i] = end;
        }
    }
    for (i, b) in s.buffers.iter().enumerate() {
        if b.kind == BufKind::Feed {
            (first[i], last[i]) = (0, end);
        }
        first[i] = first[i].min(last[i]);
    }
    (first, last)
}

/// Whether `a` reads exactly the elements an output with `strides` writes.
fn same_element(a: &Access, strides: &[Stride]) -> bool {
    a.offset.iter().all(|(k, _)| *k == 0) && a.strides == strides
}

/// The buffers to compute straight into their variable's storage. A value qualifies when
/// - it is an f32 intermediate written only by loop nests (a kernel's, or a GEMM
///   epilogue's run in registers or as its own kernel), and assigned to one variable
///   that is assigned nothing else;
/// - the variable is read in this schedule (so its storage exists before the run), and
///   no read of it is fetched;
/// - every read of the variable happens before the first writing step, or in the
///   writing nest itself at exactly the element it writes (same offset and strides):
///   each point then loads its old value before storing the new one, whatever order
///   Cranelift gives loads of other points;
/// - no interpreter step, nor a kernel that can fail (an index out of range), runs
///   from the first writing step on, so a run that fails leaves the variables as they
///   were.
pub fn in_place(s: &Schedule, index: &HashMap<ValueId, usize>) -> Vec<(usize, VarId)> {
    let mut out = Vec::new();
    // counts and maps built once, so a wide init op (thousands of assigns) stays linear
    let mut uses: HashMap<VarId, usize> = HashMap::new();
    let mut sources: HashMap<ValueId, usize> = HashMap::new();
    for &(var, value) in &s.assigns {
        *uses.entry(var).or_default() += 1;
        *sources.entry(value).or_default() += 1;
    }
    let mut var_reads: HashMap<VarId, Vec<ValueId>> = HashMap::new();
    for b in &s.buffers {
        if let BufKind::Var(v) = b.kind {
            var_reads.entry(v).or_default().push(b.value);
        }
    }
    let mut first_writer: HashMap<ValueId, usize> = HashMap::new();
    for (t, st) in s.steps.iter().enumerate() {
        for w in st.writes() {
            first_writer.entry(w).or_insert(t);
        }
    }
    for &(var, value) in &s.assigns {
        if uses[&var] != 1 || sources[&value] != 1 {
            continue;
        }
        let Some(&i) = index.get(&value) else { continue };
        if !matches!(s.buffers[i].kind, BufKind::Temp) || s.buffers[i].dtype != DType::F32 {
            continue;
        }
        let Some(reads) = var_reads.get(&var) else { continue };
        if reads.iter().any(|r| s.roots.contains(r)) {
            continue;
        }
        let Some(&first) = first_writer.get(&value) else { continue };
        let ok = s.steps.iter().enumerate().skip(first).all(|(_, st)| {
            let (nests, other): (Vec<&LoopNest>, Vec<ValueId>) = match st {
                // a step that can fail must not follow a write into a variable
                Step::Host(_) => return false,
                Step::Loop(k) if k.nests.iter().any(LoopNest::fallible) => return false,
                Step::MatMul(mm) if mm.out == value => return false,
                Step::Loop(k) => (k.nests.iter().collect(), Vec::new()),
                Step::MatMul(mm) => (mm.epilogue.iter().map(|e| &e.nest).collect(), vec![mm.a.buf, mm.b.buf]),
            };
            if other.iter().any(|b| reads.contains(b)) {
                return false;
            }
            nests.iter().all(|n| match n.outputs.iter().find(|o| o.value == value) {
                Some(o) => {
                    o.mode == OutMode::Store
                        && n.inputs.iter().all(|a| !reads.contains(&a.buf) || same_element(a, &o.strides))
                }
                None => !n.inputs.iter().any(|a| reads.contains(&a.buf)),
            })
        });
        if ok {
            out.push((i, var));
        }
    }
    out
}

//! The argument block a loop kernel reads: one `i64` slot per run-time quantity. The
//! runtime fills it once per feed-shape signature; the kernel gets a pointer to it.

use kiln_passes::schedule::{LoopNest, Node};

/// Slot offsets of one nest's arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NestLayout {
    /// First slot of the space dims (one per dim).
    pub dims: usize,
    /// Per input: slot of its pointer; its strides follow (one per dim).
    pub inputs: Vec<usize>,
    /// Per output: slot of its pointer; strides follow, then its element count.
    pub outputs: Vec<usize>,
    /// First slot of the run-time scalars (f32 bits).
    pub scalars: usize,
    /// Per output: slot of `1/count` for a mean (f32 bits).
    pub means: Vec<Option<usize>>,
    /// Per gather node in node order, then per scatter-add output in output order: slot
    /// of its row stride (elements), then of its row count.
    pub gathers: Vec<usize>,
    /// For a nest that can fail: the slot the kernel sets to 1 when an index is out of
    /// range, followed by the slot of the offending index.
    pub error: Option<usize>,
    /// Slots used by this nest.
    pub len: usize,
}

/// Lays out a nest's arguments starting at slot `base`.
pub fn nest_layout(n: &LoopNest, base: usize) -> NestLayout {
    let r = n.space.len();
    let mut at = base;
    let dims = at;
    at += r;
    let inputs = n
        .inputs
        .iter()
        .map(|_| {
            let s = at;
            at += 1 + r;
            s
        })
        .collect();
    let outputs = n
        .outputs
        .iter()
        .map(|_| {
            let s = at;
            at += 2 + r;
            s
        })
        .collect();
    let scalars = at;
    at += n.scalars.len();
    let means = n
        .outputs
        .iter()
        .map(|o| {
            o.mean_of.as_ref().map(|_| {
                at += 1;
                at - 1
            })
        })
        .collect();
    let indexed = n.nodes.iter().filter(|x| matches!(x, Node::Gather { .. })).count()
        + n.outputs.iter().filter(|o| o.scatter.is_some()).count();
    let gathers = (0..indexed)
        .map(|_| {
            at += 2;
            at - 2
        })
        .collect();
    let error = n.fallible().then(|| {
        at += 2;
        at - 2
    });
    NestLayout { dims, inputs, outputs, scalars, means, gathers, error, len: at - base }
}

/// Layouts of every nest of a kernel, back to back, and the total slot count.
pub fn kernel_layout(nests: &[LoopNest]) -> (Vec<NestLayout>, usize) {
    let mut at = 0;
    let ls = nests
        .iter()
        .map(|n| {
            let l = nest_layout(n, at);
            at += l.len;
            l
        })
        .collect();
    (ls, at)
}
